// Maintenance mode (maintenance:on): the real dynoform-router answers every request of the app 503
// with the maintenance page and logs H80, and its dynos see none of them.
import { ensureBinary, get, raw, startBackend, startRouter, stopAll, type Backend, type Router } from "./harness";

jest.setTimeout(30_000);

let r: Router;
let b: Backend;

beforeAll(async () => {
  ensureBinary();
  r = await startRouter();
  b = await startBackend();
}, 120_000);

afterAll(() => stopAll(r, b));

async function route(body: Record<string, unknown>): Promise<number> {
  return (await r.api("PUT", "/v1/apps/calm", { domains: ["calm.example"], ...body })).status;
}

test("an app in maintenance answers 503 with Heroku's maintenance page and H80; its dyno gets nothing", async () => {
  expect(await route({})).toBeLessThan(300);
  expect((await r.api("PUT", "/v1/apps/calm/dynos/web.1", { address: b.address })).status).toBeLessThan(300);
  expect((await get(r.port, "calm.example")).status).toBe(200);
  const hits = b.hits;

  expect(await route({ maintenance: true })).toBe(200);
  const res = await get(r.port, "calm.example", "/orders?id=1", { method: "POST", body: "x=1" });
  expect(res.status).toBe(503);
  expect(res.headers["cache-control"]).toBe("no-store");
  expect(res.body).toMatch(/<title>Offline for Maintenance<\/title>/);
  expect(res.body).toMatch(/Request ID: /);
  await r.logLine(/at=error code=H80 desc="Maintenance mode" method=POST path="\/orders\?id=1" host=calm\.example .*dyno=none .*status=503/);
  const upgrade = await raw(r.port, "GET /ws HTTP/1.1\r\nHost: calm.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  expect(upgrade.data).toMatch(/^HTTP\/1\.1 503 /);
  expect(b.hits).toBe(hits);
  expect((await r.api("GET", "/v1/apps/calm")).body).toMatchObject({ maintenance: true, dynos: [{ dyno: "web.1" }] });

  expect(await route({ maintenance: false })).toBe(200);
  expect((await get(r.port, "calm.example")).status).toBe(200);
  expect(b.hits).toBe(hits + 1);
});

test("MAINTENANCE_PAGE_URL: the page frames it (escaped), the router never fetches it", async () => {
  const page = await startBackend();
  try {
    const url = `http://${page.address}/down.html?a=1&b=2`;
    expect(await route({ maintenance: true, maintenancePageUrl: url })).toBe(200);
    const res = await get(r.port, "calm.example");
    expect(res.status).toBe(503);
    expect(res.body).toContain(`<iframe src="http://${page.address}/down.html?a=1&amp;b=2"`);
    expect(page.hits).toBe(0);
    for (const bad of ["javascript:alert(1)", 'https://x.example/"><script>', "ftp://x.example/", 42]) {
      const refused = await r.api("PUT", "/v1/apps/calm", { maintenance: true, maintenancePageUrl: bad });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatch(/MAINTENANCE_PAGE_URL must be an http\(s\) URL|must be a string/);
    }
    expect((await r.api("PUT", "/v1/apps/calm", { maintenance: "yes" })).body.error).toBe("maintenance must be a boolean");
  } finally {
    await route({});
    await page.close();
  }
});
