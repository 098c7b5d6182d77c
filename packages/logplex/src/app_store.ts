// Each app's recent lines: a bounded ring in memory, mirrored by an append log on disk
// (`<dataDir>/apps/<app>.ndjson`) so a restarted log router still has them. The log is rewritten
// from the ring once it holds twice the ring's lines, so an app's file never exceeds
// 2 x linesPerApp lines (each message at most MAX_MESSAGE_CHARS). Writes are synchronous: a batch
// is acknowledged only once its lines are in the kernel's page cache, so a crash of the log router
// loses nothing it acknowledged (a crash of the host may).
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { APP_NAME, type LogSource } from "@dynoform/contract";
import { BoundedQueue } from "./bounded_queue";
import type { StoredLine } from "./line_format";

interface AppLog {
  ring: BoundedQueue<StoredLine>;
  fd: number;
  /** lines in the file now */
  fileLines: number;
}

/** A line on disk: short keys, the app is the file's name. */
interface DiskLine {
  t: number;
  q: number;
  s: string;
  o: LogSource;
  d: string;
  m: string;
}

const toDisk = (l: StoredLine): string => JSON.stringify({ t: l.time, q: l.seq, s: l.stream, o: l.source, d: l.dyno, m: l.msg } as DiskLine) + "\n";

export class AppStore {
  private readonly apps = new Map<string, AppLog>();
  private readonly dir: string;
  /** Highest sequence number stored per sender stream: a resent batch is not stored twice. */
  private readonly lastSeq = new Map<string, number>();

  constructor(dataDir: string, private readonly linesPerApp: number) {
    this.dir = join(dataDir, "apps");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Reads every app's log back (after a restart) and compacts it. */
  load(): void {
    for (const f of readdirSync(this.dir)) {
      const app = f.replace(/\.ndjson$/, "");
      if (!f.endsWith(".ndjson") || !APP_NAME.test(app)) continue;
      const log = this.open(app, readLines(app, join(this.dir, f)));
      for (const l of log.ring.toArray()) this.noteSeq(l);
    }
  }

  /** True when (stream, seq) is already stored: a sender resending what was stored before its ack got lost. */
  isDuplicate(stream: string, seq: number): boolean {
    if (!stream) return false;
    const last = this.lastSeq.get(stream);
    return last !== undefined && seq <= last;
  }

  /** Stores one batch's lines (each app's in one write). */
  append(lines: StoredLine[]): void {
    const byApp = new Map<string, StoredLine[]>();
    for (const l of lines) {
      let list = byApp.get(l.app);
      if (!list) byApp.set(l.app, (list = []));
      list.push(l);
      this.noteSeq(l);
    }
    for (const [app, list] of byApp) {
      const log = this.apps.get(app) ?? this.open(app, []);
      for (const l of list) log.ring.push(l);
      writeSync(log.fd, list.map(toDisk).join(""));
      log.fileLines += list.length;
      if (log.fileLines >= 2 * this.linesPerApp) this.compact(app, log);
    }
  }

  /** The app's kept lines, oldest first (arrival order; readers sort). */
  recent(app: string): StoredLine[] {
    return this.apps.get(app)?.ring.toArray() ?? [];
  }

  /** Forgets an app (destroyed) and its file. */
  remove(app: string): void {
    const log = this.apps.get(app);
    if (log) closeSync(log.fd);
    this.apps.delete(app);
    rmSync(this.file(app), { force: true });
  }

  close(): void {
    for (const log of this.apps.values()) closeSync(log.fd);
    this.apps.clear();
  }

  private noteSeq(l: StoredLine): void {
    if (!l.stream) return;
    const last = this.lastSeq.get(l.stream);
    if (last === undefined || l.seq > last) this.lastSeq.set(l.stream, l.seq);
  }

  private file(app: string): string {
    return join(this.dir, `${app}.ndjson`);
  }

  private open(app: string, lines: StoredLine[]): AppLog {
    const ring = new BoundedQueue<StoredLine>(this.linesPerApp);
    for (const l of lines) ring.push(l);
    const log: AppLog = { ring, fd: -1, fileLines: 0 };
    this.rewrite(app, log);
    this.apps.set(app, log);
    return log;
  }

  private compact(app: string, log: AppLog): void {
    closeSync(log.fd);
    this.rewrite(app, log);
  }

  /** The file becomes the ring's lines (written aside, then renamed over: a crash leaves one whole file). */
  private rewrite(app: string, log: AppLog): void {
    const lines = log.ring.toArray();
    const tmp = this.file(app) + ".tmp";
    writeFileSync(tmp, lines.map(toDisk).join(""), { mode: 0o600 });
    renameSync(tmp, this.file(app));
    log.fd = openSync(this.file(app), "a");
    log.fileLines = lines.length;
  }
}

/** An app's file; a torn last line (a crash mid-write) and foreign lines are skipped. */
function readLines(app: string, path: string): StoredLine[] {
  if (!existsSync(path)) return [];
  const out: StoredLine[] = [];
  for (const text of readFileSync(path, "utf8").split("\n")) {
    if (!text) continue;
    try {
      const d = JSON.parse(text) as DiskLine;
      if (typeof d.t !== "number" || typeof d.q !== "number" || typeof d.s !== "string" || (d.o !== "app" && d.o !== "heroku") || typeof d.d !== "string" || typeof d.m !== "string") continue;
      out.push({ app, time: d.t, seq: d.q, stream: d.s, source: d.o, dyno: d.d, msg: d.m });
    } catch {
      /* a torn line */
    }
  }
  return out;
}
