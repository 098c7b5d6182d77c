import { BadResponse, ResponseParser } from "../src/response_parser";

interface Parsed {
  status: number;
  statusText: string;
  headers: string[];
  body: string;
  done: boolean;
  keepAlive: boolean;
  keepAliveHintMs: number;
}

/** Feeds `text` in pieces of `step` bytes (every split point is a chance to get it wrong). */
function parse(text: string, step = Infinity, headRequest = false): Parsed {
  const out: Parsed = { status: 0, statusText: "", headers: [], body: "", done: false, keepAlive: false, keepAliveHintMs: 0 };
  const p = new ResponseParser({
    onResponseHead(status, statusText, headers) {
      Object.assign(out, { status, statusText, headers });
    },
    onResponseBody(chunk) {
      out.body += chunk.toString("latin1");
    },
  });
  p.reset(headRequest);
  const bytes = Buffer.from(text, "latin1");
  for (let i = 0; i < bytes.length; i += step) p.feed(bytes.subarray(i, Math.min(bytes.length, i + step)));
  if (p.tail) out.body += p.tail.toString("latin1");
  return { ...out, done: p.done, keepAlive: p.keepAlive, keepAliveHintMs: p.keepAliveHintMs };
}

const everySplit = (text: string, check: (r: Parsed) => void) => {
  for (const step of [1, 2, 3, 7, Infinity]) check(parse(text, step));
};

test("Content-Length body, split anywhere", () => {
  everySplit("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", (r) => {
    expect(r).toMatchObject({ status: 200, statusText: "OK", body: "hello", done: true, keepAlive: true });
    expect(r.headers).toEqual(["Content-Type", "text/plain", "Content-Length", "5"]);
  });
});

test("chunked body with extensions and trailers, split anywhere", () => {
  everySplit("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6 \r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n", (r) => {
    expect(r).toMatchObject({ body: "hello world", done: true, keepAlive: true });
  });
});

test("interim responses are skipped; HEAD, 204 and 304 have no body", () => {
  expect(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 3)).toMatchObject({ status: 201, body: "ok", done: true });
  expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", Infinity, true)).toMatchObject({ status: 200, body: "", done: true });
  expect(parse("HTTP/1.1 204 No Content\r\n\r\n")).toMatchObject({ status: 204, done: true });
  expect(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")).toMatchObject({ status: 304, done: true });
});

test("a body without length lasts until the connection ends; close and Keep-Alive are honoured", () => {
  const p = new ResponseParser({ onResponseHead: () => undefined, onResponseBody: () => undefined });
  p.reset(false);
  p.feed(Buffer.from("HTTP/1.1 200 OK\r\n\r\nsome bytes"));
  expect(p.done).toBe(false);
  expect(p.endOfInput()).toBe(true);
  expect(p.keepAlive).toBe(false);
  expect(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(false);
  expect(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(false);
  expect(parse("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n").keepAliveHintMs).toBe(5000);
  expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nextra").keepAlive).toBe(false);
});

test("ambiguous or malformed responses are refused", () => {
  const bad = [
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX-A: a\x01b\r\n\r\n",
    "HTTP/1.1 101 Switching Protocols\r\n\r\n",
    "HTTP/2 200\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
  ];
  for (const text of bad) expect(() => parse(text)).toThrow(BadResponse);
  expect(() => parse(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`, 1000)).toThrow(BadResponse);
});
