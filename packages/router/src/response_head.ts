// TEMP STUB (replaced by the helper's parser)
export type ResponseFraming = { kind: "length"; length: number } | { kind: "chunked" } | { kind: "close" } | { kind: "none" };
export interface ResponseHead { headLength: number; major: number; minor: number; status: number; reason: string; rawHeaders: string[]; keepAlive: boolean; framing: ResponseFraming }
export type ResponseParse = { kind: "incomplete" } | { kind: "error"; reason: string } | ({ kind: "ok" } & ResponseHead);
export function parseResponseHead(b: Uint8Array, method: string): ResponseParse {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  const e = buf.indexOf("\r\n\r\n");
  if (e < 0) return { kind: "incomplete" };
  const lines = buf.toString("latin1", 0, e).split("\r\n");
  const m = /^HTTP\/(\d)\.(\d) (\d{3}) ?(.*)$/.exec(lines[0]);
  if (!m) return { kind: "error", reason: "bad status line" };
  const raw: string[] = [];
  let cl: number | undefined; let chunked = false; let close = false;
  for (const l of lines.slice(1)) { const c = l.indexOf(":"); const n = l.slice(0, c); const v = l.slice(c + 1).trim(); raw.push(n, v);
    if (/^content-length$/i.test(n)) cl = Number(v); if (/^transfer-encoding$/i.test(n)) chunked = /chunked$/i.test(v); if (/^connection$/i.test(n) && /close/i.test(v)) close = true; }
  const status = Number(m[3]);
  const framing: ResponseFraming = method === "HEAD" || status < 200 || status === 204 || status === 304 ? { kind: "none" } : chunked ? { kind: "chunked" } : cl !== undefined ? { kind: "length", length: cl } : { kind: "close" };
  return { kind: "ok", headLength: e + 4, major: Number(m[1]), minor: Number(m[2]), status, reason: m[4], rawHeaders: raw, keepAlive: !close && framing.kind !== "close", framing };
}
