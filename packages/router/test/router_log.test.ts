// The router's request lines reach the route's app's stream at the log router as `heroku[router]`,
// in Heroku's router format, without the access log on stdout being needed; requests no app took
// stay out of every app's stream.
import { PassThrough } from "node:stream";
import { LogSender } from "@dynoform/logplex/sender";
import { loadConfig } from "../src/config";
import { RouterLog, type LogRecord } from "../src/router_log";
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
