// A request head read from raw bytes with the verdicts of llhttp in strict mode (the parser node:http
// runs in the router's Node 24, no lenient flags, 64 KiB of head): the same accept/reject decision,
// the same method, target, version and header fields, and the same framing of what follows the head.
// test/request_head.test.ts holds it to llhttp itself on a large generated corpus and the hostile
// probe's cases, so a hot path may parse heads with it instead of node:http. It is not on the request
// path yet (proxy.ts still gets heads from node:http).
//
// llhttp's rules, as measured against it (see the test for the corpus):
// - empty lines (any CR and LF) before the request line are skipped;
// - method: one of node:http's METHODS, exactly (case-sensitive), then one or more spaces;
// - target: `*`, origin-form (`/` then bytes 0x21-0x7E), or `scheme://authority[/path|?query]` with
//   llhttp's authority bytes; then one or more spaces and `HTTP/d.d` (0.9, 1.0, 1.1 or 2.0; `RTSP/`
//   and `ICE/` are taken as HTTP too, see readProtocol) and CRLF; CRLF right after the target is
//   HTTP/0.9 (headers still follow; any method);
// - header field: token name, `:` with nothing before it, optional SP/HTAB, value bytes HTAB, 0x20-0x7E
//   and 0x80-0xFF, trailing SP/HTAB dropped, CRLF; a line starting with SP/HTAB (obs-fold) is refused;
// - Content-Length: digits only (OWS around), not empty, at most 2^64-1, not twice, never with
//   Transfer-Encoding; Transfer-Encoding: not empty, nothing after a `chunked` coding; a request
//   whose last coding is not `chunked` is refused;
// - url plus header names and values at most 65535 bytes;
// - upgrade: CONNECT, or a non-empty Upgrade field with `upgrade` among Connection's tokens
//   (Proxy-Connection counts as Connection);
// - keep-alive: HTTP/1.1 without a `close` token, others with a `keep-alive` token.

import type { HeadFields } from "./http_strictness";

/** How the bytes after the head are framed. */
export type Framing =
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  /** Raw bytes from here on (node:http's "upgrade" event: CONNECT, or Upgrade + Connection: upgrade). */
  | { kind: "upgrade" };

/** The fields headVerdict reads (rawHeaders: names and values as sent, latin1, values without
 * surrounding SP/HTAB), and what framing needs beside them. */
export interface RequestHead extends HeadFields {
  /** Bytes of the head, leading empty lines and the blank line included. */
  headLength: number;
  /** The connection stays open after this exchange (llhttp_should_keep_alive): HTTP/1.1 unless
   * Connection says close; anything else only when it says keep-alive. */
  keepAlive: boolean;
  framing: Framing;
}

export type HeadParse =
  | { kind: "incomplete" }
  | { kind: "error"; status: number; reason: string }
  | ({ kind: "ok" } & RequestHead);

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
/** node:http's METHODS (llhttp's HTTP methods): what an `HTTP/x.y` request line may carry. */
const HTTP_METHODS = new Set([
  "ACL", "BIND", "CHECKOUT", "CONNECT", "COPY", "DELETE", "GET", "HEAD", "LINK", "LOCK", "M-SEARCH", "MERGE",
  "MKACTIVITY", "MKCALENDAR", "MKCOL", "MOVE", "NOTIFY", "OPTIONS", "PATCH", "POST", "PROPFIND", "PROPPATCH",
  "PURGE", "PUT", "QUERY", "REBIND", "REPORT", "SEARCH", "SOURCE", "SUBSCRIBE", "TRACE", "UNBIND", "UNLINK",
  "UNLOCK", "UNSUBSCRIBE",
]);
/** What an `RTSP/x.y` request line may carry (llhttp reads those too, and node:http passes them on). */
const RTSP_METHODS = new Set(["OPTIONS", "GET", "POST", "DESCRIBE", "ANNOUNCE", "SETUP", "PLAY", "PAUSE", "TEARDOWN",
  "GET_PARAMETER", "SET_PARAMETER", "REDIRECT", "RECORD", "FLUSH"]);
