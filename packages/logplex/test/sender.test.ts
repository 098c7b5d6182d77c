// The sender client: batches, acknowledgements, resending across a log router restart, and its
// bounded buffer's counted drops.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { LOG_BATCH_V2 } from "@dynoform/contract";
import { LogSender, preciseNow } from "../src/log_sender";
import type { RunningLogplex } from "../src/logplex";
import { call, CONTROL_TOKEN, SENDER_TOKEN, startTestLogplex, tempDir, until } from "./helpers";

jest.setTimeout(20_000);

const logs = async (lp: RunningLogplex, app: string) => (await call(lp.address, "GET", `/v1/apps/${app}/logs?num=1500`, { token: CONTROL_TOKEN })).body.trim().split("\n").filter(Boolean);

test("lines sent while the log router restarts are all stored once, in order", async () => {
  const dir = tempDir();
  let lp = await startTestLogplex(dir);
  const address = lp.address;
  const errors: string[] = [];
  const sender = new LogSender({ url: `http://${address}`, token: SENDER_TOKEN, maxBackoffMs: 200, batchLines: 50, onError: (m) => errors.push(m) });
  try {
    for (let i = 0; i < 400; i++) sender.send("myapp", "app", "web.1", `line ${i}`);
    expect(await sender.flushed(5000)).toBe(true);
    await lp.close();
    for (let i = 400; i < 1000; i++) sender.send("myapp", "app", "web.1", `line ${i}`);
    await new Promise((r) => setTimeout(r, 300));
    expect(sender.length).toBe(600);
    lp = await startTestLogplex(dir, { listen: address });
    expect(await sender.flushed(5000)).toBe(true);
    const got = (await logs(lp, "myapp")).map((l) => l.replace(/.*: /, ""));
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => `line ${i}`));
    expect(sender.stats).toEqual({ stored: 1000, dropped: 0 });
    expect(errors[0]).toMatch(/unreachable: ECONNREFUSED; holding up to 10000 lines and retrying/);
  } finally {
    sender.close();
    await lp.close();
  }
});

test("a full sender buffer drops its oldest lines and tells each app how many in an L10 line", async () => {
  const dir = tempDir();
  let lp = await startTestLogplex(dir);
  const address = lp.address;
  await lp.close();
  const sender = new LogSender({ url: `http://${address}`, token: SENDER_TOKEN, maxLines: 100, maxBackoffMs: 100 });
  try {
    for (let i = 0; i < 250; i++) sender.send(i % 2 ? "app-one" : "app-two", "app", "web.1", `line ${i}`);
    expect(sender.length).toBeLessThanOrEqual(100 + 1000);
    lp = await startTestLogplex(dir, { listen: address });
    await until(() => sender.stats.dropped > 0 && sender.length === 0, 5000);
    expect(await sender.flushed(5000)).toBe(true);
    const one = await logs(lp, "app-one");
    const two = await logs(lp, "app-two");
    const count = (ls: string[]) => ls.map((l) => /heroku\[logplex\]: Error L10 \(output buffer overflow\): (\d+) messages dropped since/.exec(l)).reduce((n, m) => n + (m ? Number(m[1]) : 0), 0);
    const appLines = (ls: string[]) => ls.filter((l) => l.includes(" app[web.1]: ")).length;
    expect(count(one) + count(two)).toBe(sender.stats.dropped);
    expect(appLines(one) + appLines(two) + sender.stats.dropped).toBe(250);
    expect(count(one) + appLines(one)).toBe(125);
  } finally {
    sender.close();
    await lp.close();
  }
});

/** A stand-in log router recording each batch's Content-Type; `compact` says whether it lists the compact format. */
async function fakeRouter(compact: () => boolean): Promise<{ server: http.Server; url: string; types: string[]; bodies: string[] }> {
  const types: string[] = [];
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      types.push(String(req.headers["content-type"]));
      bodies.push(body);
      const n = body.split("\n").filter(Boolean).length;
      // An old log router reads anything as NDJSON: a compact batch is all rejected.
      const understood = compact() || !body.startsWith("1");
      const ack = JSON.stringify({ stored: understood ? n : 0, duplicates: 0, rejected: understood ? 0 : n, errors: [] });
      res.writeHead(200, { "content-type": "application/json", ...(compact() ? { "accept-post": `${LOG_BATCH_V2}, application/x-ndjson` } : {}) });
      res.end(ack);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, types, bodies };
}

test("the sender switches to the compact format once the log router lists it, and back (resending as NDJSON) when an older one answers", async () => {
  let compact = true;
  const fake = await fakeRouter(() => compact);
  const sender = new LogSender({ url: fake.url, token: SENDER_TOKEN, flushMs: 1 });
  try {
    sender.send("myapp", "app", "web.1", "first");
    expect(await sender.flushed(2000)).toBe(true);
    sender.send("myapp", "app", "web.1", "second\nline");
    expect(await sender.flushed(2000)).toBe(true);
    expect(fake.types).toEqual(["application/x-ndjson", LOG_BATCH_V2]);
    expect(fake.bodies[1]).toMatch(/^\d{16} 1 app myapp web\.1 second\\nline\n$/);
    // Downgraded to a log router without the format: the compact batch it could not read is sent again as NDJSON.
    compact = false;
    sender.send("myapp", "app", "web.1", "third");
    expect(await sender.flushed(2000)).toBe(true);
    expect(fake.types.slice(2)).toEqual([LOG_BATCH_V2, "application/x-ndjson"]);
    expect(JSON.parse(fake.bodies[3])).toMatchObject({ seq: 2, msg: "third" });
    expect(sender.stats).toEqual({ stored: 3, dropped: 0 });
  } finally {
    sender.close();
    fake.server.close();
  }
});

test("lines carry microseconds: a sender's times step below the millisecond and never go back", () => {
  const times = Array.from({ length: 2000 }, () => preciseNow());
  const wall = Date.now();
  expect(Math.abs(times[times.length - 1] - wall)).toBeLessThanOrEqual(2);
  expect(times.findIndex((t, i) => i > 0 && t < times[i - 1])).toBe(-1);
  expect(times.some((t) => !Number.isInteger(t))).toBe(true);
  expect(times.every((t) => Math.round(t * 1000) / 1000 === t)).toBe(true);
});
