import * as fs from "fs";
import * as path from "path";
import { edgeAddress, labLeftovers, labStackFile, labStackInfo, LAB_STACK, hostWithRole } from "../support/lab_stack";
import { httpGet, LabShell, tcpConnects } from "../support/lab_hosts";
import { until } from "../support/apps";
import { binarySession, STATUS } from "../support/memcached";
import { projectRoot, pulumi, pulumiOk, run, stackOutput } from "../support/pulumi";

// The foundation on real Debian machines (global-setup ran `pulumi up`): what a user would check.
jest.setTimeout(15 * 60_000);

const info = labStackInfo();
const edge = hostWithRole("edge");
const data = hostWithRole("data");
const dyno = hostWithRole("dyno");
const originalStackConfig = fs.readFileSync(labStackFile, "utf8");
const shell = new LabShell();
/** The lab gateway of an address's /24 (the stack's subnets are /24s): this machine, seen from the lab. */
const gatewayOf = (address: string) => address.replace(/\.\d+$/, ".1");

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
    // memcached: the package's shared instance is off; each app gets its own (dynoform-memcached@APP).
    expect(await active(data.name)).toEqual(["inactive", "inactive", "inactive", "inactive", "inactive", "active"]);
    expect(await stackOutput<string>(LAB_STACK, "edgeUrl")).toBe(`http://${edgeAddress()}/`); // the floating address when the stack has one
});

test("the edge answers through nginx, varnish and the router; unknown host names get the router's no-such-app page", async () => {
    for (const hostName of [`someapp.${info.domain}`, "not-ours.example.com"]) {
        const answer = await httpGet(edgeAddress(), hostName);
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

/** An app's Memcached made on the data host by its forced command, as the control role does. */
const PROBE_PASSWORD = "Pr0be".repeat(6);
const memcacheCreate = (app: string) => shell.on(data.name, `printf '%s\\n' ${PROBE_PASSWORD} | /usr/local/sbin/dynoform-addons memcache-create ${app}`);
const memcacheDestroy = (app: string) => shell.on(data.name, `/usr/local/sbin/dynoform-addons memcache-destroy ${app}`);
const instancePid = (app: string) => shell.on(data.name, `systemctl show -p MainPID --value dynoform-memcached@${app}`);

test("changing memcached's memory updates only the per-app unit and restarts only the apps' instances", async () => {
    await memcacheCreate("lab-mem");
    const before = await mainPids();
    const instanceBefore = await instancePid("lab-mem");
    fs.writeFileSync(labStackFile, originalStackConfig.replace(/dynoform:memcachedMemoryMb: "?64"?/, 'dynoform:memcachedMemoryMb: "96"'));
    try {
        const preview = JSON.parse(await pulumiOk(LAB_STACK, ["preview", "--json"])) as { steps: { op: string; urn: string }[] };
        const changed = preview.steps.filter((s) => s.op !== "same").map((s) => s.urn.split("::").pop());
        expect(changed.sort()).toEqual([`${data.name}-memcached-instances`, `${data.name}-memcached-unit`]);
        await pulumiOk(LAB_STACK, ["up", "--yes", "--skip-preview", "--suppress-progress"]);
        expect(await mainPids()).toEqual(before);
        const instanceAfter = await instancePid("lab-mem");
        expect(instanceAfter).not.toBe(instanceBefore);
        expect(await shell.on(data.name, `ps -o args= -p ${instanceAfter}`)).toContain("-m 96");
    } finally {
        fs.writeFileSync(labStackFile, originalStackConfig);
        await pulumiOk(LAB_STACK, ["up", "--yes", "--skip-preview", "--suppress-progress"]);
        await memcacheDestroy("lab-mem");
    }
});

test("postgresql accepts the admin role from a dyno host and refuses connections from outside the private subnet", async () => {
    const adminUrl = await stackOutput<string>(LAB_STACK, "databaseAdminUrl");
    await shell.on(dyno.name, "command -v psql >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-client >/dev/null");
    expect(await shell.on(dyno.name, `psql '${adminUrl}' -tAc 'select current_user'`)).toBe("dynoform_admin");
    // This machine reaches the lab through the gateway address: outside the hosts' trust. The data
    // host's firewall drops it (pg_hba.conf, which rejects the gateway too, never sees it).
    const outside = await run("psql", [adminUrl, "-tAc", "select 1"], { env: { ...process.env, PGCONNECT_TIMEOUT: "5" } });
    expect(outside.code).not.toBe(0);
    expect(outside.stderr).toMatch(/timeout expired/);
    expect(await shell.on(data.name, `grep -c '^host .* ${gatewayOf(data.address)}/32 *reject' /etc/postgresql/15/main/pg_hba.conf`)).toBe("1");
    const wrong = adminUrl.replace(/:[^:@/]+@/, ":wrong@");
    expect((await shell.exec(dyno.name, `psql '${wrong}' -tAc 'select 1' 2>&1`)).stdout).toMatch(/password authentication failed/);
});

test("an app's memcached: SASL on the data host's private address only; the shared port 11211 is closed", async () => {
    const out = await memcacheCreate("lab-probe");
    try {
        const port = Number(/^MEMCACHE_SERVERS=[\d.]+:(\d+)$/m.exec(out)![1]);
        expect(out).toContain(`MEMCACHE_SERVERS=${data.address}:${port}`);
        expect(out).toContain("MEMCACHE_USERNAME=lab-probe");
        expect(out).not.toContain(PROBE_PASSWORD);
        // systemctl returns once memcached is started (Type=simple), a moment before it listens.
        const listening = await until("the app's memcached listening", async () => (await shell.on(data.name, `ss -Hltn 'sport = :${port}' | awk '{print $4}'`)) || undefined, 10_000);
        expect(listening).toBe(`${data.address}:${port}`);
        expect(await shell.on(data.name, "ss -Hlunp | grep -c memcached || true")).toBe("0"); // no UDP
        expect(await tcpConnects(data.address, 11211)).toBe(false);
        expect(await tcpConnects(edge.address, port)).toBe(false);
        // From a dyno host: the text protocol gets nothing; binary without or with wrong credentials neither.
        const text = await shell.exec(dyno.name, `timeout 3 bash -c 'exec 3<>/dev/tcp/${data.address}/${port}; printf "version\\r\\nstats\\r\\n" >&3; cat <&3' || true`);
        expect(text.stdout).not.toMatch(/VERSION|STAT/);
        // From this machine through SSH (the firewall keeps the port from it): SASL still decides.
        const [fwdHost, fwdPort] = (await shell.forward(data.name, port)).split(":");
        const session = () => binarySession(Number(fwdPort), fwdHost);
        const anonymous = session();
        expect((await anonymous.set("k", "v")).status).toBe(STATUS.authError);
        anonymous.close();
        const wrong = session();
        expect((await wrong.auth("lab-probe", "wrong")).status).toBe(STATUS.authError);
        wrong.close();
        const right = session();
        expect((await right.auth("lab-probe", PROBE_PASSWORD)).status).toBe(STATUS.ok);
        expect((await right.set("k", "v")).status).toBe(STATUS.ok);
        expect(await right.get("k")).toEqual({ status: STATUS.ok, body: "v" });
        right.close();
    } finally {
        await memcacheDestroy("lab-probe");
    }
    expect(await shell.on(data.name, "systemctl is-active dynoform-memcached@lab-probe || true")).toBe("inactive");
});