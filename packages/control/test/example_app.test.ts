// examples/node-counter: its Procfile, package.json and Memcached client, checked without a
// database (the lab tests deploy it for real).
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { parseProcfile, releaseCommand } from "../src/procfile";

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

/** A tiny Memcached speaking the text protocol's get/set/delete. */
function fakeMemcached(): Promise<{ port: number; close: () => void; commands: string[] }> {
    const store = new Map<string, Buffer>();
    const commands: string[] = [];
    const server = net.createServer((sock) => {
        let buf = Buffer.alloc(0);
        sock.on("data", (chunk) => {
            buf = Buffer.concat([buf, chunk]);
            for (;;) {
                const i = buf.indexOf("\r\n");
                if (i === -1) return;
                const [cmd, key, , , len] = buf.subarray(0, i).toString().split(" ");
                if (cmd === "set") {
                    const n = Number(len);
                    if (buf.length < i + 2 + n + 2) return;
                    store.set(key, buf.subarray(i + 2, i + 2 + n));
                    buf = buf.subarray(i + 2 + n + 2);
                    commands.push(`set ${key}`);
                    sock.write("STORED\r\n");
                    continue;
                }
                buf = buf.subarray(i + 2);
                commands.push(`${cmd} ${key}`);
                if (cmd === "get") {
                    const v = store.get(key);
                    // answer in two writes to exercise reassembly
                    if (v) {
                        sock.write(`VALUE ${key} 0 ${v.length}\r\n`);
                        sock.write(Buffer.concat([v, Buffer.from("\r\nEND\r\n")]));
                    } else sock.write("END\r\n");
                } else if (cmd === "delete") sock.write(store.delete(key) ? "DELETED\r\n" : "NOT_FOUND\r\n");
                else sock.write("ERROR\r\n");
            }
        });
    });
    return new Promise((resolve) =>
        server.listen(0, "127.0.0.1", () => resolve({ port: (server.address() as net.AddressInfo).port, close: () => server.close(), commands })),
    );
}

test("memcache client: miss, set, hit (multi-byte, split replies), pipelined calls, delete", async () => {
    const fake = await fakeMemcached();
    const mc = new Memcache(`127.0.0.1:${fake.port}`);
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
        fake.close();
    }
});

test("memcache client: an unreachable server is a miss, not an error", async () => {
    const mc = new Memcache("127.0.0.1:1", { timeoutMs: 300 });
    expect(await mc.get("k")).toBeUndefined();
    expect(await mc.set("k", "v")).toBe(false);
    mc.close();
});
