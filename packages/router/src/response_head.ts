// A dyno's response head read from raw bytes with the verdicts of llhttp's RESPONSE parser in strict
// mode (what node:http and undici run in the router's Node 24: no lenient flags, 64 KiB of head): the
// same accept/reject decision, the same version, status, reason and header fields, and the same
// framing of what follows the head and keep-alive. test/response_head.test.ts holds it to llhttp
// itself on a large generated corpus. It runs once per response on the raw-socket path, so it walks
// the bytes once with lookup tables and makes a string only per field.
//
// llhttp's rules, as measured against it (see the test for the corpus):
// - empty lines (any CR and LF) before the status line are skipped;
// - status line: `HTTP/`, `RTSP/` or `ICE/` (llhttp takes all three), `d.d` (0.9, 1.0, 1.1 or 2.0),
//   exactly one SP, exactly three digits (000-999, none refused), then CR, or SP and a reason of any
//   bytes but CR and LF (NUL included), then CRLF;
// - header field: token name, `:` with nothing before it, optional SP/HTAB, value bytes HTAB, 0x20-0x7E
//   and 0x80-0xFF, trailing SP/HTAB dropped, CRLF; a line starting with SP/HTAB (obs-fold) is refused;
// - Content-Length: digits only (OWS around), not empty, at most 2^64-1, not twice, never with
//   Transfer-Encoding (refused at the colon of the later of the two); Transfer-Encoding: not empty;
//   unlike a request, a response may have codings after `chunked`: only the last coding of the last
//   Transfer-Encoding field decides (chunked, or the body runs until the connection closes);
// - the reason plus header names and values count against the limit (llhttp refuses at 64 KiB);
// - keep-alive: HTTP/1.1 without a `close` token, others (1.0, 0.9, 2.0) with a `keep-alive` token
//   (Proxy-Connection counts as Connection); never for a body that runs until the close;
// - no body (RFC 9112 6.3): after a 1xx, 204 or 304 whatever their fields say (llhttp's own rule),
//   and after HEAD (its caller's: node:http and undici tell llhttp to skip it). undici 7.30 does not
//   follow llhttp there: it fails a 204 or 304 whose Content-Length is not 0 (a length mismatch), and
//   waits on a 204 with Transfer-Encoding: chunked; node:http ends both at the head, as this does.

/** How the bytes after the head are framed. */
export type ResponseFraming =
  /** Content-Length bytes follow (up to 2^64-1 is taken; inexact beyond 2^53, which no body reaches). */
  | { kind: "length"; length: number }
  /** A chunked body follows (ChunkedBody finds its end). */
  | { kind: "chunked" }
  /** The body runs until the dyno closes the connection. */
  | { kind: "close" }
  /** No body: the answer to HEAD, a 1xx (101 included), 204 or 304. Content-Length: 0 is {length: 0}. */
  | { kind: "none" };

export interface ResponseHead {
  /** Bytes of the head, leading empty lines and the blank line included. */
  headLength: number;
  major: number;
  minor: number;
  status: number;
  reason: string;
  /** [name, value, ...] as sent (latin1), values without surrounding SP/HTAB (as llhttp and undici give them). */
  rawHeaders: string[];
  /** The connection takes another request after this response (llhttp_should_keep_alive given the framing). */
  keepAlive: boolean;
  framing: ResponseFraming;
}

export type ResponseParse = { kind: "incomplete" } | { kind: "error"; reason: string } | ({ kind: "ok" } & ResponseHead);

/** llhttp's limit in node:http and undici: refused once the reason, names and values reach it. */
export const MAX_HEAD_BYTES = 64 * 1024;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 0x3a;
const COMMA = 0x2c;

const table = (test: (c: number) => boolean): Uint8Array => Uint8Array.from({ length: 256 }, (_, c) => (test(c) ? 1 : 0));
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isDigit = (c: number) => c >= 48 && c <= 57;
/** RFC 9110 tchar. */
export const TOKEN = table((c) => isAlpha(c) || isDigit(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));
/** Bytes of a header value. */
export const VALUE_CHAR = table((c) => c === HTAB || (c >= 0x20 && c <= 0x7e) || c >= 0x80);

const INCOMPLETE: ResponseParse = Object.freeze({ kind: "incomplete" });
const refuse = (reason: string): ResponseParse => ({ kind: "error", reason });

/** The largest Content-Length llhttp takes (2^64-1), as ASCII digits. */
const MAX_LENGTH_DIGITS = Buffer.from("18446744073709551615", "latin1");

/** Fields with a meaning for framing or keep-alive (names compared without case). */
const enum Special {
  None,
  ContentLength,
  TransferEncoding,
  Connection,
}
const SPECIAL_NAMES: ReadonlyArray<[Uint8Array, Special]> = [
  [Buffer.from("content-length"), Special.ContentLength],
  [Buffer.from("transfer-encoding"), Special.TransferEncoding],
  [Buffer.from("connection"), Special.Connection],
  [Buffer.from("proxy-connection"), Special.Connection],
];
const CHUNKED = Buffer.from("chunked");
const CLOSE = Buffer.from("close");
const KEEP_ALIVE = Buffer.from("keep-alive");

