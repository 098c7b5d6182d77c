// The deploy path end to end on the lab stack (issue 5, "Done when"): git push → build → release →
// preboot rollout, served through nginx → varnish → router → dynos; failures rejected while the
// previous release keeps answering; config:set, rollback, scale across dyno hosts, run, a dyno host
// lost, the control host rebooted.
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { cli, GitRepo, until } from "../support/apps";
import { edgeAddress, hostWithRole, labStackInfo, LAB_STACK } from "../support/lab_stack";
import { httpGet, LabShell, loadThroughEdge } from "../support/lab_hosts";
import { binarySession, STATUS } from "../support/memcached";
import { projectRoot, pulumiOk } from "../support/pulumi";

jest.setTimeout(15 * 60_000);

const APP = "counter";
/** Where clients send requests: the floating address (whichever edge holds it). */
const edge = edgeAddress();
const domain = labStackInfo().domain;
const host = `${APP}.${domain}`;
const dynoHosts = labStackInfo().hosts.filter((h) => h.roles.includes("dyno"));
const shell = new LabShell();
const repo = new GitRepo("deploy-test", path.join(projectRoot, "examples/node-counter"));

const load = (marker?: () => string) => loadThroughEdge(edge, host, marker);

beforeAll(async () => {
    await repo.init();
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]); // a leftover of an interrupted run
});

afterAll(() => {
    shell.close();
    repo.remove();
});

test("git push of the example app: built, released, served through nginx → varnish → router → dyno with its PostgreSQL and Memcached", async () => {
    const created = await cli(["apps:create", APP]);
    expect(created.stderr).toContain(`Creating ⬢ ${APP}... done`);
    expect(created.stdout).toContain(`http://${host}/ | git@`);
    expect((await cli(["git:remote", "-a", APP], repo.dir)).code).toBe(0);
    const config = await cli(["config", "-a", APP]);
    expect(config.stdout).toMatch(/DATABASE_URL: +postgres:\/\/app_counter:/);
    // Its own Memcached (one instance per app, SASL), with Heroku's variable names.
    expect(config.stdout).toMatch(/MEMCACHE_SERVERS: +[\d.]+:11[3-9]\d\d\n/);
    expect(config.stdout).toMatch(/MEMCACHE_USERNAME: +counter\n/);
    expect(config.stdout).toMatch(/MEMCACHE_PASSWORD: +[0-9a-f]{48}\n/);

    const pushed = await repo.push();
    expect(pushed.stderr).toContain("remote: -----> Node.js app detected");
    expect(pushed.stderr).toContain("remote: -----> Running release command: node migrate.js");
    expect(pushed.stderr).toContain("migrate: counters table ready");
    expect(pushed.stderr).toMatch(/remote: +Released v1/);
    expect(pushed.code).toBe(0);

    const a = await httpGet(edge, host);
    const b = await httpGet(edge, host);
    expect(a.status).toBe(200);
    const visits = (r: { body: string }) => Number(/id="visits">(\d+)</.exec(r.body)?.[1]);
    expect(visits(b)).toBe(visits(a) + 1); // PostgreSQL
    expect(b.headers["x-fragment-cache"]).toBe("hit"); // Memcached
});

test("a second push under continuous load: 0 failed requests, the new release answers afterwards", async () => {
    await repo.commit("second", () => repo.edit("server.js", (s) => s.replace('process.env.GREETING || "hello"', 'process.env.GREETING || "second push"')));
    const loader = load();
    const pushed = await repo.push();
    await new Promise((r) => setTimeout(r, 1500));
    const stats = await loader.stop();
    expect(pushed.code).toBe(0);
    expect(stats.total).toBeGreaterThan(50);
    expect(stats).toMatchObject({ failed: 0 });
    expect((await httpGet(edge, host)).body).toContain("(second push)");
});

