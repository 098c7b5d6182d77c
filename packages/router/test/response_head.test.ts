// Differential test of response_head.ts and chunked_body.ts against llhttp's RESPONSE parser in the
// router's own Node (test/llhttp_response_oracle.cjs). Response heads: nginx-, express-, puma- and
// gunicorn-like ones, the same with random bytes inserted, replaced or deleted, and built-up hostile
// ones (status lines, versions, header casing and whitespace, obs-fold, Content-Length/Transfer-
// Encoding combinations, duplicates, bare LF and CR, NULs and other control bytes, over-long lines,
// cut short), each after one of the methods the router sends: the decision (ok, refused, waiting for
// more) must be the same, and for ok also the head's length, version, status, reason, header
// fields, framing and keep-alive. Chunked bodies (valid ones with extensions and trailers, and
// mutated ones): each fed to ChunkedBody in random pieces must end at llhttp's end of the message, or
// be refused at the byte llhttp refuses, or wait as llhttp does.
import { ChunkedBody, keepAliveAfter } from "../src/chunked_body";
import { parseResponseHead, type ResponseFraming } from "../src/response_head";
import { mulberry32, randomTools, runOracle as runReference, sameFraming, type Random } from "./llhttp_reference";

const HEADS = 12_000;
const BODIES = 2_500;
/** RESPONSE_HEAD_SEED: another corpus (to look for differences beyond the fixed one). */
const SEED = Number(process.env.RESPONSE_HEAD_SEED ?? 0x5e5b0d);