/** `b[from, to)` is `lower` without case (`lower`: lowercase letters and `-`, which no other byte of a token folds onto). */
export function equalsFolded(b: Uint8Array, from: number, to: number, lower: Uint8Array): boolean {
  if (to - from !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) if ((b[from + k] | 0x20) !== lower[k]) return false;
  return true;
}

function special(b: Uint8Array, from: number, to: number): Special {
  const n = to - from;
  if (n !== 10 && n !== 14 && n !== 16 && n !== 17) return Special.None;
  for (const [name, kind] of SPECIAL_NAMES) if (equalsFolded(b, from, to, name)) return kind;
  return Special.None;
}

/** The last coding of a Transfer-Encoding value `b[from, to)` (to: its CR) is chunked: llhttp allows
 * SP/HTAB before it and SP, not HTAB, after it. */
function lastCodingChunked(b: Uint8Array, from: number, to: number): boolean {
  let s = to;
  while (s > from && b[s - 1] !== COMMA) s--;
  while (s < to && (b[s] === SP || b[s] === HTAB)) s++;
  let e = to;
  while (e > s && b[e - 1] === SP) e--;
  return equalsFolded(b, s, e, CHUNKED);
}

/** Which of `close` and `keep-alive` a Connection value `b[from, to)` lists (bit 1, bit 2). */
function connectionTokens(b: Uint8Array, from: number, to: number): number {
  let found = 0;
  let s = from;
  while (s <= to) {
    let e = s;
    while (e < to && b[e] !== COMMA) e++;
    let ts = s;
    let te = e;
    while (ts < te && (b[ts] === SP || b[ts] === HTAB)) ts++;
    while (te > ts && (b[te - 1] === SP || b[te - 1] === HTAB)) te--;
    if (equalsFolded(b, ts, te, CLOSE)) found |= 1;
    else if (equalsFolded(b, ts, te, KEEP_ALIVE)) found |= 2;
    s = e + 1;
  }
  return found;
}

/** Content-Length digits `b[from, to)` (no sign, no OWS) exceed 2^64-1. */
function lengthOverflows(b: Uint8Array, from: number, to: number): boolean {
  while (from < to && b[from] === 48) from++;
  const n = to - from;
  if (n !== 20) return n > 20;
  for (let k = 0; k < 20; k++) if (b[from + k] !== MAX_LENGTH_DIGITS[k]) return b[from + k] > MAX_LENGTH_DIGITS[k];
  return false;
}

/** Parse the response head at the start of `b` (the bytes the dyno sent for this request). `method`:
 * the request's (HEAD has no body; CONNECT is refused: the router does not tunnel on this path).
 * `maxHeadBytes`: llhttp's header limit (the reason, names and values must stay below it). */
