// Each app's recent lines: a bounded ring in memory, mirrored on disk so a restarted log router
// still has them. On disk an app has two segments, `<app>.log` (appended to) and `<app>.0.log`
// (the one before): once the current one holds linesPerApp lines and
// segmentBytes it becomes the previous one (a rename, replacing the older) and a new one starts.
// So the newest linesPerApp lines are always on disk, nothing is ever rewritten, and an app's files
// hold at most two segments of max(linesPerApp lines, segmentBytes) plus one batch each. (A rename
// costs about as much as writing a few thousand lines, so a busy app's segments are megabytes, not
// 1,500 lines.) Writes are synchronous: a batch is acknowledged only once its lines are in the
// kernel's page cache, so a crash of the log router loses nothing it acknowledged (a crash of the
// host may).
//
// A segment holds the lines as records of the compact batch format (log_batch.ts), each append
// starting with `@<stream> <bytes of its records>` on a line of its own: a record that came in a
// compact batch is written as it came, never encoded again, and an append cut short (a crash of
// the host mid-write) is known by its length and skipped whole, never read as shorter lines. Lines of the first format (`{"s": stream, "l": <line's JSON>}`),
// and the first format's files (`<app>.ndjson`, `<app>.0.ndjson`, gone at the app's next rotation),
// are still read.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writevSync } from "node:fs";
import { join } from "node:path";
import { APP_NAME, decodeLogRecord, encodeLogRecord, parseLogLine, RecordNames } from "@dynoform/contract";
import { BoundedQueue } from "./bounded_queue";
import type { StoredLine } from "./line_format";

interface AppLog {
  ring: BoundedQueue<StoredLine>;
  fd: number;
  /** lines and bytes (UTF-16 units, near enough) in the current segment */
  fileLines: number;
  fileBytes: number;
}


/** Sender streams remembered for deduplication (a stream is one sender process run). */
const MAX_STREAMS = 10_000;


export class AppStore {
  private readonly apps = new Map<string, AppLog>();
  private readonly dir: string;
  /** Highest sequence number stored per sender stream: a resent batch is not stored twice. */
  private readonly lastSeq = new Map<string, number>();

