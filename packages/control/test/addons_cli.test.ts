// addons:create memcache: apps made before per-app Memcached (MEMCACHE_SERVERS pointing at the
// retired shared instance, no MEMCACHE_USERNAME) get their own; apps:info says which they have.
import { harness, Harness } from "./helpers/cli_harness";
import { push } from "./helpers/push";

let h: Harness;
beforeEach(async () => (h = await harness()));
afterEach(() => h.cleanup());

/** An app as apps:create made it before: the shared instance's address only. */
async function legacyApp(app: string) {
    expect((await h.cli("apps:create", app)).code).toBe(0);
    const cur = await h.store.getConfig(app);
    const { MEMCACHE_USERNAME: _u, MEMCACHE_PASSWORD: _p, ...rest } = cur;
    await h.store.setConfig(app, { ...rest, MEMCACHE_SERVERS: "10.99.0.4:11211" });
}

test("apps:info tells an app's own Memcached from the retired shared one, and how to fix it", async () => {
    await h.cli("apps:create", "fresh");
    expect((await h.cli("apps:info", "-a", "fresh")).out.slice(1, 3)).toEqual(["Addons:    postgresql (DATABASE_URL)", "           memcached (MEMCACHE_SERVERS)"]);
    await legacyApp("old");
    expect((await h.cli("apps:info", "-a", "old")).out[2]).toBe("           memcached (MEMCACHE_SERVERS: the retired shared one; run dynoform addons:create memcache)");
});

test("addons:create memcache before the first deploy: the app's own Memcached, kept for v1", async () => {
    await legacyApp("old");
    const r = await h.cli("addons:create", "memcache", "-a", "old");
    expect(r).toMatchObject({ code: 0, err: ["Creating memcache on ⬢ old... done"], out: ["Set MEMCACHE_PASSWORD, MEMCACHE_SERVERS and MEMCACHE_USERNAME"] });
    expect(h.fleet.calls).toContain("provision old memcache");
    expect(await h.store.getConfig("old")).toMatchObject({ MEMCACHE_SERVERS: "10.99.0.4:11300", MEMCACHE_USERNAME: "old", MEMCACHE_PASSWORD: "mcsecret" });
    const again = await h.cli("addons:create", "memcache", "-a", "old");
    expect(again).toMatchObject({ code: 1, err: [" ▸    old already has its own Memcached (MEMCACHE_USERNAME is set): nothing to do"] });
});

test("addons:create memcache on a deployed app makes a release with the new config vars", async () => {
    await legacyApp("old");
    const pushed = await push(h, { Procfile: "web: ./serve\n" }, "1a2b3c4d5e6f", "old");
    expect(pushed.result).not.toBeInstanceOf(Error);
    const r = await h.cli("addons:create", "memcache", "-a", "old");
    expect(r.code).toBe(0);
    expect(r.err[r.err.length - 1]).toMatch(/^Creating memcache on ⬢ old\.\.\. done, v2$/);
    expect(await h.store.currentRelease("old")).toMatchObject({ version: 2, description: "Set MEMCACHE_PASSWORD, MEMCACHE_SERVERS, MEMCACHE_USERNAME config vars", config: { MEMCACHE_USERNAME: "old" } });
});

test("addons:create refuses other kinds, unknown apps", async () => {
    await h.cli("apps:create", "myapp");
    expect((await h.cli("addons:create", "redis", "-a", "myapp")).err).toEqual([" ▸    Unknown add-on redis: the one to create is memcache (apps:create makes every app's add-ons)"]);
    expect((await h.cli("addons:create", "memcache", "-a", "nope")).code).toBe(1);
});
