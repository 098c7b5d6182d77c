// Who may do what on the control API, and who may speak load gossip: each dyno host's agent has a
// credential of its own (the router keeps its SHA-256 and the host's private address); it may
// register only dynos at that address, only for apps the control role placed on that host, and
// nothing else. Gossip between routers carries an HMAC with a key of its own and a timestamp.
import { spawnSync } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary, freePort, get, startBackend, startRouter, stopAll, waitFor, type Backend, type Router } from "./harness";

jest.setTimeout(60_000);

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
// dyno-1 is 127.0.0.1 (where the test's dyno listens), dyno-2 is 127.0.0.2.
const DYNO1 = "dyno-1-credential";
const DYNO2 = "dyno-2-credential";
const agents = [
  { address: "127.0.0.1", tokenSha256: sha256(DYNO1) },
  { address: "127.0.0.2", tokenSha256: sha256(DYNO2) },
];

let router: Router | undefined;
let dyno: Backend | undefined;
const dirs: string[] = [];

afterAll(async () => {
  await stopAll(router, dyno);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const dynoNames = async (r: Router, app: string): Promise<string[]> => {
  const got = await r.api("GET", `/v1/apps/${app}`);
  return got.status === 200 ? got.body.dynos.map((d: { dyno: string }) => d.dyno) : [];
};

describe("dyno hosts' credentials", () => {
  beforeAll(async () => {
    dyno = await startBackend();
    router = await startRouter({ agents });
    expect((await router.api("PUT", "/v1/apps/shop/placement", { hosts: ["127.0.0.1"] })).status).toBe(200);
  });

  test("a host registers its own dyno of an app placed on it, and it is served", async () => {
    const put = await router!.api("PUT", "/v1/apps/shop/dynos/web.1", { address: dyno!.address }, DYNO1);
    expect(put.status).toBe(201);
    expect((await get(router!.port, "shop.dynoform.test", "/")).status).toBe(200);
  });

  test("a host's credential cannot register an address of another host", async () => {
    const put = await router!.api("PUT", "/v1/apps/shop/dynos/web.9", { address: dyno!.address }, DYNO2);
    expect(put.status).toBe(403);
    expect(put.body.error).toBe(`address ${dyno!.address} is not on this dyno host (127.0.0.2)`);
    expect(await dynoNames(router!, "shop")).toEqual(["web.1"]);
  });

  test("a host's credential cannot register an app not placed on it", async () => {
    const onDyno2 = await router!.api("PUT", "/v1/apps/shop/dynos/web.9", { address: "127.0.0.2:5000" }, DYNO2);
    expect(onDyno2.status).toBe(403);
    expect(onDyno2.body.error).toBe("app shop is not placed on dyno host 127.0.0.2");
    const unplaced = await router!.api("PUT", "/v1/apps/other/dynos/web.1", { address: dyno!.address }, DYNO1);
    expect(unplaced.status).toBe(403);
    expect(unplaced.body.error).toBe("app other is not placed on dyno host 127.0.0.1");
    expect(await dynoNames(router!, "other")).toEqual([]);
  });

  test("a host's credential cannot deregister another host's dyno", async () => {
    const del = await router!.api("DELETE", "/v1/apps/shop/dynos/web.1", { address: dyno!.address }, DYNO2);
    expect(del.status).toBe(403);
    expect(await dynoNames(router!, "shop")).toEqual(["web.1"]);
  });

  test("a host's credential does nothing else: no domains, routes, placements or listings", async () => {
    const calls: Array<[string, string, unknown?]> = [
      ["PUT", "/v1/apps/shop", { domains: ["www.example.com"] }],
      ["DELETE", "/v1/apps/shop"],
      ["PUT", "/v1/apps/shop/placement", { hosts: ["127.0.0.1", "127.0.0.2"] }],
      ["GET", "/v1/apps"],
      ["GET", "/v1/apps/shop"],
    ];
    for (const [method, path, body] of calls) {
      const r = await router!.api(method, path, body, DYNO1);
      expect([method, path, r.status, r.body.error]).toEqual([method, path, 403, "a dyno host's credential only registers and deregisters its own dynos"]);
    }
    const shop = await router!.api("GET", "/v1/apps/shop");
    expect(shop.body).toMatchObject({ domains: [], placement: ["127.0.0.1"] });
  });

  test("an unknown credential is 401; the control role's token may register anything", async () => {
    expect((await router!.api("PUT", "/v1/apps/shop/dynos/web.2", { address: dyno!.address }, "not-a-credential")).status).toBe(401);
    expect((await router!.api("PUT", "/v1/apps/other/dynos/web.1", { address: "127.0.0.2:5000" })).status).toBe(201);
    expect((await router!.api("DELETE", "/v1/apps/other/dynos/web.1", { address: "127.0.0.2:5000" })).status).toBe(200);
  });

  test("its own dyno's deregistration is accepted, after the app moved off the host too", async () => {
    expect((await router!.api("PUT", "/v1/apps/shop/placement", { hosts: ["127.0.0.2"] })).status).toBe(200);
    const renew = await router!.api("PUT", "/v1/apps/shop/dynos/web.1", { address: dyno!.address }, DYNO1);
    expect(renew.status).toBe(403);
    expect((await router!.api("DELETE", "/v1/apps/shop/dynos/web.1", { address: dyno!.address }, DYNO1)).status).toBe(200);
    expect(await dynoNames(router!, "shop")).toEqual([]);
  });

  test("placements survive a restart; a state file from before placements keeps its dynos' hosts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dynoform-router-creds-"));
    dirs.push(dir);
    const stateFile = join(dir, "routes.json");
    // What the previous router version saved: live dynos, no placements.
    const expiresAt = Date.now() + 600_000;
    writeFileSync(stateFile, JSON.stringify({ apps: [], dynos: [{ app: "old", dyno: "web.1", address: dyno!.address, leaseMs: 600_000, expiresAt, registeredAt: Date.now() }] }));
    let r = await startRouter({ agents, stateFile });
    try {
      expect((await r.api("PUT", "/v1/apps/old/dynos/web.1", { address: dyno!.address }, DYNO1)).status).toBe(200);
      expect((await r.api("PUT", "/v1/apps/old/dynos/web.2", { address: "127.0.0.2:5000" }, DYNO2)).status).toBe(403);
      expect((await r.api("PUT", "/v1/apps/new/placement", { hosts: ["127.0.0.2"] })).status).toBe(200);
    } finally {
      await r.stop();
    }
    r = await startRouter({ agents, stateFile });
    try {
      expect((await r.api("PUT", "/v1/apps/new/dynos/web.1", { address: "127.0.0.2:5000" }, DYNO2)).status).toBe(201);
      expect((await r.api("PUT", "/v1/apps/new/dynos/web.2", { address: dyno!.address }, DYNO1)).status).toBe(403);
      // Deleting the app forgets its placement.
      expect((await r.api("DELETE", "/v1/apps/new")).status).toBe(200);
      expect((await r.api("PUT", "/v1/apps/new/dynos/web.1", { address: "127.0.0.2:5000" }, DYNO2)).status).toBe(403);
    } finally {
      await r.stop();
    }
  });
});

