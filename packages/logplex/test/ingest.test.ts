// Ingest, authentication, order, the store's bound, persistence across a restart, and the tail.
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { loadConfig } from "../src/config";
import type { RunningLogplex } from "../src/logplex";
import { encodeLogRecord, LOG_BATCH_V2 } from "@dynoform/contract";
import { call, CONTROL_TOKEN, lines, postCompact, postLines, SENDER_TOKEN, startTestLogplex, tempDir, until } from "./helpers";

let lp: RunningLogplex;
let dir: string;

beforeEach(async () => {
  dir = tempDir();
  lp = await startTestLogplex(dir);
});
afterEach(() => lp.close());

const logs = async (app: string, query = "") => (await call(lp.address, "GET", `/v1/apps/${app}/logs?${query}`, { token: CONTROL_TOKEN })).body;

test("a sender's batch is stored and acknowledged; readers get Heroku's line format", async () => {
  const time = Date.UTC(2026, 10, 30, 1, 2, 3, 456);
  const ack = await postLines(lp.address, [{ app: "myapp", time, seq: 0, source: "app", dyno: "web.1", msg: "hello" }, { app: "myapp", time, seq: 1, source: "heroku", dyno: "router", msg: "at=info method=GET" }]);
  expect(ack.status).toBe(200);
  expect(JSON.parse(ack.body)).toEqual({ stored: 2, duplicates: 0, rejected: 0, errors: [] });
  expect(await logs("myapp")).toBe("2026-11-30T01:02:03.456000+00:00 app[web.1]: hello\n2026-11-30T01:02:03.456000+00:00 heroku[router]: at=info method=GET\n");
  expect(await logs("myapp", "source=heroku")).toBe("2026-11-30T01:02:03.456000+00:00 heroku[router]: at=info method=GET\n");
  expect(await logs("myapp", "dyno=web")).toBe("2026-11-30T01:02:03.456000+00:00 app[web.1]: hello\n");
  expect(await logs("myapp", "num=1")).toContain("heroku[router]");
});

test("no token, a wrong token and a sender reading are refused; bad lines are rejected with why, the rest stored", async () => {
  expect((await postLines(lp.address, lines("myapp", 1), "s1", "")).status).toBe(401);
  expect((await postLines(lp.address, lines("myapp", 1), "s1", "not-the-token")).status).toBe(401);
  expect((await call(lp.address, "GET", "/v1/apps/myapp/logs", { token: SENDER_TOKEN })).status).toBe(403);
  expect((await call(lp.address, "GET", "/v1/apps/myapp/drains", { token: SENDER_TOKEN })).status).toBe(403);
  const body = [JSON.stringify(lines("myapp", 1)[0]), "{not json", JSON.stringify({ ...lines("myapp", 1, 1)[0], source: "kernel" }), JSON.stringify({ ...lines("Bad_App", 1, 2)[0] })].join("\n");
  const ack = JSON.parse((await call(lp.address, "POST", "/v1/lines", { token: SENDER_TOKEN, body })).body);
  expect(ack.stored).toBe(1);
  expect(ack.rejected).toBe(3);
  expect(ack.errors.map((e: { index: number }) => e.index)).toEqual([1, 2, 3]);
  expect(ack.errors[1].error).toMatch(/source must be "app" or "heroku"/);
  expect((await call(lp.address, "GET", "/v1/apps/myapp/logs?num=99999", { token: CONTROL_TOKEN })).status).toBe(422);
});

test("a rotation: the old and new control tokens and a sender's old and new tokens are accepted side by side, nothing else; then the new alone", async () => {
  await lp.close();
  const sha = (t: string) => createHash("sha256").update(t).digest("hex");
  const tokenFile = join(dir, "logplex-control.token");
  writeFileSync(tokenFile, "control-new\ncontrol-old\n");
  const senders = JSON.stringify([{ name: "host-a", tokenSha256: sha("sender-new") }, { name: "host-a", tokenSha256: sha("sender-old") }]);
  lp = await startTestLogplex(dir, loadConfig(["--listen", "127.0.0.1:0", "--data-dir", dir], { DYNOFORM_LOGPLEX_TOKEN_FILE: tokenFile, DYNOFORM_LOGPLEX_SENDERS: senders }));
  for (const token of ["control-old", "control-new"]) expect((await call(lp.address, "GET", "/v1/apps/myapp/logs", { token })).status).toBe(200);
  for (const [i, token] of ["sender-old", "sender-new"].entries()) expect((await postLines(lp.address, lines("myapp", 1, i), "s1", token)).status).toBe(200);
  for (const token of ["control-newcontrol-old", "control-ne", "control-new control-old", "sender-newer"]) {
    expect([token, (await call(lp.address, "GET", "/v1/apps/myapp/logs", { token })).status]).toEqual([token, 401]);
    expect([token, (await postLines(lp.address, lines("myapp", 1, 5), "s1", token)).status]).toEqual([token, 401]);
  }
  expect((await call(lp.address, "GET", "/v1/apps/myapp/logs", { token: "sender-old" })).status).toBe(403);
  await lp.close();
  writeFileSync(tokenFile, "control-new\n");
  lp = await startTestLogplex(dir, loadConfig(["--listen", "127.0.0.1:0", "--data-dir", dir], { DYNOFORM_LOGPLEX_TOKEN_FILE: tokenFile, DYNOFORM_LOGPLEX_SENDERS: JSON.stringify([{ name: "host-a", tokenSha256: sha("sender-new") }]) }));
  expect((await call(lp.address, "GET", "/v1/apps/myapp/logs", { token: "control-old" })).status).toBe(401);
  expect((await postLines(lp.address, lines("myapp", 1, 6), "s1", "sender-old")).status).toBe(401);
  expect((await postLines(lp.address, lines("myapp", 1, 7), "s1", "sender-new")).status).toBe(200);
});