const REASONS: Record<number, string> = { 100: "Continue", 101: "Switching Protocols", 103: "Early Hints", 200: "OK", 201: "Created", 204: "No Content",
  206: "Partial Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
  422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable" };
const STATUSES = Object.keys(REASONS).map(Number);
const METHODS = ["GET", "GET", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "HEAD", "OPTIONS"];
const DATE = "Mon, 30 Nov 2026 10:31:55 GMT";

/** Response heads from a seeded generator (with the method of the request each answers). */
function generateHeads(count: number, t: Random): Array<[Buffer, string]> {
  const { r, chance, pick, int, fromSet, casing, mutate } = t;
  const status = () => (chance(0.6) ? 200 : pick(STATUSES));
  const length = () => String(pick([0, int(1, 100), int(100, 100_000)]));
  /** A head such as a dyno's server sends: all valid, each server's habits. */
  const plausible = (): string => {
    const s = status();
    const v = chance(0.92) ? "1.1" : "1.0";
    const lines = [`HTTP/${v} ${s} ${chance(0.95) ? REASONS[s] : pick(["", "OK", "Whatever"])}`];
    const add = (n: string, value: string) => lines.push(`${n}:${chance(0.9) ? " " : pick(["", "  ", "\t"])}${value}${chance(0.95) ? "" : pick([" ", "\t", "  "])}`);
    const framing = r();
    const cl = () => add(pick(["Content-Length", "content-length"]), length());
    const te = () => add(pick(["Transfer-Encoding", "transfer-encoding"]), pick(["chunked", "chunked", "Chunked", "gzip, chunked"]));
    switch (pick(["nginx", "express", "puma", "gunicorn", "other"])) {
      case "nginx":
        add("Server", "nginx/1.24.0");
        add("Date", DATE);
        add("Content-Type", "text/html; charset=utf-8");
        if (framing < 0.6) cl();
        else if (framing < 0.9) te();
        add("Connection", pick(["keep-alive", "close"]));
        if (chance(0.3)) add("ETag", '"6745c0a3-267"');
        if (chance(0.3)) add("Last-Modified", DATE);
        break;
      case "express":
        add("X-Powered-By", "Express");
        add("Content-Type", "application/json; charset=utf-8");
        if (framing < 0.7) cl();
        else if (framing < 0.95) te();
        add("ETag", `W/"${fromSet("0123456789abcdef", 2)}-${fromSet("0123456789abcdef", 27)}"`);
        add("Date", DATE);
        add("Connection", pick(["keep-alive", "close"]));
        if (chance(0.7)) add("Keep-Alive", "timeout=5");
        break;
      case "puma":
        add(pick(["content-type", "Content-Type"]), "text/html; charset=utf-8");
        if (chance(0.5)) add("vary", "Accept");
        add("x-request-id", "6f0c2a9e-1b2c-4d5e-8f90-0123456789ab");
        add("x-runtime", "0.004211");
        if (chance(0.5)) add("set-cookie", "_app_session=abc%3D%3D--1234; path=/; httponly; samesite=lax");
        if (framing < 0.5) cl();
        else if (framing < 0.9) te();
        if (v === "1.0" || chance(0.2)) add("Connection", pick(["close", "keep-alive", "Keep-Alive"]));
        break;
      case "gunicorn":
        add("Server", "gunicorn");
        add("Date", DATE);
        add("Connection", pick(["close", "keep-alive"]));
        if (framing < 0.8) cl();
        else if (framing < 0.9) te();
        add("Content-Type", "text/html; charset=utf-8");
        break;
      default:
        for (let f = int(0, 6); f > 0; f--) add(pick(["Cache-Control", "X-Frame-Options", "Vary", "Location", "Strict-Transport-Security", "Link", "Via"]), fromSet("abcdefXYZ0123 ,;=/\"'()-_.:<>\xe9", int(0, 40)));
        if (framing < 0.5) cl();
        else if (framing < 0.7) te();
        else if (framing < 0.75) add("Transfer-Encoding", pick(["gzip", "identity", "chunked, gzip"]));
        if (s === 101 || chance(0.05)) {
          add("Upgrade", "websocket");
          add("Connection", "Upgrade");
        }
    }
    return lines.join("\r\n") + "\r\n\r\n";
  };
  const statusLine = (): string => {
    const proto = chance(0.9) ? "HTTP/" : pick(["http/", "HTTPS/", "RTSP/", "ICE/", "HTTP", "HTP/", "", "HTTP/ "]);
    const v = chance(0.85) ? "1.1" : pick(["1.0", "0.9", "2.0", "1.2", "3.0", "01.1", "1", "1.10", "a.1", "1.", ""]);
    const code = chance(0.85) ? String(status()) : pick(["000", "099", "999", "20", "2000", "2x0", "", "-200", " 200", "200 ", "0200"]);
    const sep = chance(0.9) ? " " : pick(["", "  ", "\t"]);
    const reason = chance(0.85) ? (REASONS[Number(code)] ?? "OK") : pick(["", " ", "  OK  ", "O\x00K", "O\tK", "\x7f\x80\xff", "a".repeat(int(100, 66_000)), "OK\r", "OK\n"]);
    return proto + v + sep + code + (chance(0.9) ? " " + reason : pick(["", " ", "\t" + reason]));
  };
  const eol = () => (chance(0.97) ? "\r\n" : pick(["\n", "\r", "\r\r\n", " \r\n", "\n\r"]));
  const valueFor = (name: string): string => {
    switch (name.toLowerCase()) {
      case "content-length":
        return pick(["0", "5", "10", "100000", "05", " 5", "5 ", "+5", "-1", "5,5", "5, 6", "", "1e3", "99999999999999999999", "18446744073709551615",
          "18446744073709551616", "018446744073709551615", "0x5", "5 5", "\t5\t", "1234567890123456", "123456789012345"]);
      case "transfer-encoding":
        return pick(["chunked", "chunked", "Chunked", "CHUNKED", " chunked", "chunked ", "gzip, chunked", "chunked, gzip", "xchunked", "chunked\x0b", "identity", "",
          "gzip", "chunked,", "chunked;q=1", ",chunked", "chunked , chunked", "gzip,chunked", "chunked\t", "gzip,\tchunked", "gzip ,  chunked  "]);
      case "connection":
      case "proxy-connection":
        return pick(["keep-alive", "close", "Close", "KEEP-ALIVE", "upgrade", "keep-alive, Upgrade", "close, keep-alive", "keep-alive , close", " close ", "closed", "close;",
          "x close", "close x", "", ",close", "close,", "keep-alive,close", "\tclose", "keep-alive\t", "close\t,x", "Upgrade"]);
      case "upgrade":
        return pick(["websocket", "h2c", "", "WebSocket"]);
      default:
        return chance(0.9) ? fromSet("abcdefXYZ0123 ,;=/\"'()-_.:", int(0, 30))
          : pick(["a".repeat(8200), "v\xe9", "a\tb", "a\x00b", "a\x7fb", "a\x0bb", "a\rb", "a\nb", "\xff\xfe", "a".repeat(int(60_000, 66_000))]);
    }
  };
  const NAMES = ["Content-Length", "Transfer-Encoding", "Connection", "Proxy-Connection", "Upgrade", "Content-Type", "Server", "Date", "Set-Cookie", "X-Request-Id"];
  const field = (): string => {
    const base = chance(0.85) ? pick(NAMES) : fromSet("abcXYZ-_0!#$%&'*+.^`|~", int(1, 12));
    let name = casing(base);
    if (chance(0.04)) name = mutate(name, ["\x00", " ", "\t", ":", "\x7f", "\x80", "@", "("]);
    const sep = chance(0.92) ? ": " : pick([":", ":  ", ":\t", " : ", " :", ":\x0b", "\t:"]);
    let line = name + sep + valueFor(base) + eol();
    if (chance(0.02)) line += pick([" folded", "\tfolded", " "]) + eol();
    return line;
  };
  const hostile = (): string => {
    const lead = chance(0.97) ? "" : pick(["\r\n", "\n", "\r", "\r\n\r\n"]);
    let fields = "";
    const u = r();
    const nFields = u < 0.05 ? 0 : u < 0.97 ? int(1, 7) : pick([100, 150]);
    for (let f = 0; f < nFields; f++) fields += nFields > 20 && chance(0.9) ? `X-H${f}: v\r\n` : field();
    if (chance(0.01)) fields += Array.from({ length: 9 }, (_, f) => `X-Big${f}: ${"b".repeat(7500)}\r\n`).join("");
    return lead + statusLine() + eol() + fields + (chance(0.97) ? "\r\n" : pick(["\n", "\r", ""]));
  };
  const out: Array<[Buffer, string]> = [];
  // At llhttp's limit (64 KiB of reason, names and values) and either side of it, whole and cut short.
  for (let d = -2; d <= 2; d++) {
    const reason = "OK";
    out.push([Buffer.from(`HTTP/1.1 200 ${reason}\r\nX: ${"a".repeat(65_536 - reason.length - 1 + d)}\r\n\r\n`, "latin1"), "GET"]);
    out.push([Buffer.from(`HTTP/1.1 200 ${reason}\r\nX: ${"a".repeat(65_536 - reason.length - 1 + d)}`, "latin1"), "GET"]);
    out.push([Buffer.from(`HTTP/1.1 200 ${reason}\r\nX: ${"a".repeat(65_536 - reason.length - 3 + d)}  \r\n\r\n`, "latin1"), "GET"]);
    out.push([Buffer.from(`HTTP/1.1 200 ${"r".repeat(65_536 + d)}\r\n\r\n`, "latin1"), "GET"]);
    out.push([Buffer.from(`HTTP/1.1 200 ${"r".repeat(65_536 - 1 + d)}\r\nX: a\r\n\r\n`, "latin1"), "GET"]);
    out.push([Buffer.from(`HTTP/1.1 200 OK\r\n${"N".repeat(65_536 - 2 + d)}: \r\n\r\n`, "latin1"), "GET"]);
    out.push([Buffer.from(`HTTP/1.1 200 OK\r\n${"N".repeat(65_536 - 2 + d)}`, "latin1"), "GET"]);
  }
  while (out.length < count) {
    const kind = r();
    let head = kind < 0.35 ? plausible() : kind < 0.55 ? mutate(plausible(), [" ", "\t", "\r", "\n", ":", ",", "\x00", "0", "9", ";"]) : hostile();
    if (chance(0.04)) head = head.slice(0, int(0, head.length));
    if (chance(0.1)) head += pick(["hello", "5\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n"]);
    out.push([Buffer.from(head, "latin1"), pick(METHODS)]);
  }
  return out;
}

/** Chunked bodies: valid ones (sizes in any case with leading zeros, extensions, trailers), the same
 * mutated, and hostile pieces. */
function generateBodies(count: number, t: Random): Buffer[] {
  const { r, chance, pick, int, fromSet, casing, mutate } = t;
  const TOKEN = "abcXYZ019!#$%&'*+-.^_`|~";
  const extension = (): string => {
    if (chance(0.85)) {
      const name = fromSet(TOKEN, int(1, 8));
      const u = r();
      if (u < 0.3) return `;${name}`;
      if (u < 0.6) return `;${name}=${fromSet(TOKEN, int(0, 8))}`;
      return `;${name}="${fromSet('abc XYZ\t!#[]~\xe9\\"', int(0, 10)).replace(/\\"?$/, "").replace(/(\\)|(")/g, "\\$1$2")}"`;
    }
    return pick([";", "; a", ";a =b", ";a= b", ";=b", ";a=", ";a;b", ";;a", ";a=\"b\"c", ";a=\"\x01\"", ";a=\"\\\x01\"", ";a=\"\\\x7f\"", ";a=\"\\\xff\"", ";a=\"\\\t\"", ";a=\"\x7f\"", ";a=b\"c\"", ";a=\"b", ";a\t", ";a==b",
      ";\x80", ";a=" + "b".repeat(pick([16_383, 16_384, 16_385])), ";" + "a".repeat(16_385), ";a=\"" + "b".repeat(16_382) + "\"", " ;a", ";a ", ";a=\"x\" "]);
  };
  const trailer = (): string => {
    if (chance(0.1)) return `${casing("Transfer-Encoding")}:${pick(["", " ", "\t"])}${pick(["chunked", "Chunked", "gzip, chunked", "chunked, gzip", "chunked ", "chunked\t", "gzip,\tchunked", "chunked,", "xchunked", "chunk", "chunked , chunked"])}\r\n`;
    if (chance(0.2)) {
      const token = pick(["close", "Close", "keep-alive", "Keep-Alive", "closed", "x", ""]);
      return `${casing(pick(["Connection", "Proxy-Connection"]))}:${pick(["", " ", "\t"])}${pick(["", "x, ", " , ", "x "])}${token}${pick(["", " ", "\t", ", x", " x", ","])}\r\n`;
    }
    if (chance(0.85)) return `${casing(pick(["X-Checksum", "Server-Timing", "Expires", "X-T", "Connection", "Transfer-Encoding"]))}: ${fromSet("abcXYZ019 ;=,/-", int(0, 20))}\r\n`;
    return pick(["Content-Length: 5\r\n", "content-length: 0\r\n", "Transfer-Encoding: \r\n", "Transfer-Encoding: chunked\r\n", "X: a\r\n b\r\n", " X: a\r\n", "X : a\r\n", ":x\r\n",
      "X:\x00\r\n", "X: \x7f\r\n", "X: a\nY: b\r\n", "X: a\rY\r\n", "X:\r\n", "X: " + "a".repeat(pick([65_533, 65_534, 65_535])) + "\r\n", "X\x00: a\r\n"]);
  };
  const valid = (): string => {
    let body = "";
    for (let k = int(0, 5); k > 0; k--) {
      const size = pick([1, int(1, 20), int(20, 300), int(300, 5000)]);
      const hex = size.toString(16);
      const digits = (chance(0.1) ? "0".repeat(int(1, 20)) : "") + (chance(0.5) ? hex : hex.toUpperCase());
      const exts = chance(0.2) ? Array.from({ length: int(1, 3) }, extension).join("") : "";
      body += `${digits}${exts}\r\n${fromSet("abcdef\r\n0123;\x00\xff", size)}\r\n`;
    }
    body += `${pick(["0", "0", "00", "000000"])}${chance(0.1) ? extension() : ""}\r\n`;
    for (let k = chance(0.7) ? 0 : int(1, 4); k > 0; k--) body += trailer();
    return body + "\r\n";
  };
  const hostile = (): string => {
    const size = pick(["5", "5 ", "5\t", " 5", "-5", "+5", "0x5", "g", "", "ffffffffffffffff", "10000000000000000", "0000000000000000000000001", "FFFFFFFFFFFFFFFFF", "1".repeat(20)]);
    const eol = pick(["\r\n", "\r\n", "\n", "\r", "\r\r\n", " \r\n"]);
    return `${size}${chance(0.3) ? extension() : ""}${eol}hello${pick(["\r\n", "\n", "\r", "", "X", "\r\r\n"])}0\r\n${chance(0.3) ? trailer() : ""}${pick(["\r\n", "\n", "\r", "\r\r\n", ""])}`;
  };
  const out: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    const kind = r();
    let body = kind < 0.5 ? valid() : kind < 0.8 ? mutate(valid(), ["\r", "\n", ";", "=", '"', "\\", " ", "\t", "0", "f", "g", ":"]) : hostile();
    if (chance(0.05)) body = body.slice(0, int(0, body.length));
    if (chance(0.2)) body += pick(["HTTP/1.1 200 OK\r\n\r\n", "\r\n", "XX", "0\r\n\r\n"]);
    out.push(Buffer.from(body, "latin1"));
  }
  return out;
}