describe("a rotation (runbooks/rotate-secrets.mjs): old and new side by side, then the new alone", () => {
  const OLD = "control-token-old";
  const NEW = "control-token-new";
  const DYNO1_NEW = "dyno-1-credential-new";
  const tokenFile = (lines: string[]): string => {
    const dir = mkdtempSync(join(tmpdir(), "dynoform-router-rotation-"));
    dirs.push(dir);
    writeFileSync(join(dir, "router-control.token"), lines.join("\n") + "\n");
    return join(dir, "router-control.token");
  };

  test("while senders switch, the control role's old and new tokens and a host's old and new credentials are accepted, nothing else", async () => {
    const both = await startRouter({ tokenFile: tokenFile([NEW, OLD]), agents: [...agents, { address: "127.0.0.1", tokenSha256: sha256(DYNO1_NEW) }] });
    try {
      expect((await both.api("GET", "/v1/apps", undefined, OLD)).status).toBe(200);
      expect((await both.api("GET", "/v1/apps", undefined, NEW)).status).toBe(200);
      for (const bad of ["", OLD + NEW, NEW.slice(0, -1), `${NEW} ${OLD}`, "dyno-1-credential-newer", DYNO2 + "x"]) {
        expect([bad, (await both.api("GET", "/v1/apps", undefined, bad)).status]).toEqual([bad, 401]);
      }
      expect((await both.api("PUT", "/v1/apps/shop/placement", { hosts: ["127.0.0.1"] }, NEW)).status).toBe(200);
      expect((await both.api("PUT", "/v1/apps/shop/dynos/web.1", { address: "127.0.0.1:5000" }, DYNO1)).status).toBe(201);
      expect((await both.api("PUT", "/v1/apps/shop/dynos/web.1", { address: "127.0.0.1:5000" }, DYNO1_NEW)).status).toBe(200);
      // Either of a host's credentials is that host's alone.
      expect((await both.api("PUT", "/v1/apps/shop/dynos/web.2", { address: "127.0.0.2:5000" }, DYNO1_NEW)).status).toBe(403);
      expect((await both.api("PUT", "/v1/apps/shop/dynos/web.3", { address: "127.0.0.1:5001" }, "dyno-1-credential-old")).status).toBe(401);
    } finally {
      await both.stop();
    }
  });

  test("once the old ones are dropped, they are refused", async () => {
    const after = await startRouter({ tokenFile: tokenFile([NEW]), agents: [{ address: "127.0.0.1", tokenSha256: sha256(DYNO1_NEW) }] });
    try {
      expect((await after.api("GET", "/v1/apps", undefined, NEW)).status).toBe(200);
      expect((await after.api("GET", "/v1/apps", undefined, OLD)).status).toBe(401);
      expect((await after.api("PUT", "/v1/apps/shop/placement", { hosts: ["127.0.0.1"] }, NEW)).status).toBe(200);
      expect((await after.api("PUT", "/v1/apps/shop/dynos/web.1", { address: "127.0.0.1:5000" }, DYNO1)).status).toBe(401);
      expect((await after.api("PUT", "/v1/apps/shop/dynos/web.1", { address: "127.0.0.1:5000" }, DYNO1_NEW)).status).toBe(201);
    } finally {
      await after.stop();
    }
  });
});