  constructor(dataDir: string, private readonly linesPerApp: number, private readonly segmentBytes: number) {
    this.dir = join(dataDir, "apps");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Reads every app's segments back (after a restart). */
  load(): void {
    const names = new Set(readdirSync(this.dir).map((f) => f.replace(/(\.0)?\.(ndjson|log)$/, "")));
    for (const app of names) {
      if (!APP_NAME.test(app)) continue;
      const files = [legacyFile(this.dir, app, true), legacyFile(this.dir, app, false), this.file(app, true), this.file(app, false)];
      const lines = files.flatMap((f) => readLines(app, f));
      const ring = new BoundedQueue<StoredLine>(this.linesPerApp);
      for (const l of lines) {
        ring.push(l);
        this.noteSeq(l.stream, l.seq);
      }
      const current = this.file(app, false);
      const fileBytes = existsSync(current) ? statSync(current).size : 0;
      this.apps.set(app, { ring, fd: openSync(current, "a", 0o600), fileLines: readLines(app, current).length, fileBytes });
    }
  }

  /** True when (stream, seq) is already stored: a sender resending what was stored before its ack got lost. */
  isDuplicate(stream: string, seq: number): boolean {
    if (!stream) return false;
    const last = this.lastSeq.get(stream);
    return last !== undefined && seq <= last;
  }

  /** Stores one app's lines of one sender stream in one write (`body`: the compact batch the
   * lines' records lie in, copied as they came, a run of adjacent ones at once). */
  append(app: string, stream: string, lines: StoredLine[], body?: Buffer): void {
    if (lines.length === 0) return;
    let log = this.apps.get(app);
    if (!log) this.apps.set(app, (log = { ring: new BoundedQueue<StoredLine>(this.linesPerApp), fd: openSync(this.file(app, false), "a", 0o600), fileLines: 0, fileBytes: 0 }));
    const chunks: Buffer[] = [];
    let maxSeq = -1;
    let runStart = 0;
    let runEnd = 0;
    for (const l of lines) {
      log.ring.push(l);
      if (l.seq > maxSeq) maxSeq = l.seq;
      const end = l.recordEnd ?? 0;
      if (body && end > 0 && l.recordStart === runEnd && runEnd > 0) runEnd = end;
      else {
        if (runEnd > 0) chunks.push(body!.subarray(runStart, runEnd));
        runStart = runEnd = 0;
        if (body && end > 0) [runStart, runEnd] = [l.recordStart ?? 0, end];
        else chunks.push(Buffer.from(encodeLogRecord(l)));
      }
      // Its offsets mean nothing once the batch is written.
      l.recordEnd = 0;
    }
    if (runEnd > 0) chunks.push(body!.subarray(runStart, runEnd));
    if (stream) this.noteSeq(stream, maxSeq);
    let length = 0;
    for (const c of chunks) length += c.length;
    // The marker starts on a line of its own even after a torn write (an empty line is skipped).
    const marker = Buffer.from(`\n@${stream} ${length}\n`);
    // One write of the pieces where they lie (the batch's runs of records), not copied together first.
    writeAll(log.fd, [marker, ...chunks]);
    log.fileLines += lines.length;
    log.fileBytes += marker.length + length;
    if (log.fileLines >= this.linesPerApp && log.fileBytes >= this.segmentBytes) this.rotate(app, log);
  }

  /** The app's kept lines, oldest first (arrival order; readers sort). */
  recent(app: string): StoredLine[] {
    return this.apps.get(app)?.ring.toArray() ?? [];
  }

  /** Forgets an app (destroyed) and its files. */
  remove(app: string): void {
    const log = this.apps.get(app);
    if (log) closeSync(log.fd);
    this.apps.delete(app);
    for (const previous of [false, true]) {
      rmSync(this.file(app, previous), { force: true });
      rmSync(legacyFile(this.dir, app, previous), { force: true });
    }
  }

  close(): void {
    for (const log of this.apps.values()) closeSync(log.fd);
    this.apps.clear();
  }

  private noteSeq(stream: string, seq: number): void {
    if (!stream) return;
    const last = this.lastSeq.get(stream);
    if (last !== undefined && seq <= last) return;
    // Kept in order of last use: every sender run is a new stream, so the least recently heard go first.
    this.lastSeq.delete(stream);
    this.lastSeq.set(stream, seq);
    if (this.lastSeq.size > MAX_STREAMS) this.lastSeq.delete(this.lastSeq.keys().next().value!);
  }

  private file(app: string, previous: boolean): string {
    return join(this.dir, previous ? `${app}.0.log` : `${app}.log`);
  }

  /** The current segment becomes the previous one; a crash between the two steps leaves only the previous one, which load reads. */
  private rotate(app: string, log: AppLog): void {
    closeSync(log.fd);
    renameSync(this.file(app, false), this.file(app, true));
    // The first format's files hold lines older than the previous segment now.
    rmSync(legacyFile(this.dir, app, false), { force: true });
    rmSync(legacyFile(this.dir, app, true), { force: true });
    log.fd = openSync(this.file(app, false), "a", 0o600);
    log.fileLines = 0;
    log.fileBytes = 0;
  }
}

/** Writes every byte of `buffers` in order (writev, again from where a short write stopped). */
function writeAll(fd: number, buffers: Buffer[]): void {
  let rest = buffers;
  for (;;) {
    let n = writevSync(fd, rest);
    let i = 0;
    while (i < rest.length && n >= rest[i].length) n -= rest[i++].length;
    if (i === rest.length) return;
    rest = [rest[i].subarray(n), ...rest.slice(i + 1)];
  }
}

/** The first format's segment files. */
function legacyFile(dir: string, app: string, previous: boolean): string {
  return join(dir, previous ? `${app}.0.ndjson` : `${app}.ndjson`);
}

/** A segment's lines; a torn last line (a crash mid-write) and foreign lines are skipped. */
function readLines(app: string, path: string): StoredLine[] {
  if (!existsSync(path)) return [];
  const buf = readFileSync(path);
  const out: StoredLine[] = [];
  const names = new RecordNames();
  let stream = "";
  for (let start = 0; start < buf.length; ) {
    let nl = buf.indexOf(0x0a, start);
    if (nl < 0) nl = buf.length;
    try {
      const first = buf[start];
      if (first === 0x40 /* @ */) {
        const marker = buf.toString("utf8", start + 1, nl);
        const sp = marker.lastIndexOf(" ");
        stream = marker.slice(0, sp);
        // An append cut short (it does not end where its marker says, with a newline, just before
        // the next append's or the file's end) is skipped whole, up to the next append.
        const end = nl + 1 + Number(marker.slice(sp + 1));
        if (sp < 0 || !(end <= buf.length && buf[end - 1] === 0x0a && (end === buf.length || buf[end] === 0x0a))) {
          const next = buf.indexOf("\n@", nl);
          start = next < 0 ? buf.length : next + 1;
          continue;
        }
      } else if (first === 0x7b /* { */) {
        const d = JSON.parse(buf.toString("utf8", start, nl)) as { s?: unknown; l?: unknown };
        const l = typeof d.s === "string" ? parseLogLine(d.l) : undefined;
        if (l?.app === app) out.push({ ...l, stream: d.s as string });
      } else if (nl > start && nl < buf.length) {
        const { line } = decodeLogRecord(buf, start, nl, names);
        if (line.app === app) out.push({ ...line, stream });
      }
    } catch {
      /* a torn or foreign line */
    }
    start = nl + 1;
  }
  return out;
}