export function parseResponseHead(b: Uint8Array, method: string, maxHeadBytes = MAX_HEAD_BYTES): ResponseParse {
  if (method === "CONNECT") return refuse("CONNECT is not supported");
  // latin1Slice: toString("latin1", a, b) without its argument checks, once per field.
  const buf = (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)) as Buffer & { latin1Slice(from: number, to: number): string };
  const n = b.length;
  let i = 0;
  while (i < n && (b[i] === CR || b[i] === LF)) i++;

  // Protocol and version: HTTP/d.d (or RTSP/, ICE/), one of 0.9, 1.0, 1.1, 2.0, then one SP.
  const p0 = i < n ? b[i] : -1;
  const proto = p0 === 0x48 ? "HTTP/" : p0 === 0x52 ? "RTSP/" : p0 === 0x49 ? "ICE/" : undefined;
  if (p0 < 0) return INCOMPLETE;
  if (proto === undefined) return refuse("expected HTTP/");
  for (let k = 0; k < proto.length; k++, i++) {
    if (i >= n) return INCOMPLETE;
    if (b[i] !== proto.charCodeAt(k)) return refuse("expected HTTP/");
  }
  if (i >= n) return INCOMPLETE;
  const mj = b[i++];
  if (!isDigit(mj)) return refuse("invalid major version");
  if (i >= n) return INCOMPLETE;
  if (b[i++] !== 0x2e) return refuse("expected a dot in the version");
  if (i >= n) return INCOMPLETE;
  const mn = b[i++];
  if (!isDigit(mn)) return refuse("invalid minor version");
  const major = mj - 48;
  const minor = mn - 48;
  const v = major * 10 + minor;
  if (v !== 9 && v !== 10 && v !== 11 && v !== 20) return refuse("invalid HTTP version");
  if (i >= n) return INCOMPLETE;
  if (b[i++] !== SP) return refuse("expected a space after the version");

  // Status: exactly three digits, then CR or SP and the reason.
  let status = 0;
  for (let k = 0; k < 3; k++, i++) {
    if (i >= n) return INCOMPLETE;
    const c = b[i];
    if (!isDigit(c)) return refuse("invalid status code");
    status = status * 10 + c - 48;
  }
  if (i >= n) return INCOMPLETE;
  let rs = i;
  if (b[i] === SP) rs = ++i;
  else if (b[i] !== CR) return refuse("invalid status code");
  while (i < n && b[i] !== CR && b[i] !== LF) i++;
  // The reason counts against the limit as it comes (node:http counts what llhttp has read).
  let counted = i - rs;
  if (counted >= maxHeadBytes) return refuse("header overflow");
  if (i >= n) return INCOMPLETE;
  if (b[i] === LF) return refuse("expected CR after the status line");
  const reason = buf.latin1Slice(rs, i);
  if (++i >= n) return INCOMPLETE;
  if (b[i++] !== LF) return refuse("expected LF after CR");

  // Header fields.
  const rawHeaders: string[] = [];
  let hasLength = false;
  let length = 0;
  let hasCoding = false;
  let chunked = false;
  let connection = 0;
  /** A Content-Length or Transfer-Encoding field just ended empty: refused when the next line begins. */
  let emptyField: string | undefined;
  for (;;) {
    if (i >= n) return INCOMPLETE;
    let c = b[i];
    if (emptyField !== undefined) return refuse(emptyField);
    if (c === CR) {
      if (++i >= n) return INCOMPLETE;
      if (b[i] !== LF) return refuse("expected LF after CR");
      i++;
      break;
    }
    // A continuation line (obs-fold) is refused at its first byte.
    if (c === SP || c === HTAB) return refuse("obs-fold or whitespace before a header name");
    const ns = i;
    while (i < n && (c = b[i]) !== COLON) {
      if (!TOKEN[c]) return refuse("invalid header name");
      i++;
    }
    if (counted + (i - ns) >= maxHeadBytes) return refuse("header overflow");
    if (i >= n) return INCOMPLETE;
    if (i === ns) return refuse("empty header name");
    const ne = i++;
    counted += ne - ns;
    const kind = special(b, ns, ne);
    // llhttp refuses Content-Length with Transfer-Encoding at the colon of the later one.
    if (kind === Special.ContentLength && hasCoding) return refuse("Content-Length with Transfer-Encoding");
    if (kind === Special.TransferEncoding && hasLength) return refuse("Transfer-Encoding with Content-Length");
    while (i < n && ((c = b[i]) === SP || c === HTAB)) i++;
    const vs = i;
    // A second Content-Length is refused at its first byte.
    if (kind === Special.ContentLength && hasLength && i < n && c !== CR && c !== LF) return refuse("duplicate Content-Length");
    if (kind === Special.ContentLength) {
      // Digits, then OWS only; refused at the first byte that makes it bad (or too big).
      let digitsEnd = -1;
      while (i < n && (c = b[i]) !== CR) {
        if (isDigit(c)) {
          if (digitsEnd >= 0) return refuse("invalid Content-Length");
          if (i - vs >= 19 && lengthOverflows(b, vs, i + 1)) return refuse("Content-Length overflow");
          length = length * 10 + c - 48;
        } else if (c === SP || c === HTAB) {
          if (digitsEnd < 0) digitsEnd = i;
        } else return refuse("invalid Content-Length");
        i++;
      }
    } else {
      while (i < n && (c = b[i]) !== CR) {
        if (!VALUE_CHAR[c]) return refuse(c === LF ? "expected CR after a header value" : "invalid header value byte");
        i++;
      }
    }
    if (counted + (i - vs) >= maxHeadBytes) return refuse("header overflow");
    if (i >= n) return INCOMPLETE;
    counted += i - vs;
    if (++i >= n) return INCOMPLETE;
    if (b[i] !== LF) return refuse("expected LF after CR");
    const vr = i - 1;
    let ve = vr;
    while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HTAB)) ve--;
    rawHeaders.push(buf.latin1Slice(ns, ne), buf.latin1Slice(vs, ve));
    const empty = vr === vs;
    if (kind === Special.ContentLength) {
      if (empty) emptyField = "empty Content-Length";
      hasLength = true;
    } else if (kind === Special.TransferEncoding) {
      if (empty) emptyField = "empty Transfer-Encoding";
      hasCoding = true;
      chunked = lastCodingChunked(b, vs, vr);
    } else if (kind === Special.Connection) connection |= connectionTokens(b, vs, ve);
    i++;
  }

  let framing: ResponseFraming;
  if (method === "HEAD" || (status >= 100 && status < 200) || status === 204 || status === 304) framing = { kind: "none" };
  else if (hasCoding) framing = chunked ? { kind: "chunked" } : { kind: "close" };
  else if (hasLength) framing = { kind: "length", length };
  else framing = { kind: "close" };
  const keepAlive = framing.kind !== "close" && (major > 0 && minor > 0 ? (connection & 1) === 0 : (connection & 2) !== 0);
  return { kind: "ok", headLength: i, major, minor, status, reason, rawHeaders, keepAlive, framing };
}
