// Two router instances that share in-flight counts (loadListen/peers, UDP with an HMAC): a dyno
// with concurrency 1 busy with a request from one instance gets nothing from the other meanwhile;
// the other instance queues until the dyno is free.
import { freePort, get, sleep, startBackend, startRouter, waitFor, type Backend, type Router } from "./harness";

jest.setTimeout(60_000);

let a: Router | undefined;
let b: Router | undefined;
let dyno: Backend | undefined;

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await dyno?.close();
});

test("a one-at-a-time dyno is never sent two requests by two instances", async () => {
  let now = 0;
  let max = 0;
  dyno = await startBackend((_req, res) => {
    now++;
    max = Math.max(max, now);
    setTimeout(() => { now--; res.end("ok\n"); }, 800);
  });
  const [ua, ub] = [await freePort(), await freePort()];
  // Same token on both (the datagrams are authenticated with it).
  a = await startRouter({ token: "shared-token", tokenFile: "", loadListen: `127.0.0.1:${ua}`, peers: `127.0.0.1:${ub}` });
  b = await startRouter({ token: "shared-token", tokenFile: "", loadListen: `127.0.0.1:${ub}`, peers: `127.0.0.1:${ua}` });
  for (const r of [a, b]) {
    expect((await r.api("PUT", "/v1/apps/pair/dynos/web.1", { address: dyno.address, concurrency: 1 }, "shared-token")).status).toBe(201);
  }
  const t0 = Date.now();
  const first = get(a.port, "pair.dynoform.test");
  await waitFor("dyno busy", () => now === 1);
  await sleep(50); // well over shareLoadMs: B has heard of A's request
  const second = get(b.port, "pair.dynoform.test");
  const [r1, r2] = await Promise.all([first, second]);
  expect([r1.status, r2.status]).toEqual([200, 200]);
  expect(max).toBe(1);
  // The second waited in B's queue for the first to finish.
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
  // Once the dyno is idle again, B serves at once (A's count went back to 0).
  const t1 = Date.now();
  expect((await get(b.port, "pair.dynoform.test")).status).toBe(200);
  expect(Date.now() - t1).toBeLessThan(1500);
});
