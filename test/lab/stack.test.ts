import * as fs from "fs";
import * as path from "path";
import * as net from "net";
import * as http from "http";
import { openSession, SshSession } from "../../components/remote/ssh";
import type { SshConnection } from "../../components/remote/connection";
import { projectRoot, pulumi, pulumiOk, run, sshConnections, stackOutput } from "../support/pulumi";

// The whole foundation on real Debian machines: `pulumi up` of stacks/Pulumi.test.yaml
// (edge+control, dyno, data on 10.213.2.0/24), then what a user would check.
const STACK = "test";
const NETWORK = "test";
const EDGE = "10.213.2.10";
const DATA = "10.213.2.30";
const stackFile = path.join(projectRoot, "stacks", `Pulumi.${STACK}.yaml`);
const originalStackConfig = fs.readFileSync(stackFile, "utf8");

jest.setTimeout(20 * 60_000);

let connections: Record<string, SshConnection>;
const sessions = new Map<string, SshSession>();

async function on(host: string, command: string): Promise<string> {
    let session = sessions.get(host);
    if (!session) {
        session = await openSession(connections[host], { timeoutMs: 30_000 });
        sessions.set(host, session);
    }
    return (await session.run(command)).stdout.trim();
}

function closeSessions(): void {
    for (const s of sessions.values()) s.close();
    sessions.clear();
}

function get(address: string, hostHeader: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: address, port: 80, path: "/", headers: { Host: hostHeader }, timeout: 10_000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
    });
}

function tcpConnects(host: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ host, port, timeout: 3000 });
        socket.on("connect", () => {
            socket.destroy();
            resolve(true);
        });
        socket.on("timeout", () => {
            socket.destroy();
            resolve(false);
        });
        socket.on("error", () => resolve(false));
    });
}

async function mainPids(): Promise<Record<string, string>> {
    const pid = (host: string, unit: string) => on(host, `systemctl show -p MainPID --value ${unit}`);
    return {
        nginx: await pid("edge-1", "nginx"),
        varnish: await pid("edge-1", "varnish"),
        memcached: await pid("data-1", "memcached"),
        postgresql: await pid("data-1", "postgresql@15-main"),
    };
}

async function labLeftovers(): Promise<string[] > {
    const left: string[] = [];
    const procs = await run("pgrep", ["-af", `systemd-nspawn.*${NETWORK}-`]);
    if (procs.stdout.trim()) left.push(`processes: ${procs.stdout.trim()}`);
    const links = await run("ip", ["-o", "link", "show"]);
    if (links.stdout.includes(`dfbr-${NETWORK}`)) left.push("bridge");
    const tables = await run("nft", ["list", "tables"]);
    if (tables.stdout.includes(`dynoform_${NETWORK}`)) left.push("nft table");
    const mounts = await run("findmnt", ["-rn", "-o", "TARGET"]);
    const labMounts = mounts.stdout.split("\n").filter((m) => m.includes(`/.lab/${NETWORK}/`));
    if (labMounts.length) left.push(`mounts: ${labMounts.join(", ")}`);
    return left;
}

beforeAll(async () => {
    await pulumiOk(STACK, ["stack", "select", "--create"]);
});

afterAll(async () => {
    closeSessions();
    fs.writeFileSync(stackFile, originalStackConfig);
    await pulumi(STACK, ["destroy", "--yes", "--skip-preview"]);
    await run("bash", ["scripts/lab/cleanup.sh", NETWORK]);
    await pulumi(STACK, ["stack", "rm", "--yes", "--force"]);
    fs.writeFileSync(stackFile, originalStackConfig);
});

test("invalid stack config fails before any resource is touched, naming the fix", async () => {
    const badStack = "badconfig";
    const badFile = path.join(projectRoot, "stacks", `Pulumi.${badStack}.yaml`);
    fs.writeFileSync(badFile, originalStackConfig.replace("roles: [data]", "roles: [database]").replace("network: test", "network: bad"));
    try {
        await pulumiOk(badStack, ["stack", "select", "--create"]);
        const result = await pulumi(badStack, ["preview"]);
        expect(result.code).not.toBe(0);
        const output = result.stdout + result.stderr;
        expect(output).toContain('dynoform:hosts[2] (data-1): unknown role "database" (roles are: edge, dyno, data, control)');
        expect(output).toContain('role data has no host: add "data" to the roles of one of dynoform:hosts');
        expect(await labLeftovers()).toEqual([]);
        expect((await run("ip", ["link", "show", "dfbr-bad"])).code).not.toBe(0);
    } finally {
        await pulumi(badStack, ["stack", "rm", "--yes", "--force"]);
        fs.rmSync(badFile, { force: true });
    }
});

