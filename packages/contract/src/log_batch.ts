// The compact batch format senders post to the log router (`Content-Type: LOG_BATCH_V2`), one
// record a line, its fields separated by one space:
//
//   <time: microseconds since the epoch> <seq> <source: app|heroku> <app> <dyno> <message>\n
//
// The message runs to the end of the line; a backslash, LF or CR in it travels escaped (`\\`,
// `\n`, `\r`), so a record is always one line. A record never starts with `{`, so a log router
// that predates the format and reads the body as NDJSON rejects every record instead of taking a
// message for a line of its own.
//
// Hand-written rather than JSON because it is the log router's hot path: JSON.parse of every
// batch was about 40 % of its CPU. The decoder works on the body's bytes, decodes only the message
// (and an app or dyno name that differs from the record before), and keeps each record's byte
// range so the store writes what came without serialising it again.
import { ValidationError } from "./errors";
import { checkAppName } from "./names";
import { LOG_DYNO, MAX_MESSAGE_CHARS, type LogLineIn } from "./log_api";

/** The media type of a compact batch; `application/x-ndjson` (one JSON object a line) is the first format. */
export const LOG_BATCH_V2 = "application/vnd.dynoform.log-batch.v2";
export const LOG_BATCH_NDJSON = "application/x-ndjson";
/** The header the log router lists the batch formats it takes in (on every `POST /v1/lines` answer). */
export const ACCEPT_POST_HEADER = "accept-post";

/** Digits of a number field: time in microseconds until the year 2255, seq to 2^53. */
const MAX_DIGITS = 16;
const SP = 0x20;
const LF = 0x0a;
const BACKSLASH = "\\";
const MAX_MESSAGE_BYTES = MAX_MESSAGE_CHARS * 3 + 4;
const NEEDS_ESCAPE = /[\\\n\r]/;

/** One record's text, newline included. `time` (milliseconds) is kept to the microsecond. */
export function encodeLogRecord(l: LogLineIn): string {
  const msg = NEEDS_ESCAPE.test(l.msg) ? escapeMessage(l.msg) : l.msg;
  return `${Math.round(l.time * 1000)} ${l.seq} ${l.source} ${l.app} ${l.dyno} ${msg}\n`;
}

