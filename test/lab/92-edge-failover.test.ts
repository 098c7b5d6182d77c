// Issue 17 on the lab stack: two edges and a floating address moved by VRRP (keepalived). Under
// continuous load on the floating address, the edge holding it is killed hard (its launcher,
// systemd-nspawn and the container's init: a dead machine, not a clean halt); the address moves to
// the other edge and requests succeed again within 3 s. Reported: the largest gap between two
// successful responses and the number of failed requests. The killed machine is then powered on
// again with its disk (bootAgain), as a real one would be: teardown's `pulumi destroy` runs delete
// commands on every host, and 95-sealed and the rest need their control host.
//
// After 90-refresh (which replaces a dyno host through a refresh) and before 95-sealed (which cuts
// the whole network off): both edges are up and provisioned here.
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import * as yaml from "js-yaml";
import { labNetwork, type LabHostInputs } from "../../components/hosts/lab/config";
import { bootAgain, labDir, machineProcesses } from "../../components/hosts/lab/machine";
import { cli, GitRepo, until } from "../support/apps";
import { labStackFile, labStackInfo } from "../support/lab_stack";
import { httpGet, LabShell } from "../support/lab_hosts";

jest.setTimeout(15 * 60_000);

type StackHost = ReturnType<typeof labStackInfo>["hosts"][number];

const APP = "failover";
const info = labStackInfo();
const floating = info.floatingAddress;
const edges = info.hosts.filter((h) => h.roles.includes("edge"));
const appHost = `${APP}.${info.domain}`;
const MARKER = "failover ok";
const SERVER_JS = `require("http").createServer((q, s) => s.end("${MARKER}\\n")).listen(process.env.PORT);\n`;
/** Bounded load: this many loops, one request at a time each, every request with this timeout. */
const LOOPS = 8;
const REQUEST_TIMEOUT_MS = 1_000;
/** Between a loop's requests: at most LOOPS × 50 a second, dense enough to time a gap, light on the lab's shared cores. */
const PAUSE_MS = 20;
/** Issue 17: requests resume within this. */
const GAP_LIMIT_MS = 3_000;

const shell = new LabShell();
let repo: GitRepo | undefined;
/** The edge killed and not yet powered on again (afterAll brings it back whatever failed). */
let down: StackHost | undefined;

const image = ((yaml.load(fs.readFileSync(labStackFile, "utf8")) as { config: Record<string, { image?: string }> }).config["dynoform:lab"].image ?? "packages") as LabHostInputs["image"];
const machineDir = (h: StackHost) => path.join(labDir(), info.network, h.name);
const inputsOf = (h: StackHost): LabHostInputs => ({ network: labNetwork({ name: info.network, subnet: info.subnet }), name: h.name, address: h.address, image });

/** The edges whose interfaces hold the floating address now (`ip -o addr`), among those that answer SSH. */
async function holders(among: StackHost[] = edges): Promise<string[]> {
    const out: string[] = [];
    for (const h of among) {
        const r = await shell.exec(h.name, `ip -o -4 addr show | grep -F ' ${floating}/' || true`);
        if (r.stdout.trim()) out.push(h.name);
    }
    return out;
}

/** One GET of the app on the floating address: true when it answered 200 with the marker in time. */
function get(): Promise<boolean> {
    return new Promise((done) => {
        // A hard deadline besides the socket's idle timeout: a request to an edge that died on the
        // way must end whatever its socket does, or a loop would wait on it for good.
        const deadline = setTimeout(() => {
            req.destroy();
            resolve(false);
        }, REQUEST_TIMEOUT_MS);
        const resolve = (ok: boolean) => {
            clearTimeout(deadline);
            done(ok);
        };
        const req = http.get({ host: floating, port: 80, path: "/", headers: { Host: appHost }, agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve(res.statusCode === 200 && body.includes(MARKER)));
            // A response cut off (its edge died, or the timeout destroyed it) ends with close, not end.
            res.on("error", () => resolve(false));
            res.on("close", () => resolve(false));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", () => resolve(false));
    });
}

/** LOOPS loops of GETs until stopped: when each success arrived, and how many failed. */
function load() {
    let running = true;
    const successes: number[] = [];
    let failed = 0;
    const loop = async () => {
        while (running) {
            if (await get()) {
                successes.push(Date.now());
                await new Promise((r) => setTimeout(r, PAUSE_MS));
            } else {
                failed++;
                await new Promise((r) => setTimeout(r, 50)); // an immediate error (no route) must not spin
            }
        }
    };
    const loops = Array.from({ length: LOOPS }, loop);
    return {
        successes,
        failed: () => failed,
        stop: async () => {
            running = false;
            await Promise.all(loops);
        },
    };
}

/** The largest gap between two successive successes from `since` on (ms). */
function largestGap(successes: number[], since: number): number {
    const times = successes.filter((t) => t >= since).sort((a, b) => a - b);
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
    return gap;
}

/** SIGKILL to every process that keeps the machine up; resolves once they are all gone. */
async function killHard(h: StackHost): Promise<void> {
    const pids = machineProcesses(machineDir(h));
    expect(pids.length).toBeGreaterThanOrEqual(2); // launcher and systemd-nspawn, and the container's init
    down = h;
    for (const pid of pids) process.kill(pid, "SIGKILL");
    await until(`${h.name}'s processes gone`, async () => machineProcesses(machineDir(h)).length === 0, 10_000);
}

async function powerOn(h: StackHost): Promise<void> {
    await bootAgain(inputsOf(h));
    down = undefined;
    shell.reset(); // its old sessions died with it
}

beforeAll(async () => {
    if (!floating) throw new Error(`stack ${info.stack} has no dynoform:floatingAddress: this test needs it and two edges`);
    expect(edges.length).toBeGreaterThanOrEqual(2);
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]); // a leftover of an interrupted run
    repo = new GitRepo("failover");
    fs.writeFileSync(repo.file("package.json"), JSON.stringify({ name: APP, version: "1.0.0", engines: { node: "24.x" }, scripts: { start: "node server.js" } }));
    fs.writeFileSync(repo.file("server.js"), SERVER_JS);
    await repo.init();
    expect((await cli(["apps:create", APP])).code).toBe(0);
    expect((await cli(["git:remote", "-a", APP], repo.dir)).code).toBe(0);
    const pushed = await repo.push();
    expect(pushed.code).toBe(0);
    await until("the app served on the floating address", async () => (await httpGet(floating!, appHost)).body.includes(MARKER), 120_000);
});