test("pulumi up provisions nginx, varnish, memcached and postgresql on the hosts their roles name", async () => {
    const started = Date.now();
    await pulumiOk(STACK, ["up", "--yes", "--skip-preview", "--suppress-progress"]);
    console.log(`pulumi up (cold, test stack) took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    connections = await sshConnections(STACK);
    expect(Object.keys(connections).sort()).toEqual(["data-1", "dyno-1", "edge-1"]);

    expect(await on("edge-1", "systemctl is-active nginx varnish")).toBe("active\nactive");
    expect(await on("data-1", "systemctl is-active memcached postgresql@15-main")).toBe("active\nactive");
    expect(await on("dyno-1", "systemctl is-active nginx varnish memcached postgresql@15-main || true")).not.toContain("active\n");
    expect(await stackOutput<string>(STACK, "edgeUrl")).toBe(`http://${EDGE}/`);
});

test("the edge answers through nginx and varnish; unknown hosts get the no-such-app page", async () => {
    const app = await get(EDGE, "someapp.dynoform.test");
    // No router yet: Varnish's backend is down, and it says so.
    expect(app.status).toBe(503);
    expect(app.headers["x-varnish"]).toBeDefined();
    expect(app.headers["via"]).toMatch(/varnish/i);
    expect(app.body).toContain("Application Error");

    const byAddress = await get(EDGE, EDGE);
    expect(byAddress.headers["x-varnish"]).toBeDefined();

    const unknown = await get(EDGE, "not-ours.example.com");
    expect(unknown.status).toBe(404);
    expect(unknown.headers["x-varnish"]).toBeUndefined();
    expect(unknown.body).toContain("No app on this dynoform platform answers to this host name.");
});

test("a second pulumi up has no changes", async () => {
    const preview = await pulumi(STACK, ["preview", "--expect-no-changes"]);
    expect(preview.stdout + preview.stderr).not.toMatch(/error/i);
    expect(preview.code).toBe(0);
    const started = Date.now();
    const up = await pulumiOk(STACK, ["up", "--yes", "--skip-preview", "--suppress-progress"]);
    console.log(`pulumi up (no-op) took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(up).toMatch(/\d+ unchanged/);
    expect(up).not.toMatch(/[~+-] \d+ (updated|created|deleted)|\d+ (updated|created|deleted|replaced)/);
});

test("changing memcached's memory updates only its config and restarts only memcached", async () => {
    const before = await mainPids();
    fs.writeFileSync(stackFile, originalStackConfig.replace("dynoform:memcachedMemoryMb: 64", "dynoform:memcachedMemoryMb: 96"));
    const preview = JSON.parse(await pulumiOk(STACK, ["preview", "--json"])) as { steps: { op: string; urn: string }[] };
    const changed = preview.steps.filter((s) => s.op !== "same").map((s) => s.urn.split("::").pop());
    expect(changed.sort()).toEqual(["data-1-memcached", "data-1-memcached-conf"]);

    await pulumiOk(STACK, ["up", "--yes", "--skip-preview", "--suppress-progress"]);
    const after = await mainPids();
    expect(after.memcached).not.toBe(before.memcached);
    expect({ ...after, memcached: "" }).toEqual({ ...before, memcached: "" });
    expect(await on("data-1", "ps -o args= -C memcached")).toContain("-m 96");
    fs.writeFileSync(stackFile, originalStackConfig);
});

test("postgresql accepts the admin role from a dyno host and refuses connections from outside the private subnet", async () => {
    const adminUrl = await stackOutput<string>(STACK, "databaseAdminUrl");
    await on("dyno-1", "command -v psql >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-client >/dev/null");
    expect(await on("dyno-1", `psql '${adminUrl}' -tAc 'select current_user'`)).toBe("dynoform_admin");
    // This machine reaches the lab through the gateway address, outside the hosts' trust.
    const outside = await run("psql", [adminUrl, "-tAc", "select 1"], { env: { ...process.env, PGCONNECT_TIMEOUT: "5" } });
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toMatch(/pg_hba\.conf rejects connection|no pg_hba\.conf entry/);
    // A wrong password is refused too (scram-sha-256).
    const wrong = adminUrl.replace(/:[^:@/]+@/, ":wrong@");
    expect(await on("dyno-1", `psql '${wrong}' -tAc 'select 1' 2>&1 || true`)).toMatch(/password authentication failed/);
});

test("memcached answers on the data host's private address only", async () => {
    expect(await on("dyno-1", `exec 3<>/dev/tcp/${DATA}/11211 && printf 'version\\r\\n' >&3 && head -c 8 <&3`)).toBe("VERSION ");
    expect(await tcpConnects(EDGE, 11211)).toBe(false);
    expect(await on("data-1", "ss -Hltn sport = :11211 | awk '{print $4}'")).toBe(`${DATA}:11211`);
});

test("a lab host that vanished is recreated by pulumi up --refresh", async () => {
    closeSessions();
    const nspawn = await run("pgrep", ["-f", `systemd-nspawn.*-M ${NETWORK}-dyno-1`]);
    const pid = Number(nspawn.stdout.trim().split("\n")[0]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGKILL");
    for (let i = 0; i < 50 && (await run("kill", ["-0", String(pid)])).code === 0; i++) await new Promise((r) => setTimeout(r, 100));

    await pulumiOk(STACK, ["up", "--yes", "--skip-preview", "--refresh", "--suppress-progress"]);
    connections = await sshConnections(STACK);
    expect(await on("dyno-1", "hostname")).toBe("dyno-1");
    expect(await on("edge-1", "systemctl is-active nginx")).toBe("active");
});

test("pulumi destroy leaves no machine, mount, bridge or nft table", async () => {
    closeSessions();
    await pulumiOk(STACK, ["destroy", "--yes", "--skip-preview", "--suppress-progress"]);
    expect(await labLeftovers()).toEqual([]);
});