function escapeMessage(msg: string): string {
  return msg.replace(/[\\\n\r]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\\\"));
}

/** `cut`: the text was cut at the decoding limit, where a lone backslash may have lost its letter. */
function unescapeMessage(msg: string, cut: boolean): string {
  return msg.replace(/\\(.?)/gs, (_, c: string) => {
    if (c === "n") return "\n";
    if (c === "r") return "\r";
    if (c === "\\") return "\\";
    if (c === "" && cut) return "";
    throw new ValidationError("bad escape in the message (only \\\\, \\n and \\r)");
  });
}

/** A decoded record and where its text lies in the batch (`end` past its newline). `exact`: the
 * text re-encodes to itself (its message was not cut), so it may be stored as it came. */
export interface DecodedRecord {
  line: LogLineIn;
  start: number;
  end: number;
  exact: boolean;
}

/** The decoder's memory of the names it checked, so a batch's repeated app and dyno are checked once. */
export class RecordNames {
  app = "";
  dyno = "";
}

/** The record on `buf[start, nl)` (`nl` the index of its newline), or a ValidationError naming the field. */
export function decodeLogRecord(buf: Buffer, start: number, nl: number, names: RecordNames = new RecordNames()): DecodedRecord {
  let i = start;
  let sp = fieldEnd(buf, i, nl, "seq");
  const us = digits(buf, i, sp, "time (microseconds since the epoch)");
  i = sp + 1;
  sp = fieldEnd(buf, i, nl, "source");
  const seq = digits(buf, i, sp, "seq");
  i = sp + 1;
  sp = fieldEnd(buf, i, nl, "app");
  const source = sourceOf(buf, i, sp);
  i = sp + 1;
  sp = fieldEnd(buf, i, nl, "dyno");
  const app = nameOf(buf, i, sp, names.app);
  if (app !== names.app) names.app = checkAppName(app);
  i = sp + 1;
  sp = fieldEnd(buf, i, nl, "message");
  const dyno = nameOf(buf, i, sp, names.dyno);
  if (dyno !== names.dyno) {
    if (!LOG_DYNO.test(dyno)) throw new ValidationError(`dyno ${JSON.stringify(dyno)} is invalid (want e.g. web.1, router, api)`);
    names.dyno = dyno;
  }
  i = sp + 1;
  // Only the bytes that can hold the longest kept message are decoded (a UTF-16 unit is at most
  // 3 bytes of UTF-8, an escaped one 2), so a hostile message costs no more than a kept one.
  const cut = nl - i > MAX_MESSAGE_BYTES;
  let msg = buf.toString("utf8", i, cut ? i + MAX_MESSAGE_BYTES : nl);
  if (msg.includes(BACKSLASH)) msg = unescapeMessage(msg, cut);
  const exact = !cut && msg.length <= MAX_MESSAGE_CHARS;
  if (msg.length > MAX_MESSAGE_CHARS) msg = msg.slice(0, MAX_MESSAGE_CHARS);
  return { line: { app, time: us / 1000, seq, source, dyno, msg }, start, end: nl + 1, exact };
}

/** Every record of a batch, in order: `onRecord` for each good one, `onError` (0-based index) for
 * each bad one. A batch whose last record lacks its newline (a body cut short) ends with an error
 * for that record; nothing is ever read past the body. */
export function decodeLogBatch(body: Buffer, onRecord: (r: DecodedRecord) => void, onError: (index: number, message: string) => void): void {
  const names = new RecordNames();
  let index = 0;
  for (let start = 0; start < body.length; index++) {
    const nl = body.indexOf(LF, start);
    if (nl < 0) {
      onError(index, "truncated record: the batch ends without the record's newline");
      return;
    }
    if (nl === start) {
      // An empty line is no record: skipped, not counted.
      start++;
      index--;
      continue;
    }
    try {
      onRecord(decodeLogRecord(body, start, nl, names));
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      onError(index, e.message);
    }
    start = nl + 1;
  }
}

/** The space ending the field at `from` (`next`: the field after it, for the error). */
function fieldEnd(buf: Buffer, from: number, nl: number, next: string): number {
  for (let i = from; i < nl; i++) if (buf[i] === SP) return i;
  throw new ValidationError(`record ends before its ${next} (want: time seq source app dyno message)`);
}

function digits(buf: Buffer, from: number, end: number, what: string): number {
  if (end === from || end - from > MAX_DIGITS) throw new ValidationError(`${what} must be 1 to ${MAX_DIGITS} digits`);
  let n = 0;
  for (let i = from; i < end; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) throw new ValidationError(`${what} must be digits`);
    n = n * 10 + d;
  }
  if (n > Number.MAX_SAFE_INTEGER) throw new ValidationError(`${what} is too large`);
  return n;
}

function sourceOf(buf: Buffer, from: number, end: number): "app" | "heroku" {
  if (end - from === 3 && buf[from] === 0x61 && buf[from + 1] === 0x70 && buf[from + 2] === 0x70) return "app";
  if (end - from === 6 && buf.toString("latin1", from, end) === "heroku") return "heroku";
  throw new ValidationError('source must be "app" or "heroku"');
}

/** A name field; the previous record's string when the bytes are the same (no new string, no new check). */
function nameOf(buf: Buffer, from: number, end: number, previous: string): string {
  if (end - from > 64) throw new ValidationError("an app or dyno name is at most 64 characters");
  if (end - from === previous.length) {
    let same = true;
    for (let i = 0; i < previous.length; i++) {
      if (buf[from + i] !== previous.charCodeAt(i)) {
        same = false;
        break;
      }
    }
    if (same) return previous;
  }
  return buf.toString("latin1", from, end);
}
