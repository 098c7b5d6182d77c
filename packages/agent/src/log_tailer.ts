// Follows one dyno's output file (stdout+stderr appended by the dyno, O_APPEND) and emits lines.
// A file is used instead of a pipe so dynos survive an agent restart. The file is truncated once
// it has been read past maxBytes (writers use O_APPEND, so they continue at the new end).
import * as fs from "node:fs";

const MAX_LINE = 10_000;

export class LogTailer {
  private fd: number | undefined;
  private offset = 0;
  private partial = "";
  private timer: NodeJS.Timeout | undefined;
  private readonly buf = Buffer.alloc(64 * 1024);

  constructor(
    private readonly file: string,
    private readonly onLine: (line: string) => void,
    private readonly opts: { pollMs: number; fromEnd: boolean; maxBytes?: number },
  ) {}

  start(): void {
    try {
      this.fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o640);
      if (this.opts.fromEnd) this.offset = fs.fstatSync(this.fd).size;
    } catch {
      this.fd = undefined;
    }
    this.timer = setInterval(() => this.poll(), this.opts.pollMs);
  }

  /** Read everything available now. */
  poll(): void {
    if (this.fd === undefined) return;
    try {
      let size = fs.fstatSync(this.fd).size;
      if (size < this.offset) this.offset = 0; // truncated by someone else
      while (this.offset < size) {
        const n = fs.readSync(this.fd, this.buf, 0, Math.min(this.buf.length, size - this.offset), this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.consume(this.buf.toString("utf8", 0, n));
        size = Math.max(size, this.offset);
      }
      if (this.offset > (this.opts.maxBytes ?? 8 << 20)) {
        fs.ftruncateSync(this.fd, 0);
        this.offset = 0;
      }
    } catch {
      /* file vanished: nothing to read */
    }
  }

  private consume(text: string): void {
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop() ?? "";
    for (const p of parts) this.emit(p);
    while (this.partial.length > MAX_LINE) {
      this.emit(this.partial.slice(0, MAX_LINE));
      this.partial = this.partial.slice(MAX_LINE);
    }
  }

  private emit(line: string): void {
    this.onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
  }

  /** Final read, emit an unterminated last line, close. */
  stop(flush = true): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (flush) {
      this.poll();
      if (this.partial) this.emit(this.partial);
      this.partial = "";
    }
    if (this.fd !== undefined) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* closed */
      }
    }
    this.fd = undefined;
  }
}
