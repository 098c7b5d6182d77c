import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { AppStore, appNameProblem } from "../src/app_store";
import { UserError } from "../src/errors";
import { transpileSources } from "./helpers/transpile";

let root: string;
let store: AppStore;
beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-store-"));
    store = new AppStore(root);
    await store.init();
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe("apps", () => {
    test("create, list, info, destroy", async () => {
        expect(await store.listApps()).toEqual([]);
        const rec = await store.createApp("myapp", { config: { DATABASE_URL: "postgres://x" }, domains: ["myapp.dynoform.test"] });
        expect(rec).toMatchObject({ name: "myapp", stack: "dynoform-24" });
        await store.createApp("another-app");
        expect(await store.listApps()).toEqual(["another-app", "myapp"]);
        expect(await store.getConfig("myapp")).toEqual({ DATABASE_URL: "postgres://x" });
        expect(await store.getDomains("myapp")).toEqual([expect.objectContaining({ hostname: "myapp.dynoform.test", kind: "default" })]);
        expect(await store.listReleases("myapp")).toEqual([]); // v1 is the first deploy
        expect(await store.currentRelease("myapp")).toBeUndefined();
        await store.destroyApp("myapp");
        expect(await store.listApps()).toEqual(["another-app"]);
        await expect(store.getConfig("myapp")).rejects.toThrow(/Couldn't find that app: myapp/);
        expect(fs.readdirSync(path.join(root, "trash"))).toEqual([]);
    });

    test("a taken name is refused and the existing app is untouched", async () => {
        await store.createApp("myapp", { config: { A: "1" } });
        await expect(store.createApp("myapp", { config: { A: "2" } })).rejects.toThrow(/Name myapp is already taken/);
        expect(await store.getConfig("myapp")).toEqual({ A: "1" });
        expect(fs.readdirSync(path.join(root, "apps"))).toEqual(["myapp"]); // no staging dir left
    });

    test.each(["ab", "MyApp", "1app", "app-", "a_b", "../etc", "x".repeat(31)])("invalid name %p", async (name) => {
        expect(appNameProblem(name)).toMatch(/is invalid/);
        await expect(store.createApp(name)).rejects.toBeInstanceOf(UserError);
    });

    test("unknown app errors name the fix and never touch the filesystem", async () => {
        await expect(store.requireApp("nope")).rejects.toThrow('Couldn\'t find that app: nope. Run "dynoform apps" to list apps, or "dynoform apps:create nope" to create it.');
        await expect(store.getFormation("../../etc")).rejects.toBeInstanceOf(UserError);
        expect(await store.getApp("../x")).toBeUndefined();
    });

    test("init removes leftovers of crashed writers", async () => {
        await store.createApp("myapp");
        fs.writeFileSync(path.join(root, "apps", "myapp", ".config.json.tmp-123-deadbeef"), "{");
        fs.mkdirSync(path.join(root, "apps", ".creating-other-abcd1234"));
        fs.mkdirSync(path.join(root, "trash", "old-1"));
        await store.init();
        expect(fs.readdirSync(path.join(root, "apps"))).toEqual(["myapp"]);
        expect(fs.readdirSync(path.join(root, "apps", "myapp")).filter((n) => n.includes("tmp"))).toEqual([]);
        expect(fs.readdirSync(path.join(root, "trash"))).toEqual([]);
    });

    test("state survives a new store instance (control host restart)", async () => {
        await store.createApp("myapp");
        await store.setConfig("myapp", { FOO: "bar" });
        await store.setFormation("myapp", { web: { quantity: 2, size: "standard-1x" } });
        const reopened = new AppStore(root);
        await reopened.init();
        expect(await reopened.getConfig("myapp")).toEqual({ FOO: "bar" });
        expect(await reopened.getFormation("myapp")).toEqual({ web: { quantity: 2, size: "standard-1x" } });
    });

    test("state files are private to the control user", async () => {
        await store.createApp("myapp", { config: { SECRET: "x" } });
        await store.createRelease("myapp", { slug: { sha256: "a".repeat(64), size: 10 }, config: { SECRET: "x" }, processTypes: {}, commit: null, description: "Deploy 1a2b3c4" });
        expect(fs.statSync(path.join(root, "apps", "myapp", "config.json")).mode & 0o077).toBe(0);
        expect(fs.statSync(path.join(root, "apps", "myapp", "releases", "v1.json")).mode & 0o077).toBe(0);
    });

    test("a corrupt state file is reported with its path", async () => {
        await store.createApp("myapp");
        fs.writeFileSync(path.join(root, "apps", "myapp", "formation.json"), "{not json");
        await expect(store.getFormation("myapp")).rejects.toThrow(/formation.json is not valid JSON/);
    });
});

describe("releases", () => {
    const draft = (description: string) => ({
        slug: { url: "/slugs/x.tgz", sha256: "a".repeat(64), size: 10 },
        config: { A: "1" },
        processTypes: { web: "npm start" },
        commit: "1a2b3c4d",
        description,
    });

    test("numbered, newest first, current = newest succeeded", async () => {
        await store.createApp("myapp");
        const v1 = await store.createRelease("myapp", draft("Deploy 1a2b3c4"));
        expect(v1).toMatchObject({ version: 1, status: "pending" });
        expect(await store.currentRelease("myapp")).toBeUndefined();
        await store.setReleaseStatus("myapp", 1, "succeeded");
        const v2 = await store.createRelease("myapp", draft("Deploy 5e6f7a8"));
        await store.setReleaseStatus("myapp", v2.version, "succeeded");
        const v3 = await store.createRelease("myapp", draft("Set A config vars"));
        await store.setReleaseStatus("myapp", v3.version, "failed", "release phase exited 1");
        expect((await store.listReleases("myapp")).map((r) => [r.version, r.status])).toEqual([
            [3, "failed"],
            [2, "succeeded"],
            [1, "succeeded"],
        ]);
        expect((await store.currentRelease("myapp"))!.version).toBe(2);
        expect((await store.getRelease("myapp", 3))!.reason).toBe("release phase exited 1");
        expect((await store.listReleases("myapp", 1)).map((r) => r.version)).toEqual([3]);
        expect(await store.getRelease("myapp", 9)).toBeUndefined();
    });

    test("a release an older dynoform made before any code (slug null) is none: the first deploy after it serves", async () => {
        await store.createApp("myapp");
        const dir = path.join(root, "apps", "myapp", "releases");
        fs.writeFileSync(path.join(dir, "v1.json"), JSON.stringify({ version: 1, slug: null, config: { A: "1" }, processTypes: {}, description: "Initial release", createdAt: new Date().toISOString() }));
        fs.writeFileSync(path.join(dir, "v1.status.json"), JSON.stringify({ status: "succeeded", updatedAt: new Date().toISOString() }));
        expect(await store.currentRelease("myapp")).toBeUndefined();
        expect(await store.getRelease("myapp", 1)).toBeUndefined();
        expect(await store.listReleases("myapp")).toEqual([]);
        const v2 = await store.createRelease("myapp", draft("Deploy 1a2b3c4"));
        expect(v2.version).toBe(2);
    });

    test("release records are immutable: status changes do not rewrite them", async () => {
        await store.createApp("myapp");
        const v1 = await store.createRelease("myapp", draft("Deploy 1a2b3c4"));
        const file = path.join(root, "apps", "myapp", "releases", "v1.json");
        const before = fs.readFileSync(file, "utf8");
        const ino = fs.statSync(file).ino;
        await store.setReleaseStatus("myapp", v1.version, "succeeded");
        expect(fs.readFileSync(file, "utf8")).toBe(before);
        expect(fs.statSync(file).ino).toBe(ino);
    });

    test("concurrent creators never reuse a version", async () => {
        await store.createApp("myapp");
        const made = await Promise.all(Array.from({ length: 8 }, (_, i) => store.createRelease("myapp", draft(`r${i}`))));
        expect(new Set(made.map((r) => r.version)).size).toBe(8);
        expect((await store.listReleases("myapp")).length).toBe(8);
    });

    test("status of an unknown release is a user error", async () => {
        await store.createApp("myapp");
        await expect(store.setReleaseStatus("myapp", 7, "failed")).rejects.toThrow(/Release v7 not found/);
    });
});

describe("per-app lock", () => {
    test("serializes read-modify-write within a process", async () => {
        await store.createApp("myapp", { config: { N: "0" } });
        const bump = () =>
            store.withAppLock("myapp", "test", async () => {
                const c = await store.getConfig("myapp");
                await new Promise((r) => setTimeout(r, 2));
                await store.setConfig("myapp", { N: String(Number(c.N) + 1) });
            });
        await Promise.all(Array.from({ length: 20 }, bump));
        expect((await store.getConfig("myapp")).N).toBe("20");
    });

    test("serializes read-modify-write across processes", async () => {
        await store.createApp("myapp", { config: { N: "0" } });
        const js = transpileSources();
        try {
            const script = `
                const { AppStore } = require(${JSON.stringify(path.join(js, "app_store.js"))});
                (async () => {
                    const s = new AppStore(process.argv[1]);
                    for (let i = 0; i < 10; i++) {
                        await s.withAppLock("myapp", "bump", async () => {
                            const c = await s.getConfig("myapp");
                            await s.setConfig("myapp", { N: String(Number(c.N) + 1) });
                        }, { pollMs: 5 });
                    }
                })().catch((e) => { console.error(e); process.exit(1); });`;
            const run = () =>
                new Promise<number>((resolve) => {
                    const p = spawn(process.execPath, ["-e", script, root], { stdio: ["ignore", "inherit", "inherit"] });
                    p.on("exit", (code) => resolve(code ?? 1));
                });
            expect(await Promise.all([run(), run(), run()])).toEqual([0, 0, 0]);
            expect((await store.getConfig("myapp")).N).toBe("30");
        } finally {
            fs.rmSync(js, { recursive: true, force: true });
        }
    }, 30_000);

    test("a lock left by a dead process is broken; a live holder makes waiters time out with a clear error", async () => {
        await store.createApp("myapp");
        const lock = path.join(root, "locks", "myapp.lock");
        fs.writeFileSync(lock, `999999999 ${os.hostname()} deadbeef deploy`);
        await expect(store.withAppLock("myapp", "x", async () => "ran")).resolves.toBe("ran");
        expect(fs.existsSync(lock)).toBe(false);

        fs.writeFileSync(lock, `${process.ppid} ${os.hostname()} cafe0000 deploy`);
        await expect(store.withAppLock("myapp", "x", async () => "ran", { timeoutMs: 100 })).rejects.toThrow(
            `myapp: another operation is in progress (deploy by pid ${process.ppid} on ${os.hostname()}); try again when it finishes.`,
        );
        expect(fs.readFileSync(lock, "utf8")).toContain("cafe0000"); // a live holder's lock is left alone
    });

    test("the lock is released when the body throws", async () => {
        await store.createApp("myapp");
        await expect(store.withAppLock("myapp", "x", async () => { throw new Error("boom"); })).rejects.toThrow("boom");
        await expect(store.withAppLock("myapp", "x", async () => 1, { timeoutMs: 100 })).resolves.toBe(1);
    });
});