/** What llhttp made of one response head (llhttp_response_oracle.cjs). */
interface HeadResult {
  head: "ok" | "error" | "incomplete";
  code?: string;
  headLength?: number;
  major?: number;
  minor?: number;
  status?: number;
  reason?: string;
  headers?: string[];
  keepAlive?: boolean;
  framing?: string;
  bodyBytes?: number;
  atLeast?: boolean;
}

/** What llhttp made of one chunked body. */
interface BodyResult {
  end?: number;
  keepAlive?: boolean;
  error?: number;
  code?: string;
  incomplete?: boolean;
}

function runOracle<T>(mode: "heads" | "bodies", inputs: unknown[]): T[] {
  return runReference<T>("llhttp_response_oracle.cjs", [mode], inputs);
}

type Decision = "ok" | "refused" | "incomplete";

interface Seen {
  decision: Decision;
  why?: string;
  framing?: string;
  fields?: string;
}

function viaLlhttp(o: HeadResult): Seen {
  if (o.head !== "ok") return { decision: o.head === "error" ? "refused" : "incomplete", why: o.code };
  const framing = o.framing === "upgrade" ? "none"
    : o.framing === "length" ? (o.atLeast ? `length >=${o.bodyBytes}` : o.bodyBytes === 0 ? "none" : `length ${o.bodyBytes}`)
      : o.framing!;
  return { decision: "ok", framing, fields: JSON.stringify([o.headLength, o.major, o.minor, o.status, o.reason, o.headers, o.keepAlive]) };
}