/** Every method llhttp knows (PRI is refused later: it only starts an HTTP/2 preface). */
const ALL_METHODS = [...HTTP_METHODS, ...RTSP_METHODS, "PRI"];
const METHOD_SET = new Set(ALL_METHODS);
const MAX_METHOD_LENGTH = Math.max(...ALL_METHODS.map((m) => m.length));
const MAX_HEAD_FIELD_BYTES = 65535;
/** What follows `PRI * HTTP/2.0` CRLF in HTTP/2's connection preface. */
const H2_PREFACE_REST = "\r\nSM\r\n\r\n";
const MAX_CONTENT_LENGTH = 2n ** 64n - 1n;

const table = (test: (c: number) => boolean): Uint8Array => Uint8Array.from({ length: 256 }, (_, c) => (test(c) ? 1 : 0));
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isDigit = (c: number) => c >= 48 && c <= 57;
/** RFC 9110 tchar. */
const TOKEN = table((c) => isAlpha(c) || isDigit(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));
/** Bytes of a path, query or fragment. */
const URL_CHAR = table((c) => c >= 0x21 && c <= 0x7e);
/** Bytes of an absolute-form target's authority (llhttp's; `/`, `?` end it). */
const AUTHORITY = table((c) => isAlpha(c) || isDigit(c) || "!$%&'()*+,-.:;=@[]_~".includes(String.fromCharCode(c)));
/** Bytes of a header value. */
const VALUE_CHAR = table((c) => c === HTAB || (c >= 0x20 && c <= 0x7e) || c >= 0x80);

class Refused {
  constructor(readonly status: number, readonly reason: string) {}
}
class Incomplete {}
const INCOMPLETE = new Incomplete();

const refuse = (reason: string, status = 400): never => {
  throw new Refused(status, reason);
};

/** Parse the head at the start of `b` (a connection's next request). */
export function parseRequestHead(b: Uint8Array): HeadParse {
  try {
    return readHead(b);
  } catch (e) {
    if (e === INCOMPLETE) return { kind: "incomplete" };
    if (e instanceof Refused) return { kind: "error", status: e.status, reason: e.reason };
    throw e;
  }
}

