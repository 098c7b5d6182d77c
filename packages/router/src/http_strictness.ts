// What the router accepts from clients and what it forwards. Node's llhttp parser (strict mode)
// already refuses bare LF line ends, invalid bytes in header names, malformed chunked bodies and
// Content-Length + Transfer-Encoding together; the checks here are the router's own on top of it
// (line limits, duplicate lengths, transfer codings, one Host, the request target's form) and the
// header rewriting both ways.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { plainAddress } from "./trusted_proxies";

/** RFC 9110 §7.6.1 hop-by-hop headers, never forwarded. */
export const HOP_BY_HOP = new Set([
  "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
  "proxy-authenticate", "proxy-authorization",
]);

/** What the router reads of a request, whichever parser read it: node:http's IncomingMessage, or
 * a head read from raw bytes on the relay path (client_connection.ts). */
export interface RequestFacts {
  readonly method?: string;
  /** Origin-form once routed (proxy.ts replaces an absolute-form target's). */
  url?: string;
  readonly rawHeaders: string[];
  readonly headers: { readonly [name: string]: string | string[] | undefined };
  readonly socket: { readonly remoteAddress?: string; readonly localPort?: number };
  /** Whether the peer is a trusted proxy, when already known for its connection. */
  readonly trusted?: boolean;
}

export interface Rejection {
  status: number;
  reason: string;
}

/** What checkRequest reads of a request. */
export type CheckedRequest = Pick<IncomingMessage, "httpVersionMajor" | "method" | "url" | "rawHeaders">;

export function checkRequest(req: CheckedRequest, maxLine: number, maxHeaders: number): Rejection | undefined {
  // llhttp takes "GET /path" followed by a blank line as HTTP/0.9; nothing here speaks it.
  if (req.httpVersionMajor !== 1) return { status: 400, reason: "HTTP version not supported" };
  if ((req.method?.length ?? 0) + (req.url?.length ?? 0) + 10 > maxLine) return { status: 414, reason: "request line too long" };
  const raw = req.rawHeaders;
  // node:http keeps at most maxHeadersCount fields and drops the rest silently: the server's
  // maxHeadersCount is maxHeaders + 1, so one field over the limit is seen here.
  if (raw.length / 2 > maxHeaders) return { status: 431, reason: "too many header fields" };
  let cl: string | undefined;
  let te = false;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (name.length + value.length + 2 > maxLine) return { status: 431, reason: "header line too long" };
    const len = name.length;
    // RFC 9112 §3.2: a request with more than one Host is answered 400 (which one would route?).
    if (len === 4 && name.toLowerCase() === "host" && ++hosts > 1) return { status: 400, reason: "several Host headers" };
    if (len === 14 && name.toLowerCase() === "content-length") {
      const v = value.trim();
      if (!/^[0-9]{1,15}$/.test(v) || (cl !== undefined && cl !== v)) return { status: 400, reason: "invalid or conflicting Content-Length" };
      cl = v;
    } else if (len === 17 && name.toLowerCase() === "transfer-encoding") {
      if (te || value.trim().toLowerCase() !== "chunked") return { status: 400, reason: "unsupported Transfer-Encoding" };
      te = true;
    }
  }
  if (te && cl !== undefined) return { status: 400, reason: "both Content-Length and Transfer-Encoding" };
  return undefined;
}

/** A parsed head as headVerdict reads it (request_head.ts's RequestHead, or llhttp's in the tests). */
export interface HeadFields {
  major: number;
  minor: number;
  method: string;
  url: string;
  rawHeaders: string[];
  upgrade: boolean;
}

const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/** The answer to a head without node:http's server around it: what node:http's server checks (it
 * keeps maxHeaders + 1 fields; an HTTP/1.1 request needs a Host; an Expect other than 100-continue
 * is a 417; upgrades skip both), then checkRequest, then what proxy.ts refuses (a chunked upgrade,
 * a target requestTarget does not take). Undefined: the request is routed. */
export function headVerdict(h: HeadFields, maxLine: number, maxHeaders: number): Rejection | undefined {
  const raw = h.rawHeaders.length > (maxHeaders + 1) * 2 ? h.rawHeaders.slice(0, (maxHeaders + 1) * 2) : h.rawHeaders;
  const field = (name: string): string | undefined => {
    let v: string | undefined;
    for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === name) v = v === undefined ? raw[i + 1] : `${v}, ${raw[i + 1]}`;
    return v;
  };
  if (!h.upgrade && h.major === 1 && h.minor === 1) {
    if (field("host") === undefined) return { status: 400, reason: "missing Host" };
    const expect = field("expect");
    if (expect !== undefined && !CONTINUE.test(expect)) return { status: 417, reason: "Expectation Failed" };
  }
  const rej = checkRequest({ httpVersionMajor: h.major, method: h.method, url: h.url, rawHeaders: raw }, maxLine, maxHeaders);
  if (rej) return rej;
  if (h.upgrade && field("transfer-encoding") !== undefined) return { status: 400, reason: "Upgrade with a chunked body" };
  if (!requestTarget(h.url)) return { status: 400, reason: "invalid request target" };
  return undefined;
}

export interface RequestTarget {
  /** origin-form path and query, what the dyno gets */
  path: string;
  /** the authority of an absolute-form target: it routes and is the dyno's Host (RFC 9112 §3.2.2) */
  authority: string | undefined;
}

