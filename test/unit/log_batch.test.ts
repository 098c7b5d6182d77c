// The compact batch format senders post to the log router (packages/contract/src/log_batch.ts):
// a round trip, and hostile input — each bad record a clear rejection of that record only, never a
// crash, never more memory than the body.
import { decodeLogBatch, encodeLogRecord, MAX_MESSAGE_CHARS, parseLogLine, type DecodedRecord, type LogLineIn } from "@dynoform/contract";

const line = (over: Partial<LogLineIn> = {}): LogLineIn => ({ app: "myapp", time: Date.UTC(2026, 10, 30, 4, 12, 25, 123) + 0.456, seq: 7, source: "app", dyno: "web.1", msg: "hello", ...over });

function decode(body: string | Buffer): { records: DecodedRecord[]; errors: Array<{ index: number; message: string }> } {
  const records: DecodedRecord[] = [];
  const errors: Array<{ index: number; message: string }> = [];
  decodeLogBatch(Buffer.isBuffer(body) ? body : Buffer.from(body), (r) => records.push(r), (index, message) => errors.push({ index, message }));
  return { records, errors };
}

test("lines round-trip: microsecond times, both sources, escapes, UTF-8, empty messages", () => {
  const sent = [
    line(),
    line({ seq: 8, source: "heroku", dyno: "router", msg: 'at=info method=GET path="/" status=200' }),
    line({ seq: 9, msg: "two\nlines\r\nand a \\ backslash \\n (literal)" }),
    line({ seq: 10, msg: "héllo wörld ✓ 🚀" }),
    line({ seq: 11, msg: "" }),
    line({ seq: 12, msg: "  spaces   kept  " }),
    line({ seq: Number.MAX_SAFE_INTEGER, time: 0, app: "a-b", dyno: "scheduler.123456" }),
  ];
  const body = sent.map(encodeLogRecord).join("");
  expect(body.split("\n")).toHaveLength(sent.length + 1);
  expect(encodeLogRecord(sent[0])).toBe("1796011945123456 7 app myapp web.1 hello\n");
  const { records, errors } = decode(body);
  expect(errors).toEqual([]);
  expect(records.map((r) => r.line)).toEqual(sent);
  // Each record's byte range is its own text, so the store may write it as it came.
  const buf = Buffer.from(body);
  expect(records.map((r) => buf.toString("utf8", r.start, r.end))).toEqual(sent.map(encodeLogRecord));
  expect(records.every((r) => r.exact)).toBe(true);
});

test("an NDJSON line keeps its time to the microsecond, as the compact format does", () => {
  expect(parseLogLine({ ...line(), time: Date.UTC(2026, 10, 30, 4, 12, 25, 123) + 0.4567 }).time).toBe(Date.UTC(2026, 10, 30, 4, 12, 25, 123) + 0.457);
  expect(() => parseLogLine({ ...line(), time: -1 })).toThrow(/time must be milliseconds/);
  expect(() => parseLogLine({ ...line(), time: "1" })).toThrow(/time must be milliseconds/);
});

test("bad records are rejected one by one, with why; the good ones around them are kept", () => {
  const good = encodeLogRecord(line());
  const bad = [
    "17960123451234567890 1 app myapp web.1 too many digits\n",
    "x 1 app myapp web.1 not a number\n",
    "1 9999999999999999 app myapp web.1 past 2^53\n",
    "1 1 dyno myapp web.1 bad source\n",
    "1 1 app MyApp web.1 bad app\n",
    `1 1 app ${"a".repeat(100_000)} web.1 oversized app\n`,
    "1 1 app myapp Web.1 bad dyno\n",
    "1 1 app myapp web.1\n",
    "1 1 app myapp web.1 bad \\x escape\n",
    "{\"app\":\"myapp\",\"time\":1,\"seq\":1,\"source\":\"app\",\"dyno\":\"web.1\",\"msg\":\"json in a compact batch\"}\n",
  ];
  const { records, errors } = decode(good + bad.join("") + good);
  expect(records).toHaveLength(2);
  expect(errors.map((e) => e.index)).toEqual(bad.map((_, i) => i + 1));
  expect(errors.map((e) => e.message)).toEqual([
    expect.stringMatching(/time .* must be 1 to 16 digits/),
    expect.stringMatching(/time .* must be digits/),
    expect.stringMatching(/seq is too large/),
    expect.stringMatching(/source must be "app" or "heroku"/),
    expect.stringMatching(/Name "MyApp" is invalid/),
    expect.stringMatching(/at most 64 characters/),
    expect.stringMatching(/dyno "Web.1" is invalid/),
    expect.stringMatching(/record ends before its message/),
    expect.stringMatching(/bad escape/),
    expect.stringMatching(/time .* must be 1 to 16 digits/),
  ]);
});

test("a raw newline in a message (a sender that did not escape it) costs that record, not the batch", () => {
  const { records, errors } = decode("1 1 app myapp web.1 first half\nsecond half\n" + encodeLogRecord(line()));
  expect(records.map((r) => r.line.msg)).toEqual(["first half", "hello"]);
  expect(errors).toEqual([{ index: 1, message: expect.stringMatching(/time .* must be digits/) }]);
});

test("a truncated batch: its last record, without its newline, is rejected; nothing is read past the body", () => {
  const full = Buffer.from(encodeLogRecord(line()) + encodeLogRecord(line({ seq: 8 })));
  for (let cut = 1; cut < full.length; cut++) {
    const { records, errors } = decode(full.subarray(0, cut));
    const whole = cut >= full.indexOf(0x0a) + 1 ? 1 : 0;
    expect(records).toHaveLength(whole);
    if (cut === full.indexOf(0x0a) + 1) expect(errors).toEqual([]);
    else expect(errors).toEqual([{ index: whole, message: "truncated record: the batch ends without the record's newline" }]);
  }
});

test("an oversized message is cut to the longest kept, decoding no more than that of it", () => {
  const huge = "é".repeat(2_000_000);
  const escapes = "\\n".repeat(1_000_000);
  const { records, errors } = decode(`1 1 app myapp web.1 ${huge}\n1 2 app myapp web.1 ${escapes}\n1 3 app myapp web.1 ${"x".repeat(MAX_MESSAGE_CHARS)}\\\\\\n\n`);
  expect(errors).toEqual([]);
  expect(records.map((r) => r.line.msg.length)).toEqual([MAX_MESSAGE_CHARS, MAX_MESSAGE_CHARS, MAX_MESSAGE_CHARS]);
  expect(records[0].line.msg).toBe("é".repeat(MAX_MESSAGE_CHARS));
  expect(records[1].line.msg).toBe("\n".repeat(MAX_MESSAGE_CHARS));
  // A cut record is not stored as it came: its text says more than was kept.
  expect(records.map((r) => r.exact)).toEqual([false, false, false]);
});

test("empty lines are skipped, not counted; an empty body is an empty batch", () => {
  expect(decode("")).toEqual({ records: [], errors: [] });
  const { records, errors } = decode("\n\n" + encodeLogRecord(line()) + "\n" + "bad\n");
  expect(records).toHaveLength(1);
  expect(errors).toEqual([{ index: 1, message: expect.stringMatching(/record ends before its seq/) }]);
});