describe("failed pushes are rejected with the reason; the previous release answers throughout", () => {
    let good: string;
    beforeAll(async () => {
        good = (await repo.git(["rev-parse", "HEAD"])).stdout.trim();
    });
    afterEach(async () => {
        await repo.git(["reset", "-q", "--hard", good]);
    });

    async function rejected(change: () => void, expectText: RegExp[]): Promise<void> {
        await repo.commit("broken", change);
        const loader = load(() => "(second push)");
        const pushed = await repo.push();
        const stats = await loader.stop();
        expect(pushed.code).not.toBe(0);
        expect(pushed.stderr).toContain("[remote rejected] main -> main (pre-receive hook declined)");
        expect(pushed.stderr).toContain("Push failed: the previous release is still serving");
        for (const re of expectText) expect(pushed.stderr).toMatch(re);
        expect(stats).toMatchObject({ failed: 0 });
        expect(stats.total).toBeGreaterThan(10);
    }

    test("build failure", async () => {
        await rejected(
            () => repo.edit("package.json", (s) => s.replace('"start": "node server.js"', '"start": "node server.js", "build": "echo compiling assets; echo assets broke >&2; exit 7"')),
            [/Push rejected, failed to compile app/, /assets broke/],
        );
    });

    test("release phase failure", async () => {
        await rejected(
            () => fs.writeFileSync(repo.file("Procfile"), "web: node server.js\nworker: node worker.js\nrelease: node -e \"console.error('migration broke'); process.exit(2)\"\n"),
            [/Release v\d+ failed/, /exited with status 2/, /migration broke/],
        );
    });

    test("web process never binds $PORT (R10)", async () => {
        await rejected(
            () => fs.writeFileSync(repo.file("Procfile"), "web: node -e \"console.log('not listening'); setInterval(() => {}, 1000)\"\nrelease: node migrate.js\n"),
            [/R10/, /failed to bind to \$PORT/, /not listening/],
        );
    });
});

test("config:set makes a new release with the env visible in the dyno; run returns output and exit code, with stdin attached", async () => {
    const set = await cli(["config:set", "GREETING=from config", "-a", APP]);
    expect(set.code).toBe(0);
    expect(set.stderr).toMatch(/Setting GREETING and restarting ⬢ counter\.\.\. done, v\d+/);
    await until("config var served", async () => (await httpGet(edge, host)).body.includes("(from config)"));
    const run = await cli(["run", "-a", APP, "--", "node", "-e", "console.log(process.env.GREETING); process.exit(3)"]);
    expect(run.stdout).toBe("from config\n");
    expect(run.code).toBe(3);
    const piped = await cli(["run", "-a", APP, "--", "sort"], projectRoot, "pear\napple\n");
    expect(piped.stdout).toBe("apple\npear\n");
    expect(piped.code).toBe(0);
    const releases = await cli(["releases", "-a", APP]);
    expect(releases.stdout).toMatch(/Set GREETING config vars/);
});