const ABSOLUTE_FORM = /^https?:\/\/([^/?#@]+)([/?][^#]*)?$/i;

/** The request target in origin form; an absolute-form target (`GET http://host/path`) gives its
 * authority, which replaces Host as RFC 9112 §3.2.2 says an origin server and a forwarding proxy
 * must (and as nginx's `$host` does). Anything else (userinfo, another scheme, no host,
 * authority-form, a fragment) is undefined: a 400. */
export function requestTarget(url: string): RequestTarget | undefined {
  if (url.startsWith("/")) return { path: url, authority: undefined };
  const m = ABSOLUTE_FORM.exec(url);
  if (!m) return undefined;
  const rest = m[2] ?? "/";
  return { path: rest.startsWith("?") ? "/" + rest : rest, authority: m[1] };
}

const VALID_REQUEST_ID = /^[A-Za-z0-9+=/_-]{20,200}$/;

export function requestIdFor(inbound: string | undefined): string {
  return inbound !== undefined && VALID_REQUEST_ID.test(inbound) ? inbound : randomUUID();
}

export function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (cl !== undefined && cl !== "0");
}

/** Names listed in a Connection header (plus the fixed hop-by-hop set) are dropped. */
function connectionTokens(value: string | undefined): Set<string> | undefined {
  if (!value) return undefined;
  const s = new Set<string>();
  for (const t of value.split(",")) {
    const n = t.trim().toLowerCase();
    if (n && n !== "close" && n !== "keep-alive" && n !== "upgrade") s.add(n);
  }
  return s.size ? s : undefined;
}

/** What the router adds to a request it forwards (an Exchange is one). */
export interface ForwardInfo {
  readonly requestId: string;
  /** The client as the dyno sees it in X-Forwarded-For (see forwardedFor). */
  readonly fwd: string;
  /** The peer is a trusted proxy (the edge): its X-Forwarded-Proto/-Port and X-Request-Start are kept. */
  readonly trusted: boolean;
  /** Host to send instead of the client's (an absolute-form request's authority). */
  readonly authority: string | undefined;
}

/** X-Forwarded-For as the dyno gets it: from a trusted proxy (the edge, which sets it to the
 * address its client connected from) what it says, else the peer's own address. Never appended
 * to: a dyno cannot tell a trustworthy entry from one the client made up. */
export function forwardedFor(req: RequestFacts, trusted: boolean): string {
  const peer = plainAddress(req.socket?.remoteAddress ?? "");
  if (!trusted) return peer;
  const raw = req.rawHeaders;
  let xff: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 15 && raw[i].toLowerCase() === "x-forwarded-for") xff = xff === undefined ? raw[i + 1] : `${xff}, ${raw[i + 1]}`;
  }
  return xff?.trim() ? xff.trim() : peer;
}

/** Outgoing request headers as a flat [name, value, ...] list; `upgrade` keeps Upgrade and sends
 * `Connection: Upgrade` (WebSocket handshake). */
export function forwardRequestHeaders(req: RequestFacts, f: ForwardInfo, upgrade: boolean): string[] {
  const raw = req.rawHeaders;
  const drop = connectionTokens(req.headers.connection as string | undefined);
  const out: string[] = [];
  let via: string | undefined;
  let proto: string | undefined;
  let port: string | undefined;
  let start: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lower = name.toLowerCase();
    const value = raw[i + 1];
    switch (lower) {
      case "x-forwarded-for": continue; // f.fwd is the one value the dyno gets
      case "via": via = via === undefined ? value : `${via}, ${value}`; continue;
      case "x-forwarded-proto": proto ??= value; continue;
      case "x-forwarded-port": port ??= value; continue;
      case "x-request-start": start ??= value; continue;
      case "x-request-id": continue;
      case "expect": continue; // answered by the router (100-continue), never forwarded
      case "host": if (f.authority !== undefined) { out.push(name, f.authority); continue; } break;
      case "content-length": if (out.some((h, j) => j % 2 === 0 && h.toLowerCase() === "content-length")) continue; break;
      default:
        if (HOP_BY_HOP.has(lower)) {
          if (upgrade && lower === "upgrade") break;
          continue;
        }
        if (drop && drop.has(lower)) continue;
    }
    out.push(name, value);
  }
  // Whatever else the client's Connection said (e.g. Varnish's "close" on piped requests), the
  // dyno's connection carries this one exchange and is closed after an answer other than 101.
  if (upgrade) out.push("Connection", "Upgrade");
  out.push("X-Forwarded-For", f.fwd);
  out.push("X-Forwarded-Proto", f.trusted && proto ? proto : "http");
  out.push("X-Forwarded-Port", f.trusted && port ? port : String(req.socket.localPort ?? 0));
  out.push("X-Request-Start", f.trusted && start ? start : String(Date.now()));
  out.push("X-Request-Id", f.requestId);
  out.push("Via", via ? `${via}, 1.1 dynoform` : "1.1 dynoform");
  return out;
}

const latin1 = (b: Buffer | string): string => (typeof b === "string" ? b : b.toString("latin1"));

/** Response headers from the dyno (raw pairs: undici's Buffers or node:http's strings) as a flat
 * list for res.writeHead. */
export function forwardResponseHeaders(raw: ReadonlyArray<Buffer | string>, requestId: string): string[] {
  const out: string[] = [];
  let drop: Set<string> | undefined;
  let sawId = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = latin1(raw[i]);
    const lower = name.toLowerCase();
    if (lower === "connection") {
      drop = connectionTokens(latin1(raw[i + 1]));
      continue;
    }
    if (HOP_BY_HOP.has(lower)) continue;
    if (lower === "x-request-id") sawId = true;
    out.push(name, latin1(raw[i + 1]));
  }
  if (drop) {
    const kept: string[] = [];
    for (let i = 0; i < out.length; i += 2) if (!drop.has(out[i].toLowerCase())) kept.push(out[i], out[i + 1]);
    if (!sawId) kept.push("X-Request-Id", requestId);
    return kept;
  }
  if (!sawId) out.push("X-Request-Id", requestId);
  return out;
}
