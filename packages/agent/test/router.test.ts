// Registration with routers: a fake router (exact calls), then the real dynoform-router.
import * as fs from "node:fs";
import { desired, get, sleep, waitFor } from "./helpers";
import { FakeRouter, RealRouter, ROUTER_MAIN, routerSuite } from "./router_harness";

jest.setTimeout(60_000);

const { base, cleanups, agentWith } = routerSuite();

test("registers up web dynos with every router, renews, deregisters before SIGTERM, re-registers after a router restart", async () => {
  const r1 = new FakeRouter();
  const r2 = new FakeRouter();
  await r1.start();
  await r2.start();
  cleanups.push(() => r1.stop());
  cleanups.push(() => r2.stop());
  const a = await agentWith({ routers: [{ url: r1.url, token: "t1" }, { url: r2.url }], registrationToken: "shared", leaseMs: 600, renewMs: 200 });
  await a.api("PUT", "/v1/apps/reg", desired(base.slug, { dynos: ["web.1", "worker.1"], concurrency: 7 }));
  const d = await waitFor("web.1 up", async () => ((await a.dyno("reg", "web.1"))?.state === "up" ? a.dyno("reg", "web.1") : undefined));
  for (const [r, auth] of [[r1, "Bearer t1"], [r2, "Bearer shared"]] as const) {
    await waitFor("registered", () => r.table.get("/v1/apps/reg/dynos/web.1"));
    const put = r.calls.find((c) => c.method === "PUT")!;
    expect(put.path).toBe("/v1/apps/reg/dynos/web.1");
    expect(put.auth).toBe(auth);
    expect(put.body).toEqual({ address: `127.0.0.1:${d.port}`, concurrency: 7, release: 1, leaseMs: 600 });
    expect(r.calls.some((c) => c.path.includes("worker"))).toBe(false); // only web dynos
  }
  expect((await a.dyno("reg", "web.1")).registered).toBe(true);
  // renewals
  await waitFor("renewed", () => r1.calls.filter((c) => c.method === "PUT").length >= 3, 2000);
  // a router that lost its table (restart) gets the dyno back within one renewal interval
  await r2.stop();
  await sleep(250);
  const port2 = r2.port;
  const r2b = new FakeRouter();
  await r2b.start(port2);
  cleanups.push(() => r2b.stop());
  const t0 = Date.now();
  await waitFor("re-registered", () => r2b.table.get("/v1/apps/reg/dynos/web.1"), 1000);
  expect(Date.now() - t0).toBeLessThan(600);
  expect((await a.api("GET", "/v1/status")).body.routers.every((r: any) => r.ok)).toBe(true);
  // stop: DELETE reaches the routers before SIGTERM is sent
  await a.api("PUT", "/v1/apps/reg", desired(base.slug, { dynos: [] }));
  await a.waitLog("reg", /heroku\[web\.1\]: State changed from stopping to down/);
  const del = r1.calls.find((c) => c.method === "DELETE");
  expect(del?.path).toBe("/v1/apps/reg/dynos/web.1");
  expect(del?.body).toEqual({ address: `127.0.0.1:${d.port}` }); // the router removes the name only while it points here
  const term = a.agent.logs.recent("reg").find((l) => /Stopping all processes with SIGTERM/.test(l.msg) && l.dyno === "web.1")!;
  expect(del!.at).toBeLessThanOrEqual(Date.parse(term.ts.slice(0, 23) + "Z"));
  const after = r1.calls.length;
  await sleep(500);
  expect(r1.calls.slice(after).filter((c) => c.method === "PUT")).toEqual([]); // no renewals after deregistration
});

const haveRouter = fs.existsSync(ROUTER_MAIN);
(haveRouter ? test : test.skip)("real router: web dyno in its table within a second of readiness, serving, and out of it before SIGTERM", async () => {
  const router = await RealRouter.create();
  cleanups.push(() => router.destroy());
  await router.start();
  await router.api("PUT", "/v1/apps/real", { domains: [] });
  const a = await agentWith({ routers: [{ url: router.controlUrl, token: router.token }], leaseMs: 3000 });
  const env = { RELEASE: "v1", ON_TERM_URL: `${router.controlUrl}/v1/apps/real`, ON_TERM_TOKEN: router.token };
  await a.api("PUT", "/v1/apps/real", desired(base.slug, { env }));
  let inTableAt = 0;
  await waitFor("router has web.1", async () => {
    const ds = await router.dynos("real");
    if (ds.some((x) => x.dyno === "web.1")) inTableAt = Date.now();
    return inTableAt > 0;
  }, 5000, 5);
  const d = await a.dyno("real", "web.1");
  expect(d.state).toBe("up");
  const upAt = Date.parse(d.upAt);
  expect(inTableAt - upAt).toBeLessThan(1000);
  const [entry] = await router.dynos("real");
  expect(entry.address).toBe(`127.0.0.1:${d.port}`);
  expect(entry.release).toBe(1);
  const served = await get(`http://127.0.0.1:${router.port}/`, "real.dynoform.test");
  expect(served.status).toBe(200);
  expect(served.text).toBe("web.1 v1\n");

  // router restart: whole again within one renewal interval
  await router.stop();
  await router.start();
  await router.api("PUT", "/v1/apps/real", { domains: [] });
  await waitFor("re-registered with the restarted router", async () => (await router.dynos("real")).length === 1, a.config.renewMs + 1500, 20);

  // stop: when the dyno receives SIGTERM the router no longer lists it
  await a.api("PUT", "/v1/apps/real", desired(base.slug, { env, dynos: [] }));
  const said = await a.waitLog("real", /app\[web\.1\]: on SIGTERM router says: /, 5000);
  const json = JSON.parse(said.replace(/^.*router says: /, ""));
  expect(json.dynos).toEqual([]);
});