/** A length of 0 and no body are the same to llhttp (the response ends with the head). */
const framingText = (f: ResponseFraming): string => (f.kind === "length" ? (f.length === 0 ? "none" : `length ${f.length}`) : f.kind);

function viaParser(input: Buffer, method: string): Seen {
  const p = parseResponseHead(input, method);
  if (p.kind === "incomplete") return { decision: "incomplete" };
  if (p.kind === "error") return { decision: "refused", why: p.reason };
  return { decision: "ok", framing: framingText(p.framing), fields: JSON.stringify([p.headLength, p.major, p.minor, p.status, p.reason, p.rawHeaders, p.keepAlive]) };
}


/** The head the generated bodies follow (the oracle's), by HTTP version. */
const chunkedHead = (version: string) => Buffer.from(`HTTP/${version} 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n`, "latin1");
const versionOf = (k: number) => (k % 3 === 2 ? "1.0" : "1.1");

/** ChunkedBody fed `body` in random pieces: where it ended (and whether the connection stays open),
 * refused, or that it waits. */
function scanInPieces(body: Buffer, version: string, r: () => number): BodyResult {
  const head = parseResponseHead(chunkedHead(version), "GET");
  if (head.kind !== "ok" || head.framing.kind !== "chunked") throw new Error("the chunked head is not chunked");
  const scanner = new ChunkedBody();
  let offset = 0;
  while (offset < body.length) {
    const cut = offset + 1 + Math.floor(r() * Math.min(body.length - offset, r() < 0.5 ? 4 : 2000));
    // Each piece as its own buffer, sometimes with bytes before it (`from`).
    const lead = r() < 0.3 ? Math.floor(r() * 3) : 0;
    const piece = Buffer.concat([Buffer.alloc(lead, 0x41), body.subarray(offset, cut)]);
    const used = scanner.scan(piece, lead);
    if (scanner.error !== undefined) return { error: offset + used, code: scanner.error };
    if (scanner.done) return { end: offset + used, keepAlive: keepAliveAfter(head, scanner) };
    if (used !== cut - offset) return { error: -1, code: `took ${used} of ${cut - offset} without an end` };
    offset = cut;
  }
  return { incomplete: true };
}

