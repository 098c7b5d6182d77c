// The shapes a stored line leaves the log router in: Heroku's `heroku logs` line, and the RFC 5424
// syslog messages drains get (RFC 6587 octet-counted framing over TCP and in logplex-1 bodies).
import type { LogSource } from "@dynoform/contract";

/** A line as the log router keeps it. `time` is in milliseconds with a microsecond fraction;
 * `stream` and `seq` order one sender's lines that share a time. */
export interface StoredLine {
  app: string;
  time: number;
  seq: number;
  stream: string;
  source: LogSource;
  dyno: string;
  msg: string;
  /** Where the line's record (log_batch.ts) lies in the compact batch it came in (`recordEnd` 0:
   * nowhere): what the store writes to disk, so it is not encoded again. Offsets, not a slice, so
   * no line keeps its batch's body alive. */
  recordStart?: number;
  recordEnd?: number;
}

/** Heroku's timestamp: `2026-11-30T01:02:03.456789+00:00` (microseconds, explicit UTC offset). */
export function herokuTimestamp(ms: number): string {
  const us = Math.round(ms * 1000);
  const whole = Math.floor(us / 1000);
  // A batch's lines mostly share their millisecond: its formatted part is kept.
  if (whole !== lastMs) {
    lastMs = whole;
    lastStamp = new Date(whole).toISOString().slice(0, 23);
  }
  return lastStamp + MICROS[us - whole * 1000] + "+00:00";
}
let lastMs = NaN;
let lastStamp = "";
/** "000" to "999": the microseconds within a millisecond, without formatting a number a line. */
const MICROS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));

/** `2026-11-30T01:02:03.456789+00:00 app[web.1]: message` (no newline). */
export function herokuLine(l: StoredLine): string {
  return `${herokuTimestamp(l.time)} ${l.source}[${l.dyno}]: ${l.msg}`;
}

/** Total order of an app's lines: time, then sender stream, then the stream's sequence number. */
export function compareLines(a: StoredLine, b: StoredLine): number {
  return a.time - b.time || (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0) || a.seq - b.seq;
}

/** Logplex's priorities: local7.info for app lines, local3.info for the router, syslog.notice for the platform. */
function priority(l: StoredLine): number {
  if (l.source === "app") return 190;
  return l.dyno === "router" ? 158 : 45;
}

// Syslog header fields are printable ASCII without spaces (RFC 5424 PRINTUSASCII); a newline in a
// message would end it early for line-based receivers, so messages travel on one line.
const oneLine = (s: string) => (s.includes("\n") || s.includes("\r") ? s.replace(/\r?\n|\r/g, " ") : s);

/** RFC 5424: `<190>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`, the app as HOSTNAME. */
export function syslogMessage(l: StoredLine): string {
  return `<${priority(l)}>1 ${herokuTimestamp(l.time)} ${l.app} ${l.source} ${l.dyno} - - ${oneLine(l.msg)}`;
}

/** Heroku's logplex-1 body line: `<190>1 TIMESTAMP host app web.1 - message` (Heroku's fields, as its drains get them). */
export function logplexMessage(l: StoredLine): string {
  return `<${priority(l)}>1 ${herokuTimestamp(l.time)} host ${l.source} ${l.dyno} - ${oneLine(l.msg)}`;
}

/** RFC 6587 octet counting: `LENGTH SP MESSAGE`, LENGTH in bytes. */
export function octetCounted(message: string): string {
  return `${Buffer.byteLength(message)} ${message}`;
}

/** A syslog drain's write: the lines' RFC 5424 messages, octet-counted, in one buffer. This is the
 * drain's hot path, so the fields after the timestamp are reused while a run of lines shares them,
 * and each message is counted as one byte a character first; a single scan of the result then
 * tells whether that held (every character ASCII: then the bytes are a plain copy of the string),
 * and only when not are they counted and encoded again. */
export function syslogFrames(lines: readonly StoredLine[]): Buffer {
  const parts: string[] = [];
  let app = "";
  let source = "";
  let dyno = "";
  let pri = "";
  let tail = "";
  let ms = NaN;
  let head = "";
  for (const l of lines) {
    if (l.app !== app || l.source !== source || l.dyno !== dyno) {
      ({ app, source, dyno } = l);
      pri = `<${priority(l)}>1 `;
      tail = `+00:00 ${app} ${source} ${dyno} - - `;
      ms = NaN;
    }
    // The timestamp in two parts: to the millisecond (with the PRI before it, kept while lines share
    // both), then the microseconds.
    const us = Math.round(l.time * 1000);
    const whole = Math.floor(us / 1000);
    if (whole !== ms) {
      ms = whole;
      head = pri + new Date(whole).toISOString().slice(0, 23);
    }
    const msg = oneLine(l.msg);
    parts.push(String(head.length + 3 + tail.length + msg.length), " ", head, MICROS[us - whole * 1000], tail, msg);
  }
  const out = parts.join("");
  if (Buffer.byteLength(out) === out.length) return Buffer.from(out, "latin1");
  return Buffer.from(lines.map((l) => octetCounted(syslogMessage(l))).join(""));
}

/** Heroku's own line when lines were dropped: `Error L10 (output buffer overflow): N messages dropped since TIMESTAMP.` */
export function overflowMessage(dropped: number, sinceMs: number): string {
  return `Error L10 (output buffer overflow): ${dropped} messages dropped since ${herokuTimestamp(sinceMs)}.`;
}