function readHead(b: Uint8Array): { kind: "ok" } & RequestHead {
  const n = b.length;
  const at = (i: number): number => {
    if (i >= n) throw INCOMPLETE;
    return b[i];
  };
  const buf = (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length)) as Buffer & { latin1Slice(from: number, to: number): string };
  const latin1 = (from: number, to: number): string => buf.latin1Slice(from, to);
  let i = 0;
  while (at(i) === CR || at(i) === LF) i++;

  // Method: a known one, then spaces.
  const ms = i;
  // The common case first: a whole known method and its space. Otherwise byte by byte, refusing at
  // the first byte no method starts with (so a cut-short head waits only while it may be one).
  const sp = b.indexOf(SP, ms);
  if (sp < 0 || sp - ms > MAX_METHOD_LENGTH || !METHOD_SET.has(latin1(ms, sp))) {
    while (at(i) !== SP) {
      const sofar = latin1(ms, i + 1);
      if (!ALL_METHODS.some((m) => m.startsWith(sofar))) refuse("invalid method");
      i++;
    }
  } else i = sp;
  const method = latin1(ms, i);
  if (!METHOD_SET.has(method)) refuse("invalid method");
  while (at(i) === SP) i++;

  // Target.
  const us = i;
  i = readTarget(i, method === "CONNECT", at);
  const url = latin1(us, i);
  let fieldBytes = url.length;
  if (fieldBytes > MAX_HEAD_FIELD_BYTES) refuse("header overflow", 431);

  // Version: spaces then HTTP/d.d CRLF, or CRLF at once (HTTP/0.9).
  let major = 0;
  let minor = 9;
  const versioned = at(i) === SP;
  if (versioned) {
    while (at(i) === SP) i++;
    i = readProtocol(i, method, at);
    const mj = at(i);
    if (!isDigit(mj)) refuse("invalid version");
    if (at(i + 1) !== 0x2e) refuse("invalid version");
    const mn = at(i + 2);
    if (!isDigit(mn)) refuse("invalid version");
    major = mj - 48;
    minor = mn - 48;
    const v = major * 10 + minor;
    if (v !== 9 && v !== 10 && v !== 11 && v !== 20) refuse("invalid HTTP version");
    i += 3;
  }
  // llhttp ends an HTTP/0.9 line (no version) with a bare LF too, a versioned one only with CRLF.
  if (!versioned && at(i) === LF) i += 1;
  else if (at(i) !== CR || at(i + 1) !== LF) refuse("expected CRLF after the request line");
  else i += 2;
  // PRI with a version starts HTTP/2's connection preface: llhttp reads the rest of it, then stops
  // (refused here).
  if (method === "PRI" && versioned) {
    for (let k = 0; k < H2_PREFACE_REST.length; k++) if (at(i + k) !== H2_PREFACE_REST.charCodeAt(k)) refuse("expected the HTTP/2 connection preface");
    refuse("HTTP/2 connection preface");
  }

  // Header fields.
  const rawHeaders: string[] = [];
  let contentLength: bigint | undefined;
  let transferEncoding = false;
  let chunked = false;
  let upgradeField = false;
  let connectionUpgrade = false;
  let connectionClose = false;
  let connectionKeepAlive = false;
  for (;;) {
    let c = at(i);
    if (c === CR) {
      if (at(i + 1) !== LF) refuse("expected LF after CR");
      i += 2;
      break;
    }
    if (c === SP || c === HTAB) refuse("obs-fold or whitespace before a header name");
    const ns = i;
    while ((c = at(i)) !== 0x3a) {
      if (!TOKEN[c]) refuse("invalid header name");
      i++;
    }
    if (i === ns) refuse("empty header name");
    const name = latin1(ns, i);
    i++;
    // llhttp refuses a bad Content-Length or Transfer-Encoding at the first byte that makes it bad,
    // before the line ends: so does this (a request cut short there is refused, not waited for).
    // Only the names the framing reads are lowered (the others need no copy).
    const n = name.length;
    const lower = n === 14 || n === 17 || n === 10 || n === 16 || n === 7 ? name.toLowerCase() : "";
    const isLength = lower === "content-length";
    const isCoding = lower === "transfer-encoding";
    if (isLength && contentLength !== undefined) refuse("duplicate Content-Length");
    if (isLength && transferEncoding) refuse("Content-Length with Transfer-Encoding");
    if (isCoding && contentLength !== undefined) refuse("Transfer-Encoding with Content-Length");
    // A coding after chunked (in a later field too) is refused.
    if (isCoding && chunked) refuse("Transfer-Encoding coding after chunked");
    while ((c = at(i)) === SP || c === HTAB) i++;
    const vs = i;
    let digitsEnd = -1; // Content-Length: where its digits ended (OWS may follow, digits may not)
    let codingStart = vs; // Transfer-Encoding: where the current coding starts
    while ((c = at(i)) !== CR) {
      if (!VALUE_CHAR[c]) refuse("invalid header value byte");
      if (isLength) {
        if (isDigit(c)) {
          if (digitsEnd >= 0) refuse("invalid Content-Length");
          if (i - vs >= 19 && BigInt(latin1(vs, i + 1)) > MAX_CONTENT_LENGTH) refuse("Content-Length overflow");
        } else if (c === SP || c === HTAB) {
          if (digitsEnd < 0) digitsEnd = i;
        } else refuse("invalid Content-Length");
      } else if (isCoding && c === 0x2c) {
        if (isChunked(latin1(codingStart, i))) refuse("Transfer-Encoding coding after chunked");
        codingStart = i + 1;
      }
      i++;
    }
    if (at(i + 1) !== LF) refuse("expected LF after CR");
    let ve = i;
    while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HTAB)) ve--;
    fieldBytes += name.length + (i - vs);
    if (fieldBytes > MAX_HEAD_FIELD_BYTES) refuse("header overflow", 431);
    const value = latin1(vs, ve);
    rawHeaders.push(name, value);
    const empty = i === vs;
    if (isLength && !empty) contentLength = BigInt(value);
    else if (isCoding) {
      transferEncoding = true;
      chunked = isChunked(latin1(codingStart, i));
    } else if (lower === "connection" || lower === "proxy-connection") {
      if (hasToken(value, "upgrade")) connectionUpgrade = true;
      if (hasToken(value, "close")) connectionClose = true;
      if (hasToken(value, "keep-alive")) connectionKeepAlive = true;
    } else if (lower === "upgrade" && value !== "") upgradeField = true;
    i += 2;
    // A continuation line (obs-fold) is refused once it is seen; an empty length or coding once
    // the next line has begun (as llhttp does).
    if (at(i) === SP || at(i) === HTAB) refuse("obs-fold");
    if (empty && isLength) refuse("empty Content-Length");
    if (empty && isCoding) refuse("empty Transfer-Encoding");
  }
  const upgrade = method === "CONNECT" || (upgradeField && connectionUpgrade);
  let framing: Framing;
  if (upgrade) framing = { kind: "upgrade" };
  else if (transferEncoding) {
    if (!chunked) refuse("Transfer-Encoding without chunked last");
    framing = { kind: "chunked" };
  } else framing = { kind: "length", length: contentLength === undefined ? 0 : Number(contentLength) };
  const keepAlive = major > 0 && minor > 0 ? !connectionClose : connectionKeepAlive;
  return { kind: "ok", headLength: i, major, minor, method, url, rawHeaders, upgrade, keepAlive, framing };
}