test("a compact batch is stored like an NDJSON one, to the microsecond; bad records are rejected, the rest stored", async () => {
  const time = Date.UTC(2026, 10, 30, 4, 12, 25, 123) + 0.456;
  const good = [
    { app: "myapp", time, seq: 0, source: "app" as const, dyno: "web.1", msg: "hello\nworld" },
    { app: "myapp", time: time + 0.001, seq: 1, source: "heroku" as const, dyno: "router", msg: "at=info" },
  ];
  const body = encodeLogRecord(good[0]) + "1 2 app Bad_App web.1 x\n" + encodeLogRecord(good[1]) + "1 3 app myapp web.1 cut sho";
  const ack = await postCompact(lp.address, body);
  expect(ack.status).toBe(200);
  expect(ack.headers["accept-post"]).toContain(LOG_BATCH_V2);
  expect(JSON.parse(ack.body)).toEqual({ stored: 2, duplicates: 0, rejected: 2, errors: [{ index: 1, error: expect.stringMatching(/Name "Bad_App" is invalid/) }, { index: 3, error: expect.stringMatching(/truncated record/) }] });
  expect(await logs("myapp")).toBe("2026-11-30T04:12:25.123456+00:00 app[web.1]: hello\nworld\n2026-11-30T04:12:25.123457+00:00 heroku[router]: at=info\n");
  // A resend is recognised whatever the format, and the lines come back after a restart.
  expect(JSON.parse((await postLines(lp.address, good, "s1")).body)).toMatchObject({ stored: 0, duplicates: 2 });
  await lp.close();
  lp = await startTestLogplex(dir);
  expect(await logs("myapp")).toContain("04:12:25.123457+00:00 heroku[router]: at=info\n");
  expect(JSON.parse((await postCompact(lp.address, encodeLogRecord(good[1]))).body)).toMatchObject({ stored: 0, duplicates: 1 });
});

test("an append cut short by a crash is skipped whole on restart, even with appends after it; its lines can be sent again", async () => {
  await postCompact(lp.address, encodeLogRecord({ app: "myapp", time: 1796011945123, seq: 0, source: "app", dyno: "web.1", msg: "kept" }));
  await lp.close();
  appendFileSync(join(dir, "apps", "myapp.log"), "\n@host-a/s1 200\n1796011945124000 1 app myapp web.1 torn mid-mess");
  lp = await startTestLogplex(dir);
  expect(await logs("myapp")).toBe("2026-11-30T04:12:25.123000+00:00 app[web.1]: kept\n");
  // The sender never had its ack, so it sends the line again: stored, not taken for a duplicate.
  expect(JSON.parse((await postCompact(lp.address, encodeLogRecord({ app: "myapp", time: 1796011945124, seq: 1, source: "app", dyno: "web.1", msg: "torn mid-message" }))).body)).toMatchObject({ stored: 1 });
  await lp.close();
  lp = await startTestLogplex(dir);
  expect(await logs("myapp")).toBe("2026-11-30T04:12:25.123000+00:00 app[web.1]: kept\n2026-11-30T04:12:25.124000+00:00 app[web.1]: torn mid-message\n");
});

test("a batch in an unknown format is refused with the formats taken", async () => {
  const ans = await call(lp.address, "POST", "/v1/lines", { token: SENDER_TOKEN, body: "x", headers: { "content-type": "application/xml" } });
  expect(ans.status).toBe(415);
  expect(JSON.parse(ans.body).error).toMatch(/use application\/vnd.dynoform.log-batch.v2 or application\/x-ndjson/);
});

