// The end of a chunked body (RFC 9112 7.1) found and checked the way llhttp in strict mode does it, in
// bytes that come in any number of pieces split anywhere. It does not decode: the router relays the
// bytes as they are, and needs only where the body ends (last chunk, trailers, blank line) or that
// it is malformed where llhttp would refuse it. test/response_head.test.ts holds it to llhttp, byte
// offset of the end or of the refusal included.
//
// llhttp's rules, as measured against it:
// - chunk size: hex digits (leading zeros allowed, at most 2^64-1); then CR, or `;` and extensions;
//   no whitespace anywhere in the size line;
// - extensions: `;` then a name of token bytes (may be empty, but not when CR follows the `;`, and
//   not starting with SP), optionally `=` and a value of token bytes or a quoted string (qdtext and
//   quoted-pairs; once a `"` is seen, even within a token value, the value is a quoted string), then
//   `;`, or CR; node:http refuses a size line whose extension names and values (a quoted value with
//   its quotes) pass 16 KiB;
// - CRLF strictly after the size line and after each chunk's data;
// - trailers: header fields with the head's rules (token name, value bytes, no obs-fold); a
//   Content-Length trailer is refused at its colon (the body already has Transfer-Encoding), an empty
//   Transfer-Encoding at the next line; names plus values below 64 KiB (node:http's count starts
//   again after the head);
// - the body ends with the blank line after the trailers.

import { MAX_HEAD_BYTES, TOKEN, VALUE_CHAR, equalsFolded, type ResponseHead } from "./response_head";

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const SEMI = 0x3b;
const EQ = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/** A hex digit's value, or -1. */
const HEX = Int8Array.from({ length: 256 }, (_, c) =>
  c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);
/** qdtext: HTAB, SP, 0x21, 0x23-0x5B, 0x5D-0x7E, obs-text. */
const QDTEXT = Uint8Array.from({ length: 256 }, (_, c) =>
  c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80 ? 1 : 0);
/** What may follow a backslash in a quoted string: HTAB, SP, VCHAR, obs-text. */
const QUOTED_PAIR = Uint8Array.from({ length: 256 }, (_, c) => (c === HTAB || (c >= 0x20 && c <= 0x7e) || c >= 0x80 ? 1 : 0));
/** node:http's limit on one size line's extension names and values (its own, beside llhttp's rules). */
const MAX_EXTENSION_BYTES = 16 * 1024;
const CONTENT_LENGTH = Buffer.from("content-length");
const TRANSFER_ENCODING = Buffer.from("transfer-encoding");
const CONNECTION = Buffer.from("connection");
const PROXY_CONNECTION = Buffer.from("proxy-connection");
const CLOSE = Buffer.from("close");
const CHUNKED = Buffer.from("chunked");
const KEEP_ALIVE = Buffer.from("keep-alive");

const enum State {
  SizeFirst,
  Size,
  ExtStart,
  ExtName,
  ExtValue,
  ExtQuoted,
  ExtPair,
  ExtQuotedEnd,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  LineStart,
  LineLf,
  Name,
  ValueOws,
  Value,
  ValueLf,
  Done,
  Failed,
}

/** Where one chunked body ends, fed the bytes after the head in pieces. */
export class ChunkedBody {
  /** The last chunk, the trailers and the blank line after them are all in. */
  done = false;
  /** Why the body is refused (llhttp's verdict), once it is. */
  error: string | undefined = undefined;
  /** A Connection (or Proxy-Connection) trailer lists `close` / `keep-alive`: llhttp counts them as if
   * they were in the head (see keepAliveAfter). */
  trailerClose = false;
  trailerKeepAlive = false;
  /** The last Transfer-Encoding trailer's last coding is not chunked: llhttp then takes the
   * connection to end with the close (as for such a head). */
  trailerNotChunked = false;
  private state = State.SizeFirst;
  /** Data bytes of the current chunk still to come (inexact beyond 2^53, which no body reaches). */
  private remaining = 0;
  /** Significant hex digits of the current size (more than 16 overflow 2^64-1). */
  private sizeDigits = 0;
  /** Extension name and value bytes of the current size line (node:http refuses more than 16 KiB). */
  private extensionBytes = 0;
  /** Trailer name and value bytes so far (node:http's header count). */
  private trailerBytes = 0;
  /** The trailer name being read: its bytes so far, kept only while it may still be a special one. */
  private nameBytes = 0;
  private readonly name = new Uint8Array(17);
  /** The current trailer is Transfer-Encoding, and whether its value has a byte yet. */
  private coding = false;
  private valueSeen = false;
  private emptyCoding = false;
  /** The current trailer is Connection: how far its current token matches `close` and `keep-alive`
   * (-1: not at all), and whether it is past the token (only SP/HTAB may follow, then a comma). */
  private connection = false;
  private tokenStart = true;
  private tokenEnded = false;
  private closeAt = 0;
  private keepAliveAt = 0;
  /** The current trailer is Transfer-Encoding: how far its current coding matches `chunked` (-1: not
   * at all; SP, not HTAB, may follow a match). */
  private chunkedAt = 0;