/** The end of the request target starting at `i` (the space, CR or LF after it). */
function readTarget(i: number, connect: boolean, at: (i: number) => number): number {
  const c0 = at(i);
  if (c0 === 0x2f || c0 === 0x2a) return readPath(i, at); // origin-form, or "*" (and whatever follows it)
  if (connect) {
    // CONNECT's authority-form, as llhttp reads it: authority bytes, then perhaps a path or query.
    i = readAuthority(i, at);
    const c = at(i);
    return c === 0x2f || c === 0x3f ? readPath(i, at) : i;
  }
  if (!isAlpha(c0)) refuse("invalid request target");
  // scheme "://" authority [path]
  while (isAlpha(at(i))) i++;
  if (at(i) !== 0x3a || at(i + 1) !== 0x2f || at(i + 2) !== 0x2f) refuse("invalid request target");
  i = readAuthority(i + 3, at);
  const c = at(i);
  return c === 0x2f || c === 0x3f ? readPath(i, at) : i;
}

function readAuthority(i: number, at: (i: number) => number): number {
  let c: number;
  while ((c = at(i)) !== SP && c !== CR && c !== LF && c !== 0x2f && c !== 0x3f) {
    if (!AUTHORITY[c]) refuse("invalid request target");
    i++;
  }
  return i;
}

function readPath(i: number, at: (i: number) => number): number {
  let c: number;
  while ((c = at(i)) !== SP && c !== CR && c !== LF) {
    if (!URL_CHAR[c]) refuse("invalid request target");
    i++;
  }
  return i;
}

/** The protocol name before the version: `HTTP/`, or llhttp's others (`RTSP/` for RTSP's methods
 * and GET, POST, OPTIONS; `ICE/` for SOURCE), which node:http passes on as HTTP. The method is
 * checked against the protocol once its name is read, before the slash, as llhttp does. */
function readProtocol(i: number, method: string, at: (i: number) => number): number {
  const first = at(i);
  const p = first === 0x48 ? "HTTP/" : first === 0x52 ? "RTSP/" : first === 0x49 ? "ICE/" : refuse("expected HTTP/");
  const ok = p === "HTTP/" ? HTTP_METHODS.has(method) || method === "PRI" : p === "RTSP/" ? RTSP_METHODS.has(method) : method === "SOURCE";
  for (let k = 1; k < p.length - 1; k++) if (at(i + k) !== p.charCodeAt(k)) refuse("expected HTTP/");
  if (!ok) refuse(`method ${method} not allowed with ${p}`);
  if (at(i + p.length - 1) !== 0x2f) refuse("expected HTTP/");
  return i + p.length;
}

/** One transfer coding (between commas) is chunked: llhttp allows spaces after it, not a tab. */
function isChunked(coding: string): boolean {
  return coding.replace(/^[ \t]+/, "").replace(/ +$/, "").toLowerCase() === "chunked";
}

function hasToken(v: string, token: string): boolean {
  for (const t of v.split(",")) if (t.trim().toLowerCase() === token) return true;
  return false;
}
