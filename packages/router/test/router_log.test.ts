// The router's request lines reach the route's app's stream at the log router as `heroku[router]`,
// in Heroku's router format, without the access log on stdout being needed; requests no app took
// stay out of every app's stream.
import { PassThrough } from "node:stream";
import { LogSender } from "@dynoform/logplex/sender";
import { loadConfig } from "../src/config";
import { RouterLog, type LogRecord } from "../src/router_log";
import { get, startBackend, startRouter, stopAll, waitFor } from "./harness";
import { call, CONTROL_TOKEN, SENDER_TOKEN, startTestLogplex, tempDir } from "../../logplex/test/helpers";

const record = (over: Partial<LogRecord> = {}): LogRecord => ({
  app: "myapp", method: "GET", path: "/", host: "myapp.example.com", requestId: "req-1", fwd: "203.0.113.9", dyno: "web.1",
  connectMs: 1, serviceMs: 5, status: 200, bytes: 12, protocol: "http", ...over,
});

test("request lines go to the log router for their app as heroku[router], H-codes as at=error", async () => {
  const lp = await startTestLogplex(tempDir());
  const sender = new LogSender({ url: `http://${lp.address}`, token: SENDER_TOKEN, flushMs: 5 });
  try {
    const out = new PassThrough();
    const log = new RouterLog(false, out, sender);
    log.write(record());
    log.write(record({ code: "H12", desc: "Request timeout", status: 503, requestId: "req-2" }));
    log.write(record({ app: undefined, requestId: "req-3", status: 404 }));
    await log.sent(5000);
    const text = (await call(lp.address, "GET", "/v1/apps/myapp/logs?num=10", { token: CONTROL_TOKEN })).body;
    const got = text.trim().split("\n");
    expect(got).toHaveLength(2);
    expect(got[0]).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+\+00:00 heroku\[router\]: at=info method=GET path="\/" host=myapp\.example\.com request_id=req-1 fwd="203\.0\.113\.9" dyno=web\.1 connect=1ms service=5ms status=200 bytes=12 protocol=http$/,
    );
    expect(got[1]).toMatch(/heroku\[router\]: at=error code=H12 desc="Request timeout" method=GET .* request_id=req-2 .* status=503 /);
    expect(out.read()).toBeNull(); // the access log on stdout is off
  } finally {
    sender.close();
    await lp.close();
  }
});

test("logRouterUrl needs this router's own token, and a plain http(s)://host:port", () => {
  expect(() => loadConfig(["--log-router-url", "http://10.0.0.2:8093"], {})).toThrow(/needs logToken or logTokenFile/);
  expect(() => loadConfig(["--log-router-url", "10.0.0.2:8093"], { DYNOFORM_ROUTER_LOG_TOKEN: "t" })).toThrow(/is not http\(s\):\/\/host:port/);
  expect(loadConfig(["--log-router-url", "http://10.0.0.2:8093"], { DYNOFORM_ROUTER_LOG_TOKEN: "t" })).toMatchObject({ logRouterUrl: "http://10.0.0.2:8093", logToken: "t" });
});

test("the router binary: a request's heroku[router] line reaches the log router with the response's X-Request-Id, and one sent just before a stop too", async () => {
  const lp = await startTestLogplex(tempDir());
  const b = await startBackend();
  const r = await startRouter({ logRouterUrl: `http://${lp.address}`, logToken: SENDER_TOKEN, accessLog: false });
  try {
    expect((await r.api("PUT", "/v1/apps/myapp", {})).status).toBeLessThan(300);
    expect((await r.api("PUT", "/v1/apps/myapp/dynos/web.1", { address: b.address })).status).toBeLessThan(300);
    const first = await get(r.port, "myapp.dynoform.test", "/first");
    expect(first.status).toBe(200);
    const stream = async () => (await call(lp.address, "GET", "/v1/apps/myapp/logs?num=100", { token: CONTROL_TOKEN })).body;
    const id = String(first.headers["x-request-id"]);
    await waitFor("the router's line at the log router", async () => (await stream()).includes(`request_id=${id} `));
    expect(await stream()).toMatch(new RegExp(`heroku\\[router\\]: at=info method=GET path="/first" host=myapp\\.dynoform\\.test request_id=${id} fwd="127\\.0\\.0\\.1" dyno=web\\.1 connect=\\d+ms service=\\d+ms status=200 bytes=\\d+ protocol=http\\n`));
    const last = await get(r.port, "myapp.dynoform.test", "/last");
    await r.stop(); // SIGTERM: the worker sends what it holds before it exits
    expect(await stream()).toContain(`request_id=${String(last.headers["x-request-id"])} `);
  } finally {
    await stopAll(r, b);
    await lp.close();
  }
}, 120_000);
