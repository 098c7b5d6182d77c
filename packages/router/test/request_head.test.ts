// Differential test of request_head.ts against llhttp: every generated head (browser/curl-like ones,
// the same with random bytes inserted, replaced or deleted, and built-up hostile ones: methods,
// targets, versions, header casing and whitespace, obs-fold, Content-Length/Transfer-Encoding
// combinations, duplicates, bare LF and CR, NULs and other control bytes, over-long lines, many
// fields, cut short)
// and every case of the hostile probe (bench/router/hostile_cases.mjs) goes through llhttp in the
// router's own Node (test/llhttp_oracle.cjs) and through parseRequestHead. Both results then get the
// router's verdict (headVerdict: node:http's server checks and the router's own); the decision
// (routed, refused, or waiting for more) must be the same, and for a routed request also the
// framing of what follows, the head's length, method, target, version, header fields and keep-alive.
import { join } from "node:path";
import { DEFAULTS } from "../src/config";
import { headVerdict, type HeadFields } from "../src/http_strictness";
import { parseRequestHead, type Framing } from "../src/request_head";
import { randomTools, ROOT, runOracle, sameFraming } from "./llhttp_reference";

const GENERATED = 12_000;
/** REQUEST_HEAD_SEED: another corpus (to look for differences beyond the fixed one). */
const SEED = Number(process.env.REQUEST_HEAD_SEED ?? 0x11d1ff);

const NODE_METHODS = ["ACL", "BIND", "CHECKOUT", "CONNECT", "COPY", "DELETE", "GET", "HEAD", "LINK", "LOCK", "M-SEARCH", "MERGE",
  "MKACTIVITY", "MKCALENDAR", "MKCOL", "MOVE", "NOTIFY", "OPTIONS", "PATCH", "POST", "PROPFIND", "PROPPATCH", "PURGE", "PUT",
  "QUERY", "REBIND", "REPORT", "SEARCH", "SOURCE", "SUBSCRIBE", "TRACE", "UNBIND", "UNLINK", "UNLOCK", "UNSUBSCRIBE"];

