// Two router instances that share in-flight counts (loadListen/peers, UDP with an HMAC): while a
// one-at-a-time dyno is busy with a request from one instance, the other instance sends its
// requests to the dyno that is free.
import { freePort, get, sleep, startBackend, startRouter, stopAll, waitFor, type Backend, type Router } from "./harness";

jest.setTimeout(60_000);

let a: Router | undefined;
let b: Router | undefined;
const dynos: Backend[] = [];

afterAll(() => stopAll(a, b, ...dynos));

test("an instance steers away from a dyno its peer keeps busy", async () => {
  const busy = new Map<number, number>();
  for (let i = 0; i < 2; i++) {
    const d: Backend = await startBackend((req, res) => {
      busy.set(d.port, (busy.get(d.port) ?? 0) + 1);
      setTimeout(() => { busy.set(d.port, busy.get(d.port)! - 1); res.end("ok\n"); }, req.url === "/slow" ? 1500 : 5);
    });
    dynos.push(d);
  }
  const [ua, ub] = [await freePort(), await freePort()];
  // Same gossip key on both (the datagrams are authenticated with it); each has its own control token.
  a = await startRouter({ gossipKey: "shared-gossip-key", loadListen: `127.0.0.1:${ua}`, peers: `127.0.0.1:${ub}` });
  b = await startRouter({ gossipKey: "shared-gossip-key", loadListen: `127.0.0.1:${ub}`, peers: `127.0.0.1:${ua}` });
  for (const r of [a, b]) {
    for (const [i, d] of dynos.entries()) {
      expect((await r.api("PUT", `/v1/apps/pair/dynos/web.${i + 1}`, { address: d.address, concurrency: 1 })).status).toBe(201);
    }
  }
  const slow = get(a.port, "pair.dynoform.test", "/slow");
  await waitFor("a dyno busy", () => [...busy.values()].some((n) => n === 1));
  const busyPort = [...busy.entries()].find(([, n]) => n === 1)![0];
  const before = dynos.find((d) => d.port === busyPort)!.hits;
  await sleep(50); // well over shareLoadMs: B has heard of A's request
  // Without shared counts B would pick at random: 8 requests all avoiding the busy dyno by chance: 1/256.
  for (let i = 0; i < 8; i++) expect((await get(b.port, "pair.dynoform.test")).status).toBe(200);
  expect(dynos.find((d) => d.port === busyPort)!.hits).toBe(before);
  expect((await slow).status).toBe(200);
});
