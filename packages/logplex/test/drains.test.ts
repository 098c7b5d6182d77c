// Drains: syslog over TCP and TLS, HTTPS in Heroku's logplex-1 format, the checks at add time, and
// Heroku's L10 line when a drain's receiver is gone.
import tls from "node:tls";
import type { RunningLogplex } from "../src/logplex";
import { call, CONTROL_TOKEN, HttpsReceiver, lines, postLines, selfSigned, SyslogReceiver, startTestLogplex, tempDir, until } from "./helpers";

jest.setTimeout(20_000);

let lp: RunningLogplex;
let dir: string;
const cert = selfSigned(tempDir("logplex-cert-"));

beforeEach(async () => {
  dir = tempDir();
  lp = await startTestLogplex(dir, { drainBufferLines: 100, overflowNoticeMs: 100 });
});
afterEach(() => lp.close());

const addDrain = (app: string, body: object) => call(lp.address, "POST", `/v1/apps/${app}/drains`, { token: CONTROL_TOKEN, body: JSON.stringify(body) });
const logs = async (app: string) => (await call(lp.address, "GET", `/v1/apps/${app}/logs?num=1500`, { token: CONTROL_TOKEN })).body.trim().split("\n");
const L10 = /Error L10 \(output buffer overflow\): (\d+) messages dropped since \d{4}-\d\d-\d\dT[\d:.]+\+00:00\./;

test("a syslog TCP drain gets every line as RFC 5424 in octet-counted frames; drains lists and removes it", async () => {
  const rx = await SyslogReceiver.listen();
  try {
    const url = `syslog://127.0.0.1:${rx.port}`;
    const added = await addDrain("myapp", { url });
    expect(added.status).toBe(201);
    const { token } = JSON.parse(added.body);
    expect(token).toMatch(/^d\.[0-9a-f-]{36}$/);
    expect(JSON.parse((await call(lp.address, "GET", "/v1/apps/myapp/drains", { token: CONTROL_TOKEN })).body)).toEqual([{ token, url }]);
    expect((await addDrain("myapp", { url })).body).toMatch(/already been added/);
    const sent = [...lines("myapp", 300), { app: "myapp", time: Date.now(), seq: 300, source: "heroku", dyno: "router", msg: 'at=info method=GET path="/ü"' }];
    await postLines(lp.address, sent);
    await postLines(lp.address, lines("other", 5));
    await postLines(lp.address, [{ app: "myapp", time: Date.UTC(2026, 10, 30, 4, 12, 25, 123) + 0.456, seq: 301, source: "app", dyno: "web.1", msg: "two\nlines" }]);
    await until(() => rx.messages.length === 302);
    // RFC 5424's TIMESTAMP to the microsecond, as Heroku's drains get it; a message on one line.
    expect(rx.messages[301]).toMatchObject({ timestamp: "2026-11-30T04:12:25.123456+00:00", msg: "two lines" });
    expect(rx.messages.slice(0, 300).map((m) => m.msg)).toEqual(sent.slice(0, 300).map((l) => l.msg));
    expect(rx.messages[0]).toMatchObject({ pri: 190, hostname: "myapp", appName: "app", procId: "web.1", msgId: "-" });
    expect(rx.messages[300]).toMatchObject({ pri: 158, appName: "heroku", procId: "router", msg: 'at=info method=GET path="/ü"' });
    expect((await call(lp.address, "DELETE", `/v1/apps/myapp/drains?drain=${encodeURIComponent(url)}`, { token: CONTROL_TOKEN })).status).toBe(200);
    expect(JSON.parse((await call(lp.address, "GET", "/v1/apps/myapp/drains", { token: CONTROL_TOKEN })).body)).toEqual([]);
  } finally {
    await rx.close();
  }
});

test("a syslog+tls drain with the drain's CA gets the lines; a certificate nobody vouches for is refused at add time", async () => {
  const rx = new SyslogReceiver(tls.createServer(cert));
  await new Promise<void>((r) => rx.server.listen(0, "127.0.0.1", () => r()));
  try {
    const bad = await addDrain("myapp", { url: `syslog+tls://localhost:${rx.port}` });
    expect(bad.status).toBe(422);
    expect(bad.body).toMatch(/TLS handshake with syslog\+tls:\/\/localhost:\d+ failed: .*give the CA that signs it/);
    expect((await addDrain("myapp", { url: `syslog+tls://localhost:${rx.port}`, ca: cert.cert })).status).toBe(201);
    await postLines(lp.address, lines("myapp", 20));
    await until(() => rx.messages.length === 20);
  } finally {
    await rx.close();
  }
});