/** Request heads from a seeded generator: mostly plausible, each part sometimes hostile. */
function generate(count: number, seed: number): Buffer[] {
  const { r, chance, pick, int, anyByte, fromSet, casing } = randomTools(seed);
  const PATH = "abcxyzABC0123456789-._~!$&'()*+,;=:@/%?";
  const maybeCorrupt = (s: string, p: number) => {
    if (!chance(p)) return s;
    const at = int(0, s.length);
    return s.slice(0, at) + pick(["\x00", "\x01", "\x0b", "\x7f", "\x80", "\xff", " ", "\t", "\r", "\n", '"', "<", "\\", "#", "@", "{", "^"]) + s.slice(at);
  };
  const method = () =>
    chance(0.8) ? pick(["GET", "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT"])
      : chance(0.5) ? pick(NODE_METHODS)
        : pick(["get", "GE T", "G\x00T", "PRI", "SETUP", "DESCRIBE", "GET_PARAMETER", "FOO", "", "POSTX", "PURG", "GETT", "\x80GET", "M-SEARCHX", "PUTS"]);
  const host = () => pick(["a.example", "bench.example", "bench.example:8080", "[::1]:80", "x.example.", "127.0.0.1", "user@a.example", "", "a_b.example", "a%41.example"]);
  const target = (): string => {
    const u = r();
    if (u < 0.6) return maybeCorrupt("/" + fromSet(PATH, int(0, 20)) + (chance(0.1) ? "#frag" : ""), 0.05);
    if (u < 0.75) return maybeCorrupt(`${pick(["http", "https", "HTTP", "ftp", "h2tp", "ws"])}://${host()}${pick(["", "/", "/p?q=1", "?q", "/a/b", "#f"])}`, 0.1);
    if (u < 0.8) return pick(["*", "*x", "**"]);
    if (u < 0.85) return pick(["a.example:443", "[::1]:443", "a.example", ":443"]);
    if (u < 0.9) return pick(["", "x", "//", "/a b", "?q", "%2F"]);
    if (u < 0.95) return "/" + "a".repeat(pick([100, 8150, 8200, 9000, 65_000, 66_000]));
    return "/" + anyByte() + anyByte();
  };
  const version = () =>
    chance(0.85) ? "HTTP/1.1" : chance(0.5) ? "HTTP/1.0"
      : pick(["HTTP/0.9", "HTTP/2.0", "HTTP/1.7", "HTTP/3.0", "http/1.1", "HTTP/1.1 ", "HTTP/01.1", "HTTP/1", "RTSP/1.0", "ICE/1.0", "HTTP/1.1x", "", "HTTP/1.10", "HTTPS/1.1", "HTTP/a.1"]);
  const eol = () => (chance(0.97) ? "\r\n" : pick(["\n", "\r", "\r\r\n", " \r\n", "\n\r"]));
  const valueFor = (name: string): string => {
    switch (name.toLowerCase()) {
      case "content-length":
        return pick(["0", "5", "10", "100000", "05", " 5", "5 ", "+5", "-1", "5,5", "5, 6", "", "1e3", "99999999999999999999", "18446744073709551615", "18446744073709551616", "0x5", "5 5", "\t5\t", "1234567890123456", "123456789012345"]);
      case "transfer-encoding":
        return pick(["chunked", "chunked", "Chunked", "CHUNKED", " chunked", "chunked ", "gzip, chunked", "chunked, gzip", "xchunked", "chunked\x0b", "identity", "", "gzip", "chunked,", "chunked;q=1", ",chunked", "chunked , chunked", "gzip,chunked", "chunked\t"]);
      case "connection":
      case "proxy-connection":
        return pick(["keep-alive", "close", "upgrade", "Upgrade", "keep-alive, Upgrade", "upgradex", "upgrade , close", "close, upgrade", "x-upgrade", "upgrade foo", "foo upgrade", "", "upgrade,", ",upgrade", "UPGRADE"]);
      case "upgrade":
        return pick(["websocket", "h2c", "", "WebSocket"]);
      case "host":
        return host();
      case "expect":
        return pick(["100-continue", "100-Continue", "foo", "", "100-continue, foo", "x100-continue"]);
      default:
        return chance(0.9) ? fromSet("abcdefXYZ0123 ,;=/\"'()-_.:", int(0, 30)) : pick(["a".repeat(8200), "v\xe9", "a\tb", "a\x00b", "a\x7fb", "a\x0bb", "a\rb", "a\nb", "\xff\xfe"]);
    }
  };
  const NAMES = ["Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Expect", "Proxy-Connection", "X-Forwarded-For", "Accept", "User-Agent", "Cookie", "X-Request-Id"];
  const field = (): string => {
    const base = chance(0.85) ? pick(NAMES) : fromSet("abcXYZ-_0!#$%&'*+.^`|~", int(1, 12));
    const name = maybeCorrupt(casing(base), 0.04);
    const sep = chance(0.92) ? ": " : pick([":", ":  ", ":\t", " : ", " :", ":\x0b", "\t:"]);
    let line = name + sep + maybeCorrupt(valueFor(base), 0.03) + eol();
    if (chance(0.02)) line += pick([" folded", "\tfolded", " "]) + eol();
    return line;
  };
  /** A head a browser, curl or a proxy might send: varied casing, whitespace and framing, all valid. */
  const plausible = (): string => {
    const m = pick(["GET", "GET", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);
    const tgt = chance(0.9) ? "/" + fromSet(PATH, int(0, 40)) : `http://${pick(["a.example", "bench.example:8080"])}/${fromSet(PATH, int(0, 10))}`;
    const lines = [`${m} ${tgt} HTTP/1.${chance(0.9) ? 1 : 0}`];
    const ows = () => pick(["", " ", "  ", "\t", " \t"]);
    const add = (n: string, v: string) => lines.push(`${casing(n)}:${chance(0.8) ? " " : ows()}${v}${chance(0.9) ? "" : ows()}`);
    add("Host", pick(["a.example", "bench.example:8080", "x.example."]));
    const framing = r();
    if (framing < 0.2) add("Content-Length", String(int(0, 100000)));
    else if (framing < 0.3) add("Transfer-Encoding", pick(["chunked", "Chunked", "gzip, chunked", "chunked "]));
    else if (framing < 0.38) {
      add("Connection", pick(["Upgrade", "upgrade", "keep-alive, Upgrade"]));
      add("Upgrade", pick(["websocket", "h2c"]));
    }
    for (let f = int(0, 8); f > 0; f--) {
      const [n, v] = pick([
        ["User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"],
        ["User-Agent", "curl/8.11.0"], ["Accept", "*/*"], ["Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"],
        ["Accept-Encoding", "gzip, deflate, br"], ["Accept-Language", "en-US,en;q=0.5"], ["Cookie", "a=1; b=\xe9t\xe9"],
        ["Connection", pick(["keep-alive", "close"])], ["X-Forwarded-For", "203.0.113.7, 10.0.0.1"], ["Expect", "100-continue"],
        ["X-Request-Id", "6f0c2a9e-1b2c-4d5e-8f90-0123456789ab"], ["Cache-Control", "no-cache"], ["Referer", "https://a.example/x?y=1"],
        ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="], ["If-None-Match", '"abc"'], ["Authorization", "Bearer x.y.z"],
      ]);
      add(n, v);
    }
    return lines.join("\r\n") + "\r\n\r\n";
  };
  /** A plausible head with 1-3 bytes inserted, replaced or deleted anywhere (a blind fuzzer's view). */
  const mutated = (): string => {
    let h = plausible();
    for (let m = int(1, 3); m > 0; m--) {
      const at = int(0, h.length - 1);
      const byte = chance(0.5) ? anyByte() : pick([" ", "\t", "\r", "\n", ":", ",", "\x00", "/", "?", "#", "@", "0", "9"]);
      const op = r();
      h = op < 0.4 ? h.slice(0, at) + byte + h.slice(at) : op < 0.8 ? h.slice(0, at) + byte + h.slice(at + 1) : h.slice(0, at) + h.slice(at + 1);
    }
    return h;
  };
  const out: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    const kind = r();
    if (kind < 0.3) {
      out.push(Buffer.from(plausible(), "latin1"));
      continue;
    }
    if (kind < 0.45) {
      out.push(Buffer.from(mutated(), "latin1"));
      continue;
    }
    const lead = chance(0.97) ? "" : pick(["\r\n", "\n", "\r", "\r\n\r\n"]);
    const v = version();
    const line = method() + (chance(0.95) ? " " : pick(["  ", "\t", "", " \t"])) + target() + (v === "" ? "" : (chance(0.95) ? " " : pick(["  ", "\t", ""])) + v);
    let fields = "";
    const u = r();
    const nFields = u < 0.05 ? 0 : u < 0.97 ? int(1, 7) : pick([100, 101, 102, 150]);
    const hostFirst = chance(0.85);
    if (hostFirst) fields += `Host: ${host()}\r\n`;
    for (let f = hostFirst ? 1 : 0; f < nFields; f++) fields += nFields > 20 && chance(0.9) ? `X-H${f}: v\r\n` : field();
    if (chance(0.01)) fields += Array.from({ length: 9 }, (_, f) => `X-Big${f}: ${"b".repeat(7500)}\r\n`).join("");
    let head = lead + line + eol() + fields + (chance(0.97) ? "\r\n" : pick(["\n", "\r", ""]));
    if (chance(0.03)) head = head.slice(0, int(0, head.length));
    if (chance(0.1)) head += pick(["hello", "5\r\nhello\r\n0\r\n\r\n", "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"]);
    out.push(Buffer.from(head, "latin1"));
  }
  return out;
}