test("a store written by the first format (NDJSON files) is read after an upgrade and replaced at the next rotation", async () => {
  await lp.close();
  const legacy = (seq: number) => JSON.stringify({ s: "host-a/old", l: { app: "myapp", time: 1796011945123, seq, source: "app", dyno: "web.1", msg: `old ${seq}` } });
  writeFileSync(join(dir, "apps", "myapp.0.ndjson"), legacy(0) + "\n");
  writeFileSync(join(dir, "apps", "myapp.ndjson"), legacy(1) + "\n" + '{"s":"torn');
  lp = await startTestLogplex(dir, { storeSegmentBytes: 1, linesPerApp: 3 });
  expect(await logs("myapp", "num=3")).toBe("2026-11-30T04:12:25.123000+00:00 app[web.1]: old 0\n2026-11-30T04:12:25.123000+00:00 app[web.1]: old 1\n");
  expect(JSON.parse((await postLines(lp.address, lines("myapp", 2, 0), "old")).body)).toMatchObject({ stored: 0, duplicates: 2 });
  await postLines(lp.address, lines("myapp", 3, 0, Date.now(), "web.2"));
  expect(existsSync(join(dir, "apps", "myapp.ndjson"))).toBe(false);
  expect(existsSync(join(dir, "apps", "myapp.0.ndjson"))).toBe(false);
});

test("one process's lines within the same millisecond keep their order, whatever else arrives between", async () => {
  const time = Date.now();
  const a = lines("myapp", 50, 0, time, "web.1");
  const b = lines("myapp", 50, 0, time, "web.2");
  // Sent as two interleaved streams, each in several batches.
  for (let i = 0; i < 50; i += 10) {
    await postLines(lp.address, a.slice(i, i + 10), "hostA");
    await postLines(lp.address, b.slice(i, i + 10), "hostB");
  }
  const out = (await logs("myapp", "num=1500")).trim().split("\n");
  const of = (dyno: string) => out.filter((l) => l.includes(`[${dyno}]`)).map((l) => l.replace(/.*: /, ""));
  expect(of("web.1")).toEqual(a.map((l) => l.msg));
  expect(of("web.2")).toEqual(b.map((l) => l.msg));
});

test("a resent batch (its ack lost) is not stored twice", async () => {
  const batch = lines("myapp", 10);
  await postLines(lp.address, batch, "s1");
  const again = JSON.parse((await postLines(lp.address, batch, "s1")).body);
  expect(again).toMatchObject({ stored: 0, duplicates: 10 });
  expect((await logs("myapp", "num=1500")).trim().split("\n")).toHaveLength(10);
});

test("the store keeps the newest 1,500 lines per app, survives a restart, and its files stay bounded", async () => {
  await lp.close();
  lp = await startTestLogplex(dir, { storeSegmentBytes: 1 });
  for (let i = 0; i < 4000; i += 500) await postLines(lp.address, lines("myapp", 500, i));
  const before = (await logs("myapp", "num=1500")).trim().split("\n");
  expect(before).toHaveLength(1500);
  expect(before[0]).toMatch(/line 2500$/);
  expect(before[1499]).toMatch(/line 3999$/);
  // Records only: each append's `@stream` marker line is not a line of the app's.
  const fileLines = ["myapp.log", "myapp.0.log"].map((f) => readFileSync(join(dir, "apps", f), "utf8").split("\n").filter((l) => /^\d/.test(l)).length);
  expect(fileLines[0] + fileLines[1]).toBeLessThanOrEqual(3000);
  expect(fileLines[1]).toBeGreaterThanOrEqual(1500);
  await lp.close();
  lp = await startTestLogplex(dir, { storeSegmentBytes: 1 });
  expect((await logs("myapp", "num=1500")).trim().split("\n")).toEqual(before);
  // and the restarted router still knows what the stream sent
  expect(JSON.parse((await postLines(lp.address, lines("myapp", 1, 3999))).body)).toMatchObject({ stored: 0, duplicates: 1 });
});

test("a tail subscriber sees a new line within a second, filtered", async () => {
  await postLines(lp.address, lines("myapp", 3));
  const [host, port] = lp.address.split(":");
  const seen: string[] = [];
  const req = http.get({ host, port: Number(port), path: "/v1/apps/myapp/logs?tail=1&num=1&dyno=web.2", headers: { authorization: `Bearer ${CONTROL_TOKEN}` } });
  const res = await new Promise<http.IncomingMessage>((r) => req.on("response", r));
  res.setEncoding("utf8");
  res.on("data", (c: string) => seen.push(...c.trim().split("\n").filter(Boolean)));
  await new Promise((r) => setTimeout(r, 50));
  const t0 = Date.now();
  await postLines(lp.address, [...lines("myapp", 1, 3, Date.now(), "web.1"), ...lines("myapp", 1, 4, Date.now(), "web.2")]);
  await until(() => seen.length > 0, 1000);
  expect(Date.now() - t0).toBeLessThan(1000);
  expect(seen).toEqual([expect.stringMatching(/app\[web\.2\]: line 4$/)]);
  req.destroy();
});

test("a batch over maxBatchBytes is refused with 413 and what to do", async () => {
  await lp.close();
  lp = await startTestLogplex(dir, { maxBatchBytes: 1000 });
  const ans = await postLines(lp.address, lines("myapp", 100));
  expect(ans.status).toBe(413);
  expect(ans.body).toMatch(/send smaller batches/);
});