describe("response heads and chunked bodies: against llhttp", () => {
  const t = randomTools(SEED);
  const heads = generateHeads(HEADS, t);
  const bodies = generateBodies(BODIES, t);
  let headResults: HeadResult[] = [];
  let bodyResults: BodyResult[] = [];

  beforeAll(() => {
    headResults = runOracle<HeadResult>("heads", heads.map(([b, m]) => [b.toString("base64"), m]));
    bodyResults = runOracle<BodyResult>("bodies", bodies.map((b, k) => [b.toString("base64"), versionOf(k)]));
  }, 120_000);

  test(`${HEADS} generated heads: same decision, framing, keep-alive and fields`, () => {
    expect(headResults.length).toBe(heads.length);
    const differences: string[] = [];
    const tally: Record<Decision, number> = { ok: 0, refused: 0, incomplete: 0 };
    const framings: Record<string, number> = {};
    for (let k = 0; k < heads.length; k++) {
      const [input, method] = heads[k];
      const ref = viaLlhttp(headResults[k]);
      const got = viaParser(input, method);
      tally[ref.decision]++;
      if (ref.framing) framings[ref.framing.split(" ")[0]] = (framings[ref.framing.split(" ")[0]] ?? 0) + 1;
      const same = ref.decision === got.decision && (ref.decision !== "ok" || (sameFraming(ref.framing, got.framing) && ref.fields === got.fields));
      if (!same) {
        const shown = JSON.stringify(input.toString("latin1").slice(0, 300));
        differences.push(`#${k} ${method} ${shown}\n  llhttp: ${JSON.stringify(ref).slice(0, 400)}\n  parser: ${JSON.stringify(got).slice(0, 400)}`);
      }
    }
    expect(`${differences.length} differences\n${differences.slice(0, 15).join("\n")}`).toBe("0 differences\n");
    // The corpus exercises every outcome and framing in earnest.
    expect(tally.ok).toBeGreaterThan(HEADS / 4);
    expect(tally.refused).toBeGreaterThan(HEADS / 10);
    expect(tally.incomplete).toBeGreaterThan(10);
    for (const f of ["none", "length", "chunked", "close"]) expect(framings[f] ?? 0).toBeGreaterThan(100);
  });

  test(`${BODIES} generated chunked bodies in random pieces: the same end and keep-alive, or refused at the same byte`, () => {
    expect(bodyResults.length).toBe(bodies.length);
    const r = mulberry32(SEED ^ 0xb0d1e5);
    const differences: string[] = [];
    const tally = { end: 0, error: 0, incomplete: 0 };
    for (let k = 0; k < bodies.length; k++) {
      const ref = bodyResults[k];
      const got = scanInPieces(bodies[k], versionOf(k), r);
      tally[ref.end !== undefined ? "end" : ref.error !== undefined ? "error" : "incomplete"]++;
      const same = ref.end !== undefined ? got.end === ref.end && got.keepAlive === ref.keepAlive : ref.error !== undefined ? got.error === ref.error : got.incomplete === true;
      if (!same) differences.push(`#${k} ${JSON.stringify(bodies[k].toString("latin1").slice(0, 200))}\n  llhttp: ${JSON.stringify(ref)}\n  parser: ${JSON.stringify(got)}`);
    }
    expect(`${differences.length} differences\n${differences.slice(0, 15).join("\n")}`).toBe("0 differences\n");
    expect(tally.end).toBeGreaterThan(BODIES / 4);
    expect(bodyResults.filter((o) => o.keepAlive === false).length).toBeGreaterThan(BODIES / 10);
    expect(tally.error).toBeGreaterThan(BODIES / 10);
    expect(tally.incomplete).toBeGreaterThan(10);
  });
});