describe("load gossip", () => {
  const KEY = "gossip-key";
  let peer: Router | undefined;
  let loadPort = 0;
  const sock = createSocket("udp4");

  beforeAll(async () => {
    loadPort = await freePort();
    const otherPort = await freePort();
    peer = await startRouter({ gossipKey: KEY, loadListen: `127.0.0.1:${loadPort}`, peers: `127.0.0.1:${otherPort}` });
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  });
  afterAll(async () => {
    sock.close();
    await peer?.stop();
  });

  const datagram = (key: string, payload: object) => {
    const body = Buffer.from(JSON.stringify(payload));
    return Buffer.concat([createHmac("sha256", key).update(body).digest(), body]);
  };
  const send = (m: Buffer) => new Promise<void>((r) => sock.send(m, loadPort, "127.0.0.1", () => r()));
  const rejected = async (): Promise<Record<string, number>> => {
    const text = String((await peer!.api("GET", "/metrics")).body);
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^dynoform_router_gossip_rejected_total\{reason="(\w+)"\} (\d+)$/gm)) out[m[1]] = Number(m[2]);
    return out;
  };

  test("forged, stale and replayed datagrams are ignored and counted", async () => {
    expect(await rejected()).toEqual({ forged: 0, stale: 0, replayed: 0 });
    const load = { i: "attacker", f: 1, l: [["shop/web.1", 1000]] };
    // The control token or any other key: forged.
    await send(datagram(peer!.token, { ...load, s: 1, t: Date.now() }));
    await waitFor("forged counted", async () => (await rejected()).forged === 1);
    await send(datagram(KEY, { ...load, s: 2, t: Date.now() - 60_000 }));
    await waitFor("stale counted", async () => (await rejected()).stale === 1);
    const good = datagram(KEY, { ...load, s: 3, t: Date.now() });
    await send(good);
    await send(good);
    await waitFor("replay counted", async () => (await rejected()).replayed === 1);
    expect(await rejected()).toEqual({ forged: 1, stale: 1, replayed: 1 });
  });

  test("a router with peers and no gossip key does not start, and says why", () => {
    const dir = mkdtempSync(join(tmpdir(), "dynoform-router-creds-"));
    dirs.push(dir);
    writeFileSync(join(dir, "router.json"), JSON.stringify({ listen: "127.0.0.1:0", controlListen: "127.0.0.1:0", token: "t", workers: 1, loadListen: "127.0.0.1:0", peers: "127.0.0.1:9" }));
    const run = spawnSync(ensureBinary(), ["--config", join(dir, "router.json")], { encoding: "utf8", timeout: 20_000 });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("config loadListen needs gossipKey or gossipKeyFile");
  });
});