/** What llhttp made of one input (llhttp_oracle.cjs). */
interface OracleResult {
  name?: string;
  input?: string;
  head: "ok" | "error" | "incomplete";
  code?: string;
  headLength?: number;
  major?: number;
  minor?: number;
  method?: string;
  url?: string;
  headers?: string[];
  upgrade?: boolean;
  keepAlive?: boolean;
  framing?: string;
  bodyBytes?: number;
  atLeast?: boolean;
}

type Decision = "routed" | "refused" | "incomplete";

interface Seen {
  decision: Decision;
  why?: string;
  framing?: string;
  fields?: string;
}

const framingText = (f: Framing): string => (f.kind === "length" ? `length ${f.length}` : f.kind);

function verdict(h: HeadFields): Seen | undefined {
  const rej = headVerdict(h, DEFAULTS.maxHeaderLineBytes, DEFAULTS.maxHeaders);
  return rej ? { decision: "refused", why: `${rej.status} ${rej.reason}` } : undefined;
}

function viaLlhttp(o: OracleResult): Seen {
  if (o.head === "incomplete") return { decision: "incomplete" };
  if (o.head === "error") return { decision: "refused", why: o.code };
  const h: HeadFields = { major: o.major!, minor: o.minor!, method: o.method!, url: o.url!, rawHeaders: o.headers!, upgrade: o.upgrade! };
  const refused = verdict(h);
  if (refused) return refused;
  // llhttp refuses some framings only when the body starts (node:http has handed the request on
  // by then, and the router refuses it: checkRequest takes only "chunked").
  if (o.framing?.startsWith("error")) return { decision: "refused", why: o.framing };
  const framing = o.framing === "length" ? `length ${o.atLeast ? `>=${o.bodyBytes}` : o.bodyBytes}` : o.framing!;
  return { decision: "routed", framing, fields: JSON.stringify([o.headLength, o.major, o.minor, o.method, o.url, o.headers, o.keepAlive]) };
}

