// The reference side of request_head.test.ts: llhttp, the parser node:http runs in the router's own
// Node (24, strict: no lenient flags, the router's 64 KiB header limit), called directly. Run with
// that Node: `node --expose-internals --no-warnings llhttp_oracle.cjs INPUTS.json [hostile_cases.mjs]`
// (internals: node:http names a request's method from the binding's allMethods, QUERY and RTSP's too). INPUTS.json is a JSON array
// of base64 inputs; with hostile_cases.mjs the probe's cases are appended (their bytes returned
// too, as `input`). Prints a JSON array with, per input, what llhttp made of the head and how it
// framed what follows (see describe()).
"use strict";
const { readFileSync } = require("node:fs");
const { pathToFileURL } = require("node:url");
const { HTTPParser } = require("_http_common");
const { internalBinding } = require("internal/test/binding");
const { allMethods } = internalBinding("http_parser");

const MAX_HEADER_SIZE = 64 * 1024;
/** Bytes after the head that frame nothing: a chunked body fails on them at once, a length body
 * takes them, a bodiless request completes before them. */
const PROBE = Buffer.alloc(4096, "X");

function parser(onHeadersComplete) {
  const p = new HTTPParser();
  p.initialize(HTTPParser.REQUEST, {}, MAX_HEADER_SIZE, 0);
  const state = { headers: [], url: "", body: 0, complete: false };
  p[HTTPParser.kOnHeaders] = (h, url) => {
    state.headers.push(...h);
    state.url += url;
  };
  p[HTTPParser.kOnHeadersComplete] = (major, minor, headers, method, url, _sc, _sm, upgrade, keepAlive) => {
    if (headers) state.headers.push(...headers);
    if (url) state.url += url;
    Object.assign(state, { major, minor, method: allMethods[method], upgrade: !!upgrade, keepAlive: !!keepAlive });
    return onHeadersComplete(state);
  };
  p[HTTPParser.kOnBody] = (b) => { if (!state.complete) state.body += b.length; };
  p[HTTPParser.kOnMessageComplete] = () => { state.complete = true; };
  return { p, state };
}

/**
 * `head`: "ok", "error" (llhttp's code and reason) or "incomplete" (no end of head in the input).
 * For "ok": the head's length, version, method, target, raw headers, upgrade, keep-alive, and the
 * framing seen by feeding the head plus PROBE: `upgrade` (llhttp stops at the head), `chunked` (the
 * probe fails as a chunk size), `length` with the body bytes taken (PROBE.length: at least that).
 */
function describe(input) {
  // First pass: stop at the end of the head (2 = "upgrade": execute returns the head's length).
  const a = parser(() => 2);
  const r = a.p.execute(input);
  if (r instanceof Error) return { head: "error", code: r.code, reason: r.reason };
  if (a.state.major === undefined) return { head: "incomplete" };
  const headLength = r;
  const { major, minor, method, url, headers, upgrade, keepAlive } = a.state;
  const out = { head: "ok", headLength, major, minor, method, url, headers, upgrade, keepAlive };
  if (upgrade) return { ...out, framing: "upgrade" };
  const b = parser(() => 0);
  const r2 = b.p.execute(Buffer.concat([input.subarray(0, headLength), PROBE]));
  if (b.state.complete) return { ...out, framing: "length", bodyBytes: b.state.body };
  if (r2 instanceof Error) return { ...out, framing: r2.code === "HPE_INVALID_CHUNK_SIZE" ? "chunked" : `error ${r2.code}` };
  return { ...out, framing: "length", bodyBytes: b.state.body, atLeast: true };
}

async function main() {
  const inputs = JSON.parse(readFileSync(process.argv[2], "utf8")).map((b) => Buffer.from(b, "base64"));
  const named = inputs.map((input) => ({ name: undefined, input }));
  if (process.argv[3]) {
    const { CASES } = await import(pathToFileURL(process.argv[3]).href);
    const m = { path: "/hostile", smuggled: "/smuggled", host: "bench.example" };
    for (const c of CASES) {
      // Slow clients: their first bytes, then a few drips, as one buffer.
      const text = c.bytes ? c.bytes(m) : c.first(m) + [0, 1, 2].map((i) => c.drip(i)).join("");
      named.push({ name: c.name, input: Buffer.from(text, "latin1") });
    }
  }
  const out = named.map(({ name, input }) => ({ ...(name ? { name, input: input.toString("base64") } : {}), ...describe(input) }));
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
