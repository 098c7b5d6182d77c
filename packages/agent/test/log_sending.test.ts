// The agent's lines (dyno output, its events about dynos) reach the log router in the app's
// stream, as `app[web.1]` and `heroku[web.1]`, with the time the agent stamped them.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../src/config";
import { LogBuffer } from "../src/log_buffer";
import { lineTime, sendLogs } from "../src/log_sending";
import { call, CONTROL_TOKEN, SENDER_TOKEN, startTestLogplex, tempDir } from "../../logplex/test/helpers";

test("dyno output and dyno events go to the log router as app[web.1] and heroku[web.1], in order", async () => {
  const lp = await startTestLogplex(tempDir());
  try {
    const logs = new LogBuffer(10);
    const sending = sendLogs(logs, { logRouterUrl: `http://${lp.address}`, logToken: SENDER_TOKEN });
    logs.heroku("myapp", "web.1", "State changed from starting to up");
    for (let i = 0; i < 5; i++) logs.append("myapp", "app", "web.1", `line ${i}`);
    const first = logs.recent("myapp")[0];
    await sending.stop();
    const text = (await call(lp.address, "GET", "/v1/apps/myapp/logs?num=100", { token: CONTROL_TOKEN })).body;
    const got = text.trim().split("\n");
    expect(got.map((l) => l.replace(/^\S+ /, ""))).toEqual([
      "heroku[web.1]: State changed from starting to up",
      ...[0, 1, 2, 3, 4].map((i) => `app[web.1]: line ${i}`),
    ]);
    expect(got[0].slice(0, 23)).toBe(first.ts.slice(0, 23));
  } finally {
    await lp.close();
  }
});

test("without a log router nothing is sent; lineTime reads the buffer's stamp", async () => {
  const logs = new LogBuffer(10);
  await sendLogs(logs, { logRouterUrl: "" }).stop();
  // The stamp has microseconds, so it may be within a millisecond past Date.now().
  expect(lineTime(logs.append("a", "app", "web.1", "x"))).toBeLessThan(Date.now() + 1);
  expect(lineTime({ ts: "2026-11-30T01:02:03.456000+00:00", source: "app", dyno: "web.1", msg: "", line: "" })).toBe(Date.UTC(2026, 10, 30, 1, 2, 3, 456));
  expect(lineTime({ ts: "2026-11-30T01:02:03.456789+00:00", source: "app", dyno: "web.1", msg: "", line: "" })).toBe(Date.UTC(2026, 10, 30, 1, 2, 3, 456) + 0.789);
});

test("logRouterUrl needs the host's log token; logTokenFile is read", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-cfg-"));
  const cfg = path.join(dir, "agent.json");
  fs.writeFileSync(cfg, JSON.stringify({ token: "t", logRouterUrl: "http://10.0.0.2:8093" }));
  expect(() => loadConfig(["--config", cfg], {})).toThrow(/needs logToken or logTokenFile/);
  fs.writeFileSync(path.join(dir, "log.token"), "tok\n");
  fs.writeFileSync(cfg, JSON.stringify({ token: "t", logRouterUrl: "http://10.0.0.2:8093", logTokenFile: path.join(dir, "log.token") }));
  expect(loadConfig(["--config", cfg], {})).toMatchObject({ logRouterUrl: "http://10.0.0.2:8093", logToken: "tok" });
});
