// The per-app Memcached mechanism, for real: the data host's `dynoform-addons` script (rendered as
// the stack renders it) run as root in a temporary prefix, and memcached started with the exact
// command line of the rendered dynoform-memcached@.service, as the memcache user, on loopback.
// Proves that without credentials, or with another app's, nothing can be read, written or flushed.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { render } from "../../components/templates/render";
import { freePortRun } from "../support/ports";
import { binarySession, memcachedMissing, RunningMemcached, startMemcached, STATUS, textCommand } from "../support/memcached";

const missing = memcachedMissing();
let tmp: string;
let script: string;
let systemctlLog: string;
let firstPort: number;
const running: RunningMemcached[] = [];
const PASSWORD = { a: "a".repeat(8) + "Secret0123456789", b: "b".repeat(8) + "Secret0123456789" };

function addons(args: string[], opts: { stdin?: string; sshCommand?: string } = {}) {
    const r = spawnSync(script, opts.sshCommand === undefined ? args : [], {
        input: opts.stdin ?? "",
        encoding: "utf8",
        env: {
            PATH: process.env.PATH,
            DYNOFORM_ADDONS_ROOT: tmp,
            DYNOFORM_ADDONS_SYSTEMCTL: path.join(tmp, "systemctl"),
            ...(opts.sshCommand !== undefined ? { SSH_ORIGINAL_COMMAND: opts.sshCommand } : {}),
        },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts app's memcached the way systemd would: the unit's ExecStart with the instance's env file. */
async function startInstance(app: string): Promise<RunningMemcached> {
    const unit = render("memcached/dynoform-memcached@.service", { listenAddress: "127.0.0.1", memoryMb: 8, maxConnections: 64 });
    const dir = path.join(tmp, "etc/dynoform-memcached", app);
    const port = Number(/^PORT=(\d+)$/m.exec(fs.readFileSync(path.join(dir, "env"), "utf8"))![1]);
    const execStart = /^ExecStart=(.*)$/m.exec(unit)![1].replace("${PORT}", String(port)).split(" ");
    expect(execStart[0]).toBe("/usr/bin/memcached");
    const m = await startMemcached(execStart.slice(1), port, { SASL_CONF_PATH: dir });
    running.push(m);
    return m;
}

const describeReal = missing ? describe.skip : describe;
if (missing) test.todo(`per-app memcached with SASL: skipped, ${missing}`);

describeReal("per-app memcached with SASL (real memcached, dynoform-addons in a temp prefix)", () => {
    let a: RunningMemcached;
    let b: RunningMemcached;

    beforeAll(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-addons-"));
        fs.chmodSync(tmp, 0o755);
        fs.mkdirSync(path.join(tmp, "etc"), { mode: 0o755 });
        systemctlLog = path.join(tmp, "systemctl.log");
        fs.writeFileSync(path.join(tmp, "systemctl"), `#!/bin/sh\necho "$*" >> ${systemctlLog}\n`, { mode: 0o755 });
        firstPort = await freePortRun(2);
        script = path.join(tmp, "dynoform-addons");
        fs.writeFileSync(script, render("data/dynoform-addons", { listenAddress: "127.0.0.1", firstPort, lastPort: firstPort + 1 }), { mode: 0o755 });
    });

    afterAll(async () => {
        await Promise.all(running.map((m) => m.stop()));
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    test("memcache-create: a port of the range, the app's user name, root:memcache 0640 files, the instance enabled and started", async () => {
        const created = addons(["memcache-create", "app-a"], { stdin: `${PASSWORD.a}\n` });
        expect(created).toMatchObject({ code: 0, stderr: "" });
        expect(created.stdout).toBe(`MEMCACHE_SERVERS=127.0.0.1:${firstPort}\nMEMCACHE_USERNAME=app-a\n`);
        expect(created.stdout).not.toContain(PASSWORD.a);
        // Over SSH the forced command gets its words from SSH_ORIGINAL_COMMAND.
        const createdB = addons([], { stdin: PASSWORD.b, sshCommand: "memcache-create app-b" });
        expect(createdB).toMatchObject({ code: 0, stdout: `MEMCACHE_SERVERS=127.0.0.1:${firstPort + 1}\nMEMCACHE_USERNAME=app-b\n` });
        expect(fs.readFileSync(systemctlLog, "utf8")).toBe(
            "enable --quiet dynoform-memcached@app-a.service\nrestart dynoform-memcached@app-a.service\n" +
                "enable --quiet dynoform-memcached@app-b.service\nrestart dynoform-memcached@app-b.service\n",
        );
        const memcacheGid = Number(execFileSync("id", ["-g", "memcache"], { encoding: "utf8" }));
        const dir = path.join(tmp, "etc/dynoform-memcached/app-a");
        expect(fs.statSync(dir).mode & 0o777).toBe(0o750);
        for (const f of ["sasldb", "memcached.conf", "env"]) {
            const st = fs.statSync(path.join(dir, f));
            expect([f, st.mode & 0o777, st.uid, st.gid]).toEqual([f, 0o640, 0, memcacheGid]);
        }
        expect(fs.readFileSync(path.join(dir, "sasldb")).includes(PASSWORD.a)).toBe(true); // sasldb keeps plaintext: hence 0640 root:memcache
        expect(fs.readFileSync(path.join(dir, "memcached.conf"), "utf8")).toBe(`mech_list: plain\nsasldb_path: ${dir}/sasldb\n`);
        a = await startInstance("app-a");
        b = await startInstance("app-b");
    });

    test("no free port left in the range: refused", () => {
        const r = addons(["memcache-create", "app-c"], { stdin: PASSWORD.a });
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(`no free port in ${firstPort}-${firstPort + 1}`);
    });

    test("without credentials: no get, no set, no flush_all; the text protocol is refused", async () => {
        const s = binarySession(a.port);
        expect((await s.set("k", "v")).status).toBe(STATUS.authError);
        expect((await s.get("k")).status).not.toBe(STATUS.ok);
        expect((await s.flush()).status).not.toBe(STATUS.ok);
        s.close();
        expect(await textCommand(a.port, "flush_all")).not.toContain("OK");
        expect(await textCommand(a.port, "stats")).not.toContain("STAT");
    });

    test("with the right credentials: set, get and flush work, and only in that app's instance", async () => {
        const sa = binarySession(a.port);
        expect(await sa.auth("app-a", PASSWORD.a)).toEqual({ status: STATUS.ok, body: "Authenticated" });
        expect((await sa.set("session:1", "alice")).status).toBe(STATUS.ok);
        expect(await sa.get("session:1")).toEqual({ status: STATUS.ok, body: "alice" });
        const sb = binarySession(b.port);
        expect((await sb.auth("app-b", PASSWORD.b)).status).toBe(STATUS.ok);
        expect((await sb.get("session:1")).status).toBe(STATUS.notFound); // another keyspace
        expect((await sb.flush()).status).toBe(STATUS.ok); // flushes app-b's instance only
        expect(await sa.get("session:1")).toEqual({ status: STATUS.ok, body: "alice" });
        sa.close();
        sb.close();
    });

    test("another app's credentials, or a wrong password: authentication fails and nothing is read, written or flushed", async () => {
        for (const [user, password] of [["app-b", PASSWORD.b], ["app-a", PASSWORD.b], ["app-a", ""]]) {
            const s = binarySession(a.port);
            expect((await s.auth(user, password)).status).toBe(STATUS.authError);
            expect((await s.get("session:1")).status).not.toBe(STATUS.ok);
            expect((await s.set("session:1", "mallory")).status).not.toBe(STATUS.ok);
            expect((await s.flush()).status).not.toBe(STATUS.ok);
            s.close();
        }
        const owner = binarySession(a.port);
        await owner.auth("app-a", PASSWORD.a);
        expect(await owner.get("session:1")).toEqual({ status: STATUS.ok, body: "alice" });
        owner.close();
    });

    test("the example app's client: a hit with the app's credentials, only misses with another's", async () => {
        const { Memcache } = require(path.resolve(__dirname, "../../examples/node-counter/lib/memcache.js"));
        const mine = new Memcache(`127.0.0.1:${a.port}`, { username: "app-a", password: PASSWORD.a });
        const theirs = new Memcache(`127.0.0.1:${a.port}`, { username: "app-b", password: PASSWORD.b });
        try {
            expect(await mine.set("fragment", "<p>héllo</p>", 30)).toBe(true);
            expect(await mine.get("fragment")).toBe("<p>héllo</p>");
            expect(await theirs.get("fragment")).toBeUndefined();
            expect(await theirs.set("fragment", "x")).toBe(false);
            expect(await mine.get("fragment")).toBe("<p>héllo</p>");
        } finally {
            mine.close();
            theirs.close();
        }
    });

    test("memcache-create again (a new password) keeps the port; the old password stops working", async () => {
        const newPassword = "N".repeat(32);
        expect(addons(["memcache-create", "app-a"], { stdin: newPassword }).stdout).toContain(`MEMCACHE_SERVERS=127.0.0.1:${firstPort}\n`);
        await a.stop();
        a = await startInstance("app-a"); // what systemctl restart does
        const old = binarySession(a.port);
        expect((await old.auth("app-a", PASSWORD.a)).status).toBe(STATUS.authError);
        old.close();
        const fresh = binarySession(a.port);
        expect((await fresh.auth("app-a", newPassword)).status).toBe(STATUS.ok);
        fresh.close();
    });

    test("memcache-destroy: the instance is disabled and its files are gone; idempotent", () => {
        fs.writeFileSync(systemctlLog, "");
        expect(addons(["memcache-destroy", "app-b"])).toMatchObject({ code: 0, stdout: "" });
        expect(addons(["memcache-destroy", "app-b"]).code).toBe(0);
        expect(fs.existsSync(path.join(tmp, "etc/dynoform-memcached/app-b"))).toBe(false);
        expect(fs.readFileSync(systemctlLog, "utf8")).toBe("disable --now --quiet dynoform-memcached@app-b.service\n".repeat(2));
    });

    test("refuses bad app names, unknown verbs, extra words and a missing or malformed password", () => {
        for (const [args, stdin, message] of [
            [["memcache-create", "../etc"], PASSWORD.a, "invalid app name"],
            [["memcache-create", "App"], PASSWORD.a, "invalid app name"],
            [["memcache-create", "a"], PASSWORD.a, "invalid app name"],
            [["memcache-create", "app-a", "x"], PASSWORD.a, "usage"],
            [["rm", "app-a"], PASSWORD.a, "unknown command"],
            [["memcache-create", "app-d"], "", "password expected on stdin"],
            [["memcache-create", "app-d"], "short", "password: 24-128 letters and digits"],
            [["memcache-create", "app-d"], `${PASSWORD.a}'; reboot #`, "password: 24-128 letters and digits"],
        ] as [string[], string, string][]) {
            const r = addons(args, { stdin });
            expect([args.join(" "), r.code]).toEqual([args.join(" "), 2]);
            expect(r.stderr).toContain(message);
        }
        expect(addons([], { sshCommand: "memcache-create app-a;id" }).stderr).toContain("invalid app name");
        expect(addons([], { sshCommand: "memcache-create *" }).stderr).toContain("invalid app name");
        expect(fs.readdirSync(path.join(tmp, "etc/dynoform-memcached")).sort()).toEqual([".lock", "app-a"]);
    });
});