function viaParser(input: Buffer): Seen {
  const p = parseRequestHead(input);
  if (p.kind === "incomplete") return { decision: "incomplete" };
  if (p.kind === "error") return { decision: "refused", why: p.reason };
  const refused = verdict(p);
  if (refused) return refused;
  return { decision: "routed", framing: framingText(p.framing), fields: JSON.stringify([p.headLength, p.major, p.minor, p.method, p.url, p.rawHeaders, p.keepAlive]) };
}


describe("request heads: parseRequestHead against llhttp", () => {
  let results: OracleResult[] = [];
  let inputs: Buffer[] = [];

  beforeAll(() => {
    inputs = generate(GENERATED, SEED);
    results = runOracle<OracleResult>("llhttp_oracle.cjs", [], inputs.map((b) => b.toString("base64")), [join(ROOT, "bench/router/hostile_cases.mjs")]);
    for (const o of results.slice(inputs.length)) inputs.push(Buffer.from(o.input!, "base64"));
  }, 120_000);

  test(`${GENERATED} generated heads and the hostile cases: same decision, framing and fields`, () => {
    expect(results.length).toBe(inputs.length);
    expect(results.length).toBeGreaterThan(GENERATED);
    const differences: string[] = [];
    const tally: Record<Decision, number> = { routed: 0, refused: 0, incomplete: 0 };
    for (let k = 0; k < inputs.length; k++) {
      const ref = viaLlhttp(results[k]);
      const got = viaParser(inputs[k]);
      tally[ref.decision]++;
      const same = ref.decision === got.decision && (ref.decision !== "routed" || (sameFraming(ref.framing, got.framing) && ref.fields === got.fields));
      if (!same) {
        const shown = JSON.stringify(inputs[k].toString("latin1").slice(0, 300));
        differences.push(`${results[k].name ?? `#${k}`} ${shown}\n  llhttp: ${JSON.stringify(ref).slice(0, 400)}\n  parser: ${JSON.stringify(got).slice(0, 400)}`);
      }
    }
    expect(`${differences.length} differences\n${differences.slice(0, 15).join("\n")}`).toBe("0 differences\n");
    // The corpus exercises all three outcomes in earnest.
    expect(tally.routed).toBeGreaterThan(GENERATED / 4);
    expect(tally.refused).toBeGreaterThan(GENERATED / 10);
    expect(tally.incomplete).toBeGreaterThan(10);
  });

  test("every hostile probe case is refused, waits (slow clients), or keeps its smuggled bytes out of the head", () => {
    const hostile = results.filter((o) => o.name);
    expect(hostile.length).toBeGreaterThanOrEqual(28);
    for (const o of hostile) {
      const seen = viaLlhttp(o);
      if (seen.decision === "routed") expect(["obs_fold", "chunk_size_overflow", "chunk_size_not_hex", "slowloris_body"]).toContain(o.name);
    }
  });
});
