// The reference side of response_head.test.ts: llhttp's RESPONSE parser in the router's own Node (24,
// strict: no lenient flags, 64 KiB of head, what node:http and undici run), called directly. Run with
// that Node: `node --expose-internals --no-warnings llhttp_response_oracle.cjs heads|bodies INPUTS.json`.
// heads: INPUTS.json is a JSON array of [base64 response, request method]; prints, per input, what
// llhttp made of the head and how it framed what follows (see describeHead()).
// bodies: INPUTS.json is a JSON array of [base64 chunked body, "1.1" or "1.0"]; prints, per body, where
// llhttp completed the message or failed (see describeBody()).
"use strict";
const { readFileSync } = require("node:fs");
const { HTTPParser } = require("_http_common");

const MAX_HEADER_SIZE = 64 * 1024;
/** Bytes after the head that frame nothing: a chunked body fails on them at once, a length or
 * close-delimited body takes them, and after a complete response they start the next one (refused
 * as such, or as data after a response that closes the connection). */
const PROBE = Buffer.alloc(4096, "X");
/** The head a chunked body follows, by HTTP version. */
const chunkedHead = (version) => Buffer.from(`HTTP/${version} 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n`, "latin1");

/** The body llhttp's caller skips: the answer to HEAD's (node:http's and undici's onHeadersComplete
 * return 1). llhttp itself skips a 1xx's, 204's and 304's, whatever their fields say. */
const skipsBody = (method) => method === "HEAD";

function parser(onHeadersComplete) {
  const p = new HTTPParser();
  p.initialize(HTTPParser.RESPONSE, {}, MAX_HEADER_SIZE, 0);
  const state = { headers: [], reason: "", body: 0, complete: false };
  p[HTTPParser.kOnHeaders] = (h) => {
    state.headers.push(...h);
  };
  p[HTTPParser.kOnHeadersComplete] = (major, minor, headers, _method, _url, status, reason, upgrade, keepAlive) => {
    if (headers) state.headers.push(...headers);
    Object.assign(state, { major, minor, status, reason, upgrade: !!upgrade, keepAlive: !!keepAlive });
    return onHeadersComplete(state);
  };
  p[HTTPParser.kOnBody] = (b) => { if (!state.complete) state.body += b.length; };
  p[HTTPParser.kOnMessageComplete] = () => { state.complete = true; };
  return { p, state };
}

/**
 * `head`: "ok", "error" (llhttp's code and reason) or "incomplete" (no end of head in the input).
 * For "ok": the head's length, version, status, reason, raw headers, and the framing seen by feeding
 * the head plus PROBE with the body skipped as skipsBody says: `length` with the body bytes taken
 * (`atLeast`: PROBE's length, llhttp wants more), `chunked` (the probe fails as a chunk size),
 * `close` (the probe is body, and the end of the input ends it), `upgrade` (llhttp stops at the
 * head: a 101). keepAlive: after a complete response, whether llhttp takes the next bytes as the next
 * response (rather than as data after a response that closes the connection); otherwise
 * llhttp_should_keep_alive as the head's callback saw it.
 */
function describeHead(input, method) {
  // First pass: stop at the end of the head (2 = "upgrade": execute returns the head's length).
  const a = parser(() => 2);
  const r = a.p.execute(input);
  if (r instanceof Error) return { head: "error", code: r.code, reason: r.reason };
  if (a.state.major === undefined) return { head: "incomplete" };
  const headLength = r;
  const { major, minor, status, reason, headers, upgrade, keepAlive } = a.state;
  const out = { head: "ok", headLength, major, minor, status, reason, headers, upgrade, keepAlive };
  const b = parser(() => (skipsBody(method) ? 1 : 0));
  const r2 = b.p.execute(Buffer.concat([input.subarray(0, headLength), PROBE]));
  if (!(r2 instanceof Error) && r2 === headLength && b.state.complete) return { ...out, framing: "upgrade" };
  if (b.state.complete) {
    const closed = r2 instanceof Error && r2.code === "HPE_CLOSED_CONNECTION";
    return { ...out, framing: "length", bodyBytes: b.state.body, keepAlive: !closed, next: r2 instanceof Error ? r2.code : "none" };
  }
  if (r2 instanceof Error) return { ...out, framing: r2.code === "HPE_INVALID_CHUNK_SIZE" ? "chunked" : `error ${r2.code}` };
  const end = b.p.finish();
  if (end instanceof Error) return { ...out, framing: "length", bodyBytes: b.state.body, atLeast: true };
  return { ...out, framing: b.state.complete ? "close" : "unknown" };
}

/** `end`: bytes of the body up to the end of the message, and `keepAlive`: whether llhttp then takes
 * more bytes as the next response; or `error` with the offset of the byte llhttp failed on, code and
 * reason; or `incomplete`. The body is fed a byte at a time. */
function describeBody(body, version) {
  const a = parser(() => 0);
  const r = a.p.execute(chunkedHead(version));
  if (r instanceof Error || a.state.complete) throw new Error("the chunked head is refused");
  for (let k = 0; k < body.length; k++) {
    const rk = a.p.execute(body.subarray(k, k + 1));
    if (a.state.complete) {
      const next = a.p.execute(Buffer.from("X"));
      return { end: k + 1, keepAlive: !(next instanceof Error && next.code === "HPE_CLOSED_CONNECTION") };
    }
    if (rk instanceof Error) return { error: k, code: rk.code, reason: rk.reason };
  }
  return { incomplete: true };
}

function main() {
  const [mode, file] = process.argv.slice(2);
  const inputs = JSON.parse(readFileSync(file, "utf8"));
  const out = mode === "heads"
    ? inputs.map(([b, method]) => describeHead(Buffer.from(b, "base64"), method))
    : inputs.map(([b, version]) => describeBody(Buffer.from(b, "base64"), version));
  process.stdout.write(JSON.stringify(out));
}

main();