test("each app has its own Memcached: a dyno of one app can neither read, write nor list another app's keys", async () => {
    const OTHER = "counter-other";
    await cli(["apps:destroy", "-a", OTHER, "--confirm", OTHER]); // a leftover of an interrupted run
    expect((await cli(["apps:create", OTHER])).code).toBe(0);
    try {
        const configOf = async (app: string) => JSON.parse((await cli(["config", "--json", "-a", app])).stdout) as Record<string, string>;
        const [mine, other] = [await configOf(APP), await configOf(OTHER)];
        expect(other.MEMCACHE_SERVERS).not.toBe(mine.MEMCACHE_SERVERS);
        expect(other.MEMCACHE_USERNAME).toBe(OTHER);
        const [otherHost, otherPort] = other.MEMCACHE_SERVERS.split(":");
        // The other app's secret, put there with its own credentials.
        // This machine reaches an instance through SSH to the data host (its firewall keeps the
        // ports from the outside); the instance's own SASL decides, as for a dyno.
        const dataHost = hostWithRole("data");
        const viaData = async (address: string, port: string) => {
            expect(address).toBe(dataHost.address);
            const [h, p] = (await shell.forward(dataHost.name, Number(port))).split(":");
            return binarySession(Number(p), h);
        };
        const owner = await viaData(otherHost, otherPort);
        expect((await owner.auth(OTHER, other.MEMCACHE_PASSWORD)).status).toBe(STATUS.ok);
        expect((await owner.set("session:alice", "secret-of-other")).status).toBe(STATUS.ok);

        // From a one-off dyno of the example app: its own cache works; the other's refuses it.
        const probe = [
            'const { Memcache } = require(process.env.HOME + "/lib/memcache.js");',
            'const net = require("net");',
            "const [other, key] = process.argv.slice(1);",
            "const crlf = String.fromCharCode(13, 10);",
            "const text = () => new Promise((resolve) => { const [h, p] = other.split(\":\"); let out = \"\"; const s = net.connect(Number(p), h);",
            '  s.on("connect", () => s.write("lru_crawler metadump all" + crlf + "get " + key + crlf + "flush_all" + crlf)); s.on("data", (d) => (out += d));',
            '  s.on("error", () => resolve(out)); s.on("close", () => resolve(out)); setTimeout(() => { s.destroy(); resolve(out); }, 2000); });',
            "(async () => {",
            "  const mine = new Memcache();",
            "  const borrowed = new Memcache(other);",
            '  const anonymous = new Memcache(other, { username: "" });',
            '  const own = (await mine.set("probe", "mine", 120)) && (await mine.get("probe")) === "mine";',
            "  const r = { own, borrowedGet: (await borrowed.get(key)) ?? null, borrowedSet: await borrowed.set(key, \"x\"), borrowedDelete: await borrowed.delete(key),",
            "    anonymousGet: (await anonymous.get(key)) ?? null, anonymousSet: await anonymous.set(key, \"x\"), text: await text() };",
            "  console.log(JSON.stringify(r)); process.exit(0);",
            "})();",
        ].join(" "); // one line: the command travels as words over SSH to the dyno
        const run = await cli(["run", "-a", APP, "--", "node", "-e", probe, other.MEMCACHE_SERVERS, "session:alice"]);
        expect(run.code).toBe(0);
        const seen = JSON.parse(run.stdout.trim().split("\n").pop()!);
        expect(seen).toMatchObject({ own: true, borrowedGet: null, borrowedSet: false, borrowedDelete: false, anonymousGet: null, anonymousSet: false });
        expect(seen.text).not.toMatch(/key=|VALUE|OK/); // no text protocol: nothing listed, read or flushed

        expect(await owner.get("session:alice")).toEqual({ status: STATUS.ok, body: "secret-of-other" }); // untouched
        owner.close();
        // And the other way round: the other app's credentials on the example app's instance.
        const [mineHost, minePort] = mine.MEMCACHE_SERVERS.split(":");
        const intruder = await viaData(mineHost, minePort);
        expect((await intruder.auth(OTHER, other.MEMCACHE_PASSWORD)).status).toBe(STATUS.authError);
        intruder.close();
        const rightful = await viaData(mineHost, minePort);
        expect((await rightful.auth(APP, mine.MEMCACHE_PASSWORD)).status).toBe(STATUS.ok);
        expect(await rightful.get("probe")).toEqual({ status: STATUS.ok, body: "mine" }); // the dyno's write, in its app's instance
        rightful.close();
    } finally {
        expect((await cli(["apps:destroy", "-a", OTHER, "--confirm", OTHER])).code).toBe(0);
    }
    const data = hostWithRole("data").name;
    expect(await shell.on(data, `systemctl is-active dynoform-memcached@${OTHER} || true`)).toBe("inactive");
    expect(await shell.on(data, `test -e /etc/dynoform-memcached/${OTHER} && echo left || echo gone`)).toBe("gone");
});

test("rollback to the first deploy: its code answers", async () => {
    const r = await cli(["rollback", "v1", "-a", APP]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Rolling back ⬢ counter to v1\.\.\. done, v\d+/);
    await until("v1 code served", async () => (await httpGet(edge, host)).body.includes("(hello)"));
});

test("domains:add: the app answers on its custom domain at the edge; domains:remove: it stops", async () => {
    const custom = "www.counter-shop.test";
    const added = await cli(["domains:add", custom, "-a", APP]);
    expect(added.code).toBe(0);
    expect((await cli(["domains", "-a", APP])).stdout).toContain(custom);
    await until("custom domain served", async () => {
        const r = await httpGet(edge, custom);
        return r.status === 200 && r.body.includes("(hello)");
    });
    expect((await cli(["domains:remove", custom, "-a", APP])).code).toBe(0);
    await until("custom domain gone", async () => {
        const r = await httpGet(edge, custom);
        return r.status === 404 && r.body.includes("No such app");
    });
});

test("ps:scale web=3 spreads the dynos across the dyno hosts; ps shows them", async () => {
    const r = await cli(["ps:scale", "web=3", "-a", APP]);
    expect(r.code).toBe(0);
    expect((await cli(["ps", "-a", APP])).stdout).toMatch(/=== web \(standard-1x\): node server\.js \(3\)/);
    const ps = await cli(["ps", "-x", "-a", APP]);
    expect(ps.stdout.match(/^web\.\d +up /gm)).toHaveLength(3);
    if (dynoHosts.length > 1) for (const h of dynoHosts) expect(ps.stdout).toContain(h.address);
});