test("an HTTPS drain gets logplex-1 frames with Heroku's headers, retried when the receiver fails", async () => {
  const rx = await HttpsReceiver.listen(cert);
  try {
    const added = await addDrain("myapp", { url: `https://user:secret@localhost:${rx.port}/logs`, ca: cert.cert });
    expect(added.status).toBe(201);
    const { token } = JSON.parse(added.body);
    rx.status = 503;
    await postLines(lp.address, lines("myapp", 30));
    await new Promise((r) => setTimeout(r, 300));
    rx.status = 200;
    await until(() => rx.messages.length === 30, 8000);
    const f = rx.frames[0];
    expect(f.headers["content-type"]).toBe("application/logplex-1");
    expect(f.headers["logplex-drain-token"]).toBe(token);
    expect(f.headers["logplex-frame-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(f.headers.authorization).toBe(`Basic ${Buffer.from("user:secret").toString("base64")}`);
    expect(Number(f.headers["logplex-msg-count"])).toBe(f.messages.length);
    expect(rx.messages.map((m) => m.msg)).toEqual(lines("myapp", 30).map((l) => l.msg));
    expect(rx.messages[0]).toMatchObject({ pri: 190, hostname: "host", appName: "app", procId: "web.1" });
  } finally {
    await rx.close();
  }
});

test("bad drain URLs and unreachable drains are errors at add time, naming the fix", async () => {
  const closed = await SyslogReceiver.listen();
  const port = closed.port;
  await closed.close();
  const cases: Array<[object, RegExp]> = [
    [{ url: "http://example.com/logs" }, /scheme http is not supported; use syslog:\/\/host:port, syslog\+tls:\/\/host:port or https:\/\/host\/path/],
    [{ url: "not a url" }, /is not a URL/],
    [{ url: "syslog://127.0.0.1" }, /needs a port/],
    [{ url: `syslog://127.0.0.1:${port}` }, /Could not connect to syslog:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/],
    [{ url: "syslog://127.0.0.1:514", ca: "nope" }, /ca must be PEM certificates/],
  ];
  for (const [body, why] of cases) {
    const ans = await addDrain("myapp", body);
    expect(ans.status).toBe(422);
    expect(JSON.parse(ans.body).error).toMatch(why);
  }
});

test("a stopped receiver: the drain drops its oldest, the stream carries L10 lines with the exact count, ingest stays fast", async () => {
  const slow = await SyslogReceiver.listen();
  const fine = await SyslogReceiver.listen();
  await addDrain("myapp", { url: `syslog://127.0.0.1:${slow.port}` });
  await addDrain("myapp", { url: `syslog://127.0.0.1:${fine.port}` });
  await postLines(lp.address, lines("myapp", 10));
  await until(() => slow.messages.length === 10 && fine.messages.length === 10);
  const port = slow.port;
  await slow.close();
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  for (let i = 10; i < 5010; i += 1000) await postLines(lp.address, lines("myapp", 1000, i));
  expect(Date.now() - t0).toBeLessThan(2000);
  // 5,000 lines into a buffer of 100: 4,900 dropped, told in the app's stream as L10 lines (which
  // every other drain and reader gets).
  const counted = () => fine.messages.filter((m) => L10.test(m.msg)).reduce((n, m) => n + Number(L10.exec(m.msg)![1]), 0);
  await until(() => counted() >= 4900, 5000);
  expect(counted()).toBe(4900);
  expect(fine.messages.find((m) => L10.test(m.msg))).toMatchObject({ appName: "heroku", procId: "logplex", pri: 45 });
  expect((await logs("myapp")).filter((l) => L10.test(l)).length).toBeGreaterThan(0);
  expect((await logs("myapp")).find((l) => L10.test(l))).toMatch(/ heroku\[logplex\]: Error L10/);
  await until(() => fine.messages.filter((m) => m.appName === "app").length === 5010);
  // The receiver comes back: it gets the newest 100 lines and the L10 lines owed to it, which count the rest.
  const back = new SyslogReceiver((await import("node:net")).createServer());
  await new Promise<void>((r) => back.server.listen(port, "127.0.0.1", () => r()));
  try {
    await until(() => back.messages.filter((m) => m.appName === "app").length === 100, 8000);
    await new Promise((r) => setTimeout(r, 200));
    const appLines = back.messages.filter((m) => m.appName === "app");
    const owed = back.messages.filter((m) => L10.test(m.msg)).reduce((n, m) => n + Number(L10.exec(m.msg)![1]), 0);
    expect(appLines.map((m) => m.msg)).toEqual(lines("myapp", 100, 4910).map((l) => l.msg));
    expect(owed).toBe(4900);
  } finally {
    await back.close();
    await fine.close();
  }
});
