// The sender client: batches, acknowledgements, resending across a log router restart, and its
// bounded buffer's counted drops.
import { LogSender } from "../src/log_sender";
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