describe("response heads: what the caller relies on", () => {
  const head = (s: string, method = "GET") => parseResponseHead(Buffer.from(s, "latin1"), method);
  const framing = (s: string, method = "GET") => {
    const p = head(s, method);
    return p.kind === "ok" ? [p.framing, p.keepAlive] : p.kind;
  };

  test("no body after HEAD, 1xx, 204 and 304, whatever the fields say", () => {
    expect(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD")).toEqual([{ kind: "none" }, true]);
    expect(framing("HTTP/1.1 100 Continue\r\n\r\n")).toEqual([{ kind: "none" }, true]);
    expect(framing("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")).toEqual([{ kind: "none" }, true]);
    expect(framing("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")).toEqual([{ kind: "none" }, true]);
    expect(framing("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n")).toEqual([{ kind: "none" }, true]);
  });

  test("keep-alive: HTTP/1.0 only with keep-alive and a length; never with a body until the close", () => {
    expect(framing("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n")).toEqual([{ kind: "length", length: 1 }, false]);
    expect(framing("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n")).toEqual([{ kind: "length", length: 1 }, true]);
    expect(framing("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n")).toEqual([{ kind: "close" }, false]);
    expect(framing("HTTP/1.1 200 OK\r\n\r\n")).toEqual([{ kind: "close" }, false]);
    expect(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")).toEqual([{ kind: "close" }, false]);
    expect(framing("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")).toEqual([{ kind: "length", length: 0 }, false]);
  });

  test("CONNECT is refused; a head split anywhere waits", () => {
    expect(head("HTTP/1.1 200 OK\r\n\r\n", "CONNECT").kind).toBe("error");
    const whole = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    for (let k = 0; k < whole.length; k++) expect(head(whole.slice(0, k)).kind).toBe("incomplete");
    expect(head(whole + "hello")).toMatchObject({ kind: "ok", headLength: whole.length, rawHeaders: ["Content-Length", "5"] });
  });

  test("an informational response is reported on its own; the final one follows it", () => {
    const bytes = Buffer.from("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", "latin1");
    const first = parseResponseHead(bytes, "GET");
    expect(first).toMatchObject({ kind: "ok", status: 103, framing: { kind: "none" }, keepAlive: true });
    const second = parseResponseHead(bytes.subarray(first.kind === "ok" ? first.headLength : 0), "GET");
    expect(second).toMatchObject({ kind: "ok", status: 200, framing: { kind: "length", length: 2 } });
  });

  test("a Uint8Array that is not a Buffer is read the same", () => {
    const b = Buffer.from("xxHTTP/1.1 404 Not Found\r\nX: \xe9\r\n\r\n", "latin1");
    const view = new Uint8Array(b.buffer, b.byteOffset + 2, b.length - 2);
    expect(parseResponseHead(view, "GET")).toMatchObject({ kind: "ok", status: 404, reason: "Not Found", rawHeaders: ["X", "\xe9"] });
  });
});

describe("chunked bodies: what the caller relies on", () => {
  test("the end is found in pieces of one byte, and what follows it is not taken", () => {
    const body = Buffer.from("4;ext=\"v\"\r\nWiki\r\n0\r\nX-Checksum: 1\r\n\r\n", "latin1");
    const next = Buffer.from("HTTP/1.1 200 OK\r\n", "latin1");
    const scanner = new ChunkedBody();
    for (let k = 0; k < body.length - 1; k++) {
      expect(scanner.scan(body.subarray(k, k + 1))).toBe(1);
      expect(scanner.done).toBe(false);
    }
    expect(scanner.scan(Buffer.concat([body.subarray(body.length - 1), next]))).toBe(1);
    expect(scanner.done).toBe(true);
    expect(scanner.scan(next)).toBe(0);
  });

  test("from skips what comes before; a refusal says where", () => {
    const scanner = new ChunkedBody();
    const b = Buffer.from("HEAD5\r\nhello\r\n5 \r\n", "latin1");
    expect(scanner.scan(b, 4)).toBe(11); // "5\r\nhello\r\n5", then the space
    expect(scanner.error).toBe("invalid character in chunk size");
    expect(scanner.done).toBe(false);
    expect(scanner.scan(b, 0)).toBe(0);
  });
});