test("a dyno host stops: its web dynos come up on the other, requests keep succeeding", async () => {
    if (dynoHosts.length < 2) return;
    const lost = dynoHosts[1];
    const loader = load();
    try {
        await new Promise((r) => setTimeout(r, 1000));
        await shell.on("edge-1", "true");
        // Power the machine off: SIGTERM to its systemd-nspawn (no machined on this machine).
        const machine = `${labStackInfo().network}-${lost.name}`;
        await new Promise<void>((resolve, reject) => execFile("pkill", ["-TERM", "-f", `systemd-nspawn.* -M ${machine} `], (err) => (err ? reject(err) : resolve())));
        const ps = await until(
            "web dynos rescheduled",
            async () => {
                const out = (await cli(["ps", "-x", "-a", APP])).stdout;
                return (out.match(/^web\.\d +up /gm) ?? []).length === 3 && !out.includes(lost.address) ? out : undefined;
            },
            90_000,
        );
        expect(ps).toContain(dynoHosts[0].address);
        await new Promise((r) => setTimeout(r, 3000));
        const stats = await loader.stop();
        // In-flight requests on the machine that vanished can be lost; everything else is served.
        expect(stats.failed).toBeLessThanOrEqual(Math.max(8, stats.total * 0.01));
        expect(stats.total).toBeGreaterThan(50);
    } finally {
        await loader.stop();
    }
    // Bring the machine back (a refresh notices it vanished, the up recreates and provisions it).
    await pulumiOk(LAB_STACK, ["up", "--yes", "--skip-preview", "--suppress-progress", "--refresh"], 900_000);
    shell.reset();
});

test("rebooting the control host loses no app, release or config var; the app answers again", async () => {
    const control = hostWithRole("control").name;
    const before = await Promise.all([cli(["apps"]), cli(["releases", "-a", APP]), cli(["config", "--json", "-a", APP])]);
    expect(before.map((r) => r.code)).toEqual([0, 0, 0]);
    const bootId = async () => {
        try {
            return await shell.on(control, "cat /proc/sys/kernel/random/boot_id");
        } catch (err) {
            shell.reset(); // a dead session is not reused
            throw err;
        }
    };
    const bootBefore = await until(`${control} boot id`, bootId, 120_000);
    // Reboot the machine in place (its disk kept): the lab's launcher boots it again when the guest
    // reboots. In a second, so this SSH command returns first.
    await shell.on(control, "systemd-run --on-active=1 systemctl reboot");
    shell.reset();
    const t0 = Date.now();
    const bootLog = path.join(projectRoot, ".lab", labStackInfo().network, control, "boot.log");
    try {
        await until(
            `${control} rebooted`,
            async () => {
                const id = await bootId();
                return id !== "" && id !== bootBefore;
            },
            240_000,
        );
    } catch (err) {
        const log = fs.existsSync(bootLog) ? fs.readFileSync(bootLog, "utf8").split("\n").slice(-40).join("\n") : "(none)";
        throw new Error(`${(err as Error).message}\nlast lines of ${bootLog}:\n${log}`);
    }
    console.log(`${control} back on SSH after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await until("control answers", async () => (await cli(["apps"])).code === 0, 120_000);
    const after = await Promise.all([cli(["apps"]), cli(["releases", "-a", APP]), cli(["config", "--json", "-a", APP])]);
    expect(after.map((r) => r.stdout.replace(/\(~ [^)]*\)/g, ""))).toEqual(before.map((r) => r.stdout.replace(/\(~ [^)]*\)/g, "")));
    // Through the edges (nginx → varnish → router; edge-2 holds the floating address while edge-1 reboots, edge-1 again once its nginx runs): the agents re-register with the routers.
    await until("the app answers through the edge", async () => {
        const r = await httpGet(edge, host);
        return r.status === 200 && r.body.includes("(hello)");
    }, 120_000);
    console.log(`${control} serving the app again ${((Date.now() - t0) / 1000).toFixed(1)} s after the reboot`);
});

test("apps:destroy removes the app, its dynos, routes, database and Memcached", async () => {
    const r = await cli(["apps:destroy", "-a", APP, "--confirm", APP]);
    expect(r.code).toBe(0);
    expect(await shell.on(hostWithRole("data").name, `systemctl is-active dynoform-memcached@${APP} || true`)).toBe("inactive");
    expect((await cli(["apps"])).stdout).not.toMatch(/^counter$/m);
    await until("route gone", async () => (await httpGet(edge, host)).status === 404);
});
