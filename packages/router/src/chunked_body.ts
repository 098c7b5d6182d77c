// TEMP STUB
export class ChunkedBody {
  done = false; error: string | undefined = undefined;
  private tail = "";
  scan(b: Uint8Array, from = 0): number {
    const s = this.tail + Buffer.from(b.buffer, b.byteOffset + from, b.length - from).toString("latin1");
    const e = s.indexOf("\r\n0\r\n\r\n") >= 0 ? s.indexOf("\r\n0\r\n\r\n") + 7 : s.startsWith("0\r\n\r\n") ? 5 : -1;
    if (e >= 0) { this.done = true; return e - this.tail.length; }
    this.tail = s.slice(-8); return b.length - from;
  }
}