  constructor(private readonly maxTrailerBytes = MAX_HEAD_BYTES) {}

  /** Scan `b[from..]`. Returns the number of bytes that belong to the body: all of them unless the body
   * ends inside `b` (then `done` is set), or up to the refused byte (then `error` is set). Once done
   * or refused, takes nothing. */
  scan(b: Uint8Array, from = 0): number {
    const n = b.length;
    let i = from;
    let state = this.state;
    while (i < n) {
      const c = b[i];
      switch (state) {
        case State.SizeFirst:
          if (HEX[c] < 0) return this.fail(i - from, "invalid character in chunk size");
          state = State.Size;
          this.remaining = 0;
          this.sizeDigits = 0;
          this.extensionBytes = 0;
          continue; // the digit is read in Size
        case State.Size: {
          const d = HEX[c];
          if (d >= 0) {
            if ((this.sizeDigits > 0 || d > 0) && ++this.sizeDigits > 16) return this.fail(i - from, "chunk size overflow");
            this.remaining = this.remaining * 16 + d;
          } else if (c === CR) state = State.SizeLf;
          else if (c === SEMI) state = State.ExtStart;
          else return this.fail(i - from, c === LF ? "expected CR after the chunk size" : "invalid character in chunk size");
          break;
        }
        case State.ExtStart:
          if (c === SP || c === CR) return this.fail(i - from, "invalid character in chunk extensions");
          state = State.ExtName;
          continue; // the byte is read as part of a name
        case State.ExtName:
          if (TOKEN[c]) {
            if (++this.extensionBytes > MAX_EXTENSION_BYTES) return this.fail(i - from, "chunk extensions overflow");
            break;
          }
          if (c === EQ) state = State.ExtValue;
          else if (c === SEMI) state = State.ExtStart;
          else if (c === CR) state = State.SizeLf;
          else return this.fail(i - from, c === LF ? "expected CR after a chunk extension name" : "invalid character in a chunk extension name");
          break;
        case State.ExtValue:
          if (TOKEN[c] || c === DQUOTE) {
            if (++this.extensionBytes > MAX_EXTENSION_BYTES) return this.fail(i - from, "chunk extensions overflow");
            if (c === DQUOTE) state = State.ExtQuoted;
            break;
          }
          if (c === SEMI) state = State.ExtStart;
          else if (c === CR) state = State.SizeLf;
          else return this.fail(i - from, c === LF ? "expected CR after a chunk extension value" : "invalid character in a chunk extension value");
          break;
        case State.ExtQuoted:
          if (c === DQUOTE) state = State.ExtQuotedEnd;
          else if (c === BACKSLASH) state = State.ExtPair;
          else if (!QDTEXT[c]) return this.fail(i - from, "invalid character in a chunk extension quoted value");
          if (++this.extensionBytes > MAX_EXTENSION_BYTES) return this.fail(i - from, "chunk extensions overflow");
          break;
        case State.ExtPair:
          if (!QUOTED_PAIR[c]) return this.fail(i - from, "invalid quoted-pair in a chunk extension quoted value");
          if (++this.extensionBytes > MAX_EXTENSION_BYTES) return this.fail(i - from, "chunk extensions overflow");
          state = State.ExtQuoted;
          break;
        case State.ExtQuotedEnd:
          if (c === SEMI) state = State.ExtStart;
          else if (c === CR) state = State.SizeLf;
          else return this.fail(i - from, c === LF ? "expected CR after a chunk extension value" : "invalid character after a chunk extension quoted value");
          break;
        case State.SizeLf:
          if (c !== LF) return this.fail(i - from, "expected LF after the chunk size");
          state = this.remaining === 0 ? State.LineStart : State.Data;
          break;
        case State.Data: {
          // The chunk's data is skipped whole, not looked at.
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) state = State.DataCr;
          continue;
        }
        case State.DataCr:
          if (c !== CR) return this.fail(i - from, c === LF ? "expected CR after chunk data" : "expected CRLF after chunk data");
          state = State.DataLf;
          break;
        case State.DataLf:
          if (c !== LF) return this.fail(i - from, "expected LF after chunk data");
          state = State.SizeFirst;
          break;
        case State.LineStart:
          // A trailer line, or the blank line that ends the body.
          if (this.emptyCoding) return this.fail(i - from, "empty Transfer-Encoding");
          if (c === CR) state = State.LineLf;
          else if (c === LF || c === SP || c === HTAB || !TOKEN[c]) return this.fail(i - from, "invalid trailer field");
          else {
            state = State.Name;
            this.nameBytes = 0;
            continue;
          }
          break;
        case State.LineLf:
          if (c !== LF) return this.fail(i - from, "expected LF after the trailers");
          this.state = State.Done;
          this.done = true;
          return i + 1 - from;
        case State.Name:
          if (c === COLON) {
            if (this.nameBytes === 0) return this.fail(i - from, "empty trailer name");
            if (this.isName(CONTENT_LENGTH)) return this.fail(i - from, "Content-Length trailer with Transfer-Encoding");
            this.coding = this.isName(TRANSFER_ENCODING);
            this.connection = this.isName(CONNECTION) || this.isName(PROXY_CONNECTION);
            this.valueSeen = false;
            this.startToken();
            this.chunkedAt = 0;
            state = State.ValueOws;
            break;
          }
          if (!TOKEN[c]) return this.fail(i - from, "invalid trailer name");
          if (this.nameBytes < this.name.length) this.name[this.nameBytes] = c;
          this.nameBytes++;
          if (++this.trailerBytes >= this.maxTrailerBytes) return this.fail(i - from, "trailer overflow");
          break;
        case State.ValueOws:
          if (c === SP || c === HTAB) break;
          state = State.Value;
          continue;
        case State.Value:
          if (c === CR) {
            if (this.connection) this.endToken();
            if (this.coding) this.trailerNotChunked = this.chunkedAt !== CHUNKED.length;
            state = State.ValueLf;
            break;
          }
          if (!VALUE_CHAR[c]) return this.fail(i - from, c === LF ? "expected CR after a trailer value" : "invalid trailer value byte");
          this.valueSeen = true;
          if (this.connection) this.connectionByte(c);
          else if (this.coding) this.codingByte(c);
          if (++this.trailerBytes >= this.maxTrailerBytes) return this.fail(i - from, "trailer overflow");
          break;
        case State.ValueLf:
          if (c !== LF) return this.fail(i - from, "expected LF after CR");
          this.emptyCoding = this.coding && !this.valueSeen;
          state = State.LineStart;
          break;
        default:
          return 0;
      }
      i++;
    }
    this.state = state;
    return n - from;
  }

  /** One byte of a Connection trailer's value (its leading OWS already skipped): tokens between
   * commas, SP/HTAB around them, compared without case. */
  private connectionByte(c: number): void {
    if (c === 0x2c) {
      this.endToken();
      this.startToken();
    } else if (c === SP || c === HTAB) {
      if (!this.tokenStart) this.tokenEnded = true;
    } else {
      this.tokenStart = false;
      if (this.tokenEnded) this.closeAt = this.keepAliveAt = -1;
      this.closeAt = this.closeAt >= 0 && this.closeAt < CLOSE.length && (c | 0x20) === CLOSE[this.closeAt] ? this.closeAt + 1 : -1;
      this.keepAliveAt = this.keepAliveAt >= 0 && this.keepAliveAt < KEEP_ALIVE.length && (c | 0x20) === KEEP_ALIVE[this.keepAliveAt] ? this.keepAliveAt + 1 : -1;
    }
  }

  /** One byte of a Transfer-Encoding trailer's value (its leading OWS already skipped): the rules of
   * lastCodingChunked. */
  private codingByte(c: number): void {
    const at = this.chunkedAt;
    if (c === 0x2c) {
      this.chunkedAt = 0;
      this.tokenStart = true;
    } else if (this.tokenStart && (c === SP || c === HTAB)) {
      // OWS before a coding
    } else if (at === CHUNKED.length) {
      if (c !== SP) this.chunkedAt = -1;
    } else {
      this.tokenStart = false;
      this.chunkedAt = at >= 0 && (c | 0x20) === CHUNKED[at] ? at + 1 : -1;
    }
  }

  private startToken(): void {
    this.tokenStart = true;
    this.tokenEnded = false;
    this.closeAt = 0;
    this.keepAliveAt = 0;
  }

  private endToken(): void {
    if (this.closeAt === CLOSE.length) this.trailerClose = true;
    if (this.keepAliveAt === KEEP_ALIVE.length) this.trailerKeepAlive = true;
  }

  private isName(lower: Uint8Array): boolean {
    return this.nameBytes === lower.length && equalsFolded(this.name, 0, lower.length, lower);
  }

  private fail(consumed: number, reason: string): number {
    this.state = State.Failed;
    this.error = reason;
    return consumed;
  }
}

/** The connection takes another request after a chunked response whose body is done: the head's
 * verdict with the trailers' Connection tokens added, as llhttp decides it once the message is
 * complete (HTTP/1.1 closes on a `close` trailer; others stay open on a `keep-alive` one), and never
 * after a Transfer-Encoding trailer whose last coding is not chunked. */
export function keepAliveAfter(head: ResponseHead, body: ChunkedBody): boolean {
  if (body.trailerNotChunked) return false;
  return head.major > 0 && head.minor > 0 ? head.keepAlive && !body.trailerClose : head.keepAlive || body.trailerKeepAlive;
}
