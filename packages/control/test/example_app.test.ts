// examples/node-counter: its Procfile, package.json and Memcached client, checked without a
// database (the lab tests deploy it for real).
import * as fs from "node:fs";
import * as path from "node:path";
import { parseProcfile, releaseCommand } from "../src/procfile";
import { memcachedMissing, startMemcached } from "../../../test/support/memcached";
import { freePortRun } from "../../../test/support/ports";

const EXAMPLE = path.resolve(__dirname, "../../../examples/node-counter");
const { Memcache } = require(path.join(EXAMPLE, "lib", "memcache.js"));

test("Procfile declares web, worker and a release-phase migration; Node 24 from the registry", () => {
    const types = parseProcfile(fs.readFileSync(path.join(EXAMPLE, "Procfile"), "utf8"));
    expect(Object.keys(types)).toEqual(["web", "worker", "release"]);
    expect(releaseCommand(types)).toBe("node migrate.js");
    const pkg = JSON.parse(fs.readFileSync(path.join(EXAMPLE, "package.json"), "utf8"));
    expect(pkg.engines.node).toBe("24.x");
    expect(Object.keys(pkg.dependencies)).toEqual(["pg"]);
    expect(fs.existsSync(path.join(EXAMPLE, "package-lock.json"))).toBe(true);
});

const missing = memcachedMissing();
const testReal = missing ? test.skip : test;
if (missing) test.todo(`memcache client against a real memcached: skipped, ${missing}`);

testReal("memcache client: miss, set, hit (multi-byte), pipelined calls, delete (real memcached, binary protocol)", async () => {
    const port = await freePortRun(1);
    const server = await startMemcached(["-U", "0", "-l", "127.0.0.1", "-p", String(port), "-m", "8"], port, {});
    const mc = new Memcache(`127.0.0.1:${port}`, { username: "", password: "" });
    try {
        expect(await mc.get("k")).toBeUndefined();
        expect(await mc.set("k", "héllo\r\nwörld", 30)).toBe(true);
        expect(await mc.get("k")).toBe("héllo\r\nwörld");
        const many = await Promise.all([mc.get("k"), mc.set("j", "2"), mc.get("j"), mc.get("nope")]);
        expect(many).toEqual(["héllo\r\nwörld", true, "2", undefined]);
        expect(await mc.delete("k")).toBe(true);
        expect(await mc.get("k")).toBeUndefined();
        await expect(mc.get("bad key")).rejects.toThrow(/invalid memcached key/);
    } finally {
        mc.close();
        await server.stop();
    }
});

test("memcache client: an unreachable server is a miss, not an error", async () => {
    const mc = new Memcache("127.0.0.1:1", { timeoutMs: 300, username: "app", password: "x" });
    expect(await mc.get("k")).toBeUndefined();
    expect(await mc.set("k", "v")).toBe(false);
    mc.close();
});

test("memcache client: MEMCACHE_SERVERS unset is localhost (as memjs and dalli); nothing there is a miss", async () => {
    const saved = { ...process.env };
    delete process.env.MEMCACHE_SERVERS;
    try {
        const mc = new Memcache(undefined, { timeoutMs: 300 });
        expect(mc.connections.map((c: { host: string; port: number }) => `${c.host}:${c.port}`)).toEqual(["127.0.0.1:11211"]);
        mc.close();
    } finally {
        process.env = saved;
    }
});