afterAll(async () => {
    try {
        if (down) await powerOn(down); // whatever failed: teardown needs every host
        await cli(["apps:destroy", "-a", APP, "--confirm", APP]);
    } finally {
        repo?.remove();
        shell.close();
    }
});

test("the floating address is on one edge: the first, the preferred master", async () => {
    // (30-deploy rebooted edge-1: it took the address back once its nginx ran.)
    const on = await until("one edge holding the floating address", async () => {
        const h = await holders();
        return h.length === 1 && h[0] === edges[0].name ? h : undefined;
    }, 60_000);
    expect(on).toEqual([edges[0].name]);
    for (const h of edges) expect(await shell.on(h.name, "systemctl is-active keepalived nginx")).toBe("active\nactive");
});

test("the active edge killed hard under load: the address moves and requests resume within 3 s", async () => {
    const now = await holders();
    expect(now).toHaveLength(1);
    const active0 = edges.find((h) => h.name === now[0])!;
    const others = edges.filter((h) => h !== active0);
    const loader = load();
    let killedAt = 0;
    try {
        await new Promise((r) => setTimeout(r, 2_000));
        // A sane baseline: the app answers on the floating address (a slow request on the lab's
        // shared cores may miss the 1 s timeout now and then).
        const failedBefore = loader.failed();
        console.log(`edge_failover_baseline=${loader.successes.length} served, ${failedBefore} failed in 2 s`);
        expect(loader.successes.length).toBeGreaterThan(20);
        expect(failedBefore).toBeLessThanOrEqual(loader.successes.length * 0.05);
        killedAt = Date.now();
        await killHard(active0);
        console.log(`${active0.name} killed (pids gone ${Date.now() - killedAt} ms after SIGKILL)`);
        // The address moves to a live edge; then 2 s more of load on it.
        const newHolder = await until(
            "another edge holding the floating address",
            async () => {
                const h = await holders(others);
                return h.length === 1 ? h[0] : undefined;
            },
            30_000,
        );
        console.log(`floating address on ${newHolder} ${Date.now() - killedAt} ms after the kill`);
        await new Promise((r) => setTimeout(r, 2_000));
        await loader.stop();
        const after = loader.successes.filter((t) => t > killedAt);
        expect(after.length).toBeGreaterThan(0); // served again, by the other edge
        // From the last success before the kill on: the outage, whatever was in flight.
        const lastBefore = Math.max(...loader.successes.filter((t) => t <= killedAt));
        const gap = largestGap(loader.successes, lastBefore);
        const failed = loader.failed() - failedBefore;
        console.log(`edge_failover_gap_ms=${gap}`);
        console.log(`edge_failover_failed_requests=${failed}`);
        console.log(`edge_failover_requests=${loader.successes.length + loader.failed()}`);
        expect(gap).toBeLessThan(GAP_LIMIT_MS);
    } finally {
        await loader.stop();
    }
});

test("the killed edge powers on again with its disk; the address is on one live edge and requests succeed", async () => {
    const killed = down;
    expect(killed).toBeDefined();
    await powerOn(killed!);
    expect(await shell.on(killed!.name, "hostname")).toBe(killed!.name);
    await until(`${killed!.name}'s nginx and keepalived active`, async () => (await shell.exec(killed!.name, "systemctl is-active nginx keepalived dynoform-firewall")).stdout.trim() === "active\nactive\nactive", 120_000);
    // keepalived lets it take the address back once its nginx has passed the check twice (it is
    // the preferred master); until then the other edge keeps it. Either way: exactly one live edge.
    const on = await until("exactly one edge holding the floating address", async () => {
        const h = await holders();
        return h.length === 1 ? h : undefined;
    }, 60_000);
    console.log(`after ${killed!.name} came back the floating address is on ${on[0]}`);
    // Its router serves the app again once the agents renew their registrations with it (every 5 s);
    // until then Varnish, on either edge, may send a request to it. Bounded, like 30-deploy's reboot.
    const t0 = Date.now();
    await until("10 requests in a row served on the floating address", async () => {
        for (let i = 0; i < 10; i++) {
            const r = await httpGet(floating!, appHost);
            if (r.status !== 200 || r.body.trim() !== MARKER) return false;
        }
        return true;
    }, 120_000);
    console.log(`every request served again ${Date.now() - t0} ms after ${killed!.name} answered SSH`);
    expect((await holders()).length).toBe(1);
});
