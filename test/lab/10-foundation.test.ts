import * as fs from "fs";
import * as path from "path";
import { labLeftovers, labStackFile, labStackInfo, LAB_STACK, hostWithRole } from "../support/lab_stack";
import { httpGet, LabShell, tcpConnects } from "../support/lab_hosts";
import { projectRoot, pulumi, pulumiOk, run, stackOutput } from "../support/pulumi";

// The foundation on real Debian machines (global-setup ran `pulumi up`): what a user would check.
jest.setTimeout(15 * 60_000);

const info = labStackInfo();
const edge = hostWithRole("edge");
const data = hostWithRole("data");
const dyno = hostWithRole("dyno");
const originalStackConfig = fs.readFileSync(labStackFile, "utf8");
const shell = new LabShell();

afterAll(() => {
    shell.close();
    fs.writeFileSync(labStackFile, originalStackConfig);
});

async function mainPids(): Promise<Record<string, string>> {
    const pid = (host: string, unit: string) => shell.on(host, `systemctl show -p MainPID --value ${unit}`);
    return {
        nginx: await pid(edge.name, "nginx"),
        varnish: await pid(edge.name, "varnish"),
        router: await pid(edge.name, "dynoform-router"),
        agent: await pid(dyno.name, "dynoform-agent"),
        memcached: await pid(data.name, "memcached"),
        postgresql: await pid(data.name, "postgresql@15-main"),
    };
}

test("invalid stack config fails before any resource is touched, naming the fix", async () => {
    const badStack = "badconfig";
    const badFile = path.join(projectRoot, "stacks", `Pulumi.${badStack}.yaml`);
    fs.writeFileSync(
        badFile,
        originalStackConfig.replace("roles: [data]", "roles: [database]").replace(`network: ${info.network}`, "network: bad").replace(/^encryptionsalt:.*$/m, ""),
    );
    try {
        await pulumiOk(badStack, ["stack", "select", "--create"]);
        const result = await pulumi(badStack, ["preview"]);
        expect(result.code).not.toBe(0);
        const output = result.stdout + result.stderr;
        expect(output).toMatch(/dynoform:hosts\[\d\] \(data-1\): unknown role "database" \(roles are: edge, dyno, data, control\)/);
        expect(output).toContain('role data has no host: add "data" to the roles of one of dynoform:hosts');
        expect(await labLeftovers("bad")).toEqual([]);
    } finally {
        await pulumi(badStack, ["stack", "rm", "--yes", "--force"]);
        fs.rmSync(badFile, { force: true });
    }
});

test("each role's services are active on the hosts the stack config names, and nowhere else", async () => {
    const units = "nginx varnish dynoform-router dynoform-agent memcached postgresql@15-main";
    const active = async (host: string) => (await shell.exec(host, `systemctl is-active ${units}`)).stdout.trim().split("\n");
    expect(await active(edge.name)).toEqual(["active", "active", "active", "inactive", "inactive", "inactive"]);
    expect(await active(dyno.name)).toEqual(["inactive", "inactive", "inactive", "active", "inactive", "inactive"]);
    expect(await active(data.name)).toEqual(["inactive", "inactive", "inactive", "inactive", "active", "active"]);
    expect(await stackOutput<string>(LAB_STACK, "edgeUrl")).toBe(`http://${edge.address}/`);
});

test("the edge answers through nginx, varnish and the router; unknown host names get the router's no-such-app page", async () => {
    for (const hostName of [`someapp.${info.domain}`, "not-ours.example.com"]) {
        const answer = await httpGet(edge.address, hostName);
        expect(answer.status).toBe(404); // no such app (yet): the router's page
        expect(answer.headers["x-varnish"]).toBeDefined();
        expect(answer.headers["via"]).toMatch(/varnish/i);
        expect(answer.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
        expect(answer.body).toContain("No such app");
    }
});

test("a second pulumi up has no changes", async () => {
    const started = Date.now();
    const up = await pulumiOk(LAB_STACK, ["up", "--yes", "--skip-preview", "--suppress-progress"]);
    console.log(`pulumi up (no-op) took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(up).toMatch(/\d+ unchanged/);
    expect(up).not.toMatch(/\d+ (updated|created|deleted|replaced)/);
});

test("changing memcached's memory updates only its config and restarts only memcached", async () => {
    const before = await mainPids();
    fs.writeFileSync(labStackFile, originalStackConfig.replace(/dynoform:memcachedMemoryMb: "?64"?/, 'dynoform:memcachedMemoryMb: "96"'));
    try {
        const preview = JSON.parse(await pulumiOk(LAB_STACK, ["preview", "--json"])) as { steps: { op: string; urn: string }[] };
        const changed = preview.steps.filter((s) => s.op !== "same").map((s) => s.urn.split("::").pop());
        expect(changed.sort()).toEqual([`${data.name}-memcached`, `${data.name}-memcached-conf`]);
        await pulumiOk(LAB_STACK, ["up", "--yes", "--skip-preview", "--suppress-progress"]);
        const after = await mainPids();
        expect(after.memcached).not.toBe(before.memcached);
        expect({ ...after, memcached: "" }).toEqual({ ...before, memcached: "" });
        expect(await shell.on(data.name, "ps -o args= -C memcached")).toContain("-m 96");
    } finally {
        fs.writeFileSync(labStackFile, originalStackConfig);
        await pulumiOk(LAB_STACK, ["up", "--yes", "--skip-preview", "--suppress-progress"]);
    }
});

test("postgresql accepts the admin role from a dyno host and refuses connections from outside the private subnet", async () => {
    const adminUrl = await stackOutput<string>(LAB_STACK, "databaseAdminUrl");
    await shell.on(dyno.name, "command -v psql >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-client >/dev/null");
    expect(await shell.on(dyno.name, `psql '${adminUrl}' -tAc 'select current_user'`)).toBe("dynoform_admin");
    // This machine reaches the lab through the gateway address: outside the hosts' trust.
    const outside = await run("psql", [adminUrl, "-tAc", "select 1"], { env: { ...process.env, PGCONNECT_TIMEOUT: "5" } });
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toMatch(/pg_hba\.conf rejects connection|no pg_hba\.conf entry/);
    const wrong = adminUrl.replace(/:[^:@/]+@/, ":wrong@");
    expect((await shell.exec(dyno.name, `psql '${wrong}' -tAc 'select 1' 2>&1`)).stdout).toMatch(/password authentication failed/);
});

test("memcached answers on the data host's private address only", async () => {
    expect(await shell.on(dyno.name, `bash -c 'exec 3<>/dev/tcp/${data.address}/11211 && printf "version\\r\\n" >&3 && head -c 8 <&3'`)).toBe("VERSION");
    expect(await tcpConnects(edge.address, 11211)).toBe(false);
    expect(await shell.on(data.name, "ss -Hltn 'sport = :11211' | awk '{print $4}'")).toBe(`${data.address}:11211`);
});
