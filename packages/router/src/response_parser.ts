// A dyno's HTTP/1.1 response, parsed from the bytes of one keep-alive connection: status line and
// headers, then the body framed by Content-Length, chunked coding or the end of the connection.
// Strict wherever framing is at stake (a misread response would hand one client's bytes to the next
// request on the connection): conflicting or invalid lengths, unknown transfer codings, bare CR/LF,
// control bytes and folded headers are errors, and the connection is not reused after one.

export class BadResponse extends Error {
  readonly code = "UPSTREAM_BAD_RESPONSE";
}

/** Who gets the parts of the response. */
export interface ResponseSink {
  onResponseHead(status: number, statusText: string, headers: string[]): void;
  onResponseBody(chunk: Buffer): void;
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 8 * 1024;
const CRLF = Buffer.from("\r\n");
const CRLFCRLF = Buffer.from("\r\n\r\n");

const HEAD = 0;
const LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_END = 4;
const TRAILERS = 5;
const UNTIL_CLOSE = 6;
const DONE = 7;

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: (.*))?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Anything but HTAB, SP..~ and obs-text, once CR LF line ends are taken out. */
const FORBIDDEN_BYTE = /[^\t\x20-\x7e\x80-\xff]/;
const CHUNK_LINE = /^([0-9a-fA-F]{1,12})[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;
const DIGITS = /^[0-9]{1,15}$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout=(\d+)/i;

function trimSpaces(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

export class ResponseParser {
  private state = HEAD;
  /** Bytes of an unfinished head, chunk-size line or trailer section, kept for the next read. */
  private pending: Buffer | undefined;
  private remaining = 0;
  private headRequest = false;
  private trailerBytes = 0;
  /** The connection may carry another request after this response. */
  keepAlive = true;
  /** The dyno's `Keep-Alive: timeout=N`, in ms (0 = none given). */
  keepAliveHintMs = 0;
  /** Some byte of this response has arrived. */
  started = false;
  /** The body's last piece when it came with the end of a Content-Length body (not given to
   * onResponseBody: the response can then be finished with one call). */
  tail: Buffer | undefined;

  constructor(private readonly sink: ResponseSink) {}

  /** Ready for the response to the next request. */
  reset(headRequest: boolean): void {
    this.state = HEAD;
    this.pending = undefined;
    this.remaining = 0;
    this.headRequest = headRequest;
    this.trailerBytes = 0;
    this.keepAlive = true;
    this.keepAliveHintMs = 0;
    this.started = false;
    this.tail = undefined;
  }

  get done(): boolean {
    return this.state === DONE;
  }

  /** The dyno closed the connection: true when that ends the response (a body without length). */
  endOfInput(): boolean {
    if (this.state === UNTIL_CLOSE) this.state = DONE;
    return this.state === DONE;
  }

  /** Parse what arrived; throws BadResponse. Bytes past the end of the response make the
   * connection unusable (the dyno answered something it was not asked). */
  feed(input: Buffer): void {
    this.started = true;
    let buf = input;
    if (this.pending) {
      buf = Buffer.concat([this.pending, input]);
      this.pending = undefined;
    }
    let i = 0;
    const n = buf.length;
    while (i < n) {
      switch (this.state) {
        case HEAD: {
          const end = buf.indexOf(CRLFCRLF, i);
          if (end < 0) {
            if (n - i > MAX_HEAD_BYTES) throw new BadResponse("response head too large");
            this.pending = buf.subarray(i);
            return;
          }
          if (end - i > MAX_HEAD_BYTES) throw new BadResponse("response head too large");
          this.head(buf.toString("latin1", i, end));
          i = end + 4;
          break;
        }
        case LENGTH: {
          const take = Math.min(this.remaining, n - i);
          const piece = i === 0 && take === n ? buf : buf.subarray(i, i + take);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.state = DONE;
            this.tail = piece;
          } else {
            this.sink.onResponseBody(piece);
          }
          break;
        }
        case CHUNK_SIZE: {
          const nl = buf.indexOf(CRLF, i);
          if (nl < 0) {
            if (n - i > MAX_LINE_BYTES) throw new BadResponse("chunk size line too long");
            this.pending = buf.subarray(i);
            return;
          }
          const m = CHUNK_LINE.exec(buf.toString("latin1", i, nl));
          if (!m) throw new BadResponse("invalid chunk size line");
          this.remaining = parseInt(m[1], 16);
          this.state = this.remaining === 0 ? TRAILERS : CHUNK_DATA;
          i = nl + 2;
          break;
        }
        case CHUNK_DATA: {
          const take = Math.min(this.remaining, n - i);
          this.sink.onResponseBody(buf.subarray(i, i + take));
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = CHUNK_END;
          break;
        }
        case CHUNK_END: {
          if (n - i < 2) {
            this.pending = buf.subarray(i);
            return;
          }
          if (buf[i] !== 13 || buf[i + 1] !== 10) throw new BadResponse("chunk not followed by CRLF");
          i += 2;
          this.state = CHUNK_SIZE;
          break;
        }
        case TRAILERS: {
          // Trailer fields are checked and dropped (the client gets none, as before).
          const nl = buf.indexOf(CRLF, i);
          if (nl < 0) {
            if (n - i > MAX_LINE_BYTES) throw new BadResponse("trailer line too long");
            this.pending = buf.subarray(i);
            return;
          }
          this.trailerBytes += nl - i + 2;
          if (this.trailerBytes > MAX_HEAD_BYTES) throw new BadResponse("trailers too large");
          if (nl > i) this.fieldLine(buf.toString("latin1", i, nl));
          else this.state = DONE;
          i = nl + 2;
          break;
        }
        case UNTIL_CLOSE:
          this.sink.onResponseBody(i === 0 ? buf : buf.subarray(i));
          return;
        default:
          // DONE with bytes left over.
          this.keepAlive = false;
          return;
      }
    }
  }

  private head(text: string): void {
    const lines = text.split("\r\n");
    const m = STATUS_LINE.exec(lines[0]);
    if (!m) throw new BadResponse("invalid status line");
    const status = Number(m[2]);
    const statusText = m[3] ?? "";
    if (FORBIDDEN_BYTE.test(statusText)) throw new BadResponse("invalid status line");
    const headers: string[] = [];
    let length: string | undefined;
    let chunked = false;
    let keepAlive = m[1] === "1";
    for (let k = 1; k < lines.length; k++) {
      const [name, value] = this.fieldLine(lines[k]);
      headers.push(name, value);
      switch (name.length) {
        case 10: {
          const lower = name.toLowerCase();
          if (lower === "connection") {
            const tokens = value.toLowerCase();
            if (/(?:^|,)\s*close\s*(?:,|$)/.test(tokens)) keepAlive = false;
          } else if (lower === "keep-alive") {
            const t = KEEP_ALIVE_TIMEOUT.exec(value);
            if (t) this.keepAliveHintMs = Number(t[1]) * 1000;
          }
          break;
        }
        case 14:
          if (name.toLowerCase() === "content-length") {
            if (!DIGITS.test(value) || (length !== undefined && length !== value)) throw new BadResponse("invalid or conflicting Content-Length");
            length = value;
          }
          break;
        case 17:
          if (name.toLowerCase() === "transfer-encoding") {
            if (chunked || value.toLowerCase() !== "chunked") throw new BadResponse("unsupported Transfer-Encoding");
            chunked = true;
          }
          break;
      }
    }
    if (status < 200) {
      if (status === 101) throw new BadResponse("unexpected protocol switch");
      return; // 100 Continue, 103 Early Hints...: the final response follows
    }
    if (chunked && length !== undefined) throw new BadResponse("both Content-Length and Transfer-Encoding");
    this.keepAlive = keepAlive;
    if (this.headRequest || status === 204 || status === 304) this.state = DONE;
    else if (chunked) this.state = CHUNK_SIZE;
    else if (length !== undefined) {
      this.remaining = Number(length);
      this.state = this.remaining === 0 ? DONE : LENGTH;
    } else {
      this.state = UNTIL_CLOSE;
      this.keepAlive = false;
    }
    this.sink.onResponseHead(status, statusText, headers);
  }

  private fieldLine(line: string): [string, string] {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new BadResponse("invalid header line");
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new BadResponse("invalid header name");
    const value = trimSpaces(line.slice(colon + 1));
    if (FORBIDDEN_BYTE.test(value)) throw new BadResponse("invalid header value");
    return [name, value];
  }
}
