// Issue 9 item 9, on the lab stack: a destroyed app does not come back with a dyno host that missed
// the destroy. The dyno host is power-cycled with its disk kept and its agent held off (disabled,
// then a reboot in place: every dyno ends, the agent's state file stays), the app is destroyed, the
// agent is started again and relaunches the dynos its state file names; the control role's placement
// loop must remove them there, and the routers must answer "No such app" again. A second test does
// the same with a new app of the same name deployed meanwhile: only the new one serves once the host
// is cleared.
//
// Why not a real power-off (pkill -TERM of the machine's systemd-nspawn, as 30-deploy does): the
// lab brings such a machine back with `pulumi up --refresh`, which recreates it from its image, so
// its disk (the agent's state file) does not survive and the returning host has nothing to serve.
// A reboot in place keeps the overlay (components/hosts/README.md).
import * as fs from "fs";
import { cli, GitRepo, until } from "../support/apps";
import { edgeAddress, hostWithRole, labStackInfo } from "../support/lab_stack";
import { httpGet, LabShell } from "../support/lab_hosts";

jest.setTimeout(15 * 60_000);

type StackHost = ReturnType<typeof labStackInfo>["hosts"][number];

const APP = "tombstone";
const edge = edgeAddress();
const control = hostWithRole("control").name;
const domain = labStackInfo().domain;
const dynoHosts = labStackInfo().hosts.filter((h) => h.roles.includes("dyno"));
const shell = new LabShell();
const SERVER_JS = `require("http").createServer((q, s) => s.end("incarnation " + process.env.MARKER + "\\n")).listen(process.env.PORT);\n`;
let stopped: StackHost | undefined;

const page = () => httpGet(edge, `${APP}.${domain}`);

/** The app answers through the edge with `marker`. */
const serves = async (marker: string) => {
    const r = await page();
    return r.status === 200 && r.body.includes(`incarnation ${marker}`);
};

/** The router's answer for a name no app has. */
const noSuchApp = async () => {
    const r = await page();
    return r.status === 404 && r.body.includes("No such app");
};

async function createAndPush(marker: string): Promise<GitRepo> {
    const repo = new GitRepo(`tombstone-${marker}`);
    fs.writeFileSync(repo.file("package.json"), JSON.stringify({ name: APP, version: "1.0.0", engines: { node: "24.x" }, scripts: { start: "node server.js" } }));
    fs.writeFileSync(repo.file("server.js"), SERVER_JS);
    await repo.init();
    expect((await cli(["apps:create", APP])).code).toBe(0);
    expect((await cli(["config:set", `MARKER=${marker}`, "-a", APP])).code).toBe(0);
    expect((await cli(["git:remote", "-a", APP], repo.dir)).code).toBe(0);
    const pushed = await repo.push();
    expect(pushed.code).toBe(0);
    await until(`${marker} served`, () => serves(marker), 120_000);
    return repo;
}

/** The dyno host that runs the app's web.1 (from `ps -x`). */
async function hostOfWeb1(): Promise<StackHost> {
    const ps = (await cli(["ps", "-x", "-a", APP])).stdout;
    const line = ps.split("\n").find((l) => l.startsWith("web.1"));
    const host = dynoHosts.find((h) => line?.includes(h.address));
    if (!host) throw new Error(`no dyno host named in ps -x:\n${ps}`);
    return host;
}

/** The host's boot id; a dead session (the host rebooting) is dropped, not reused. */
async function bootId(host: StackHost): Promise<string> {
    try {
        return await shell.on(host.name, "cat /proc/sys/kernel/random/boot_id");
    } catch (err) {
        shell.reset();
        throw err;
    }
}

/**
 * A power cycle that keeps the disk, with the agent held off until `powerBack`: its dynos end, the
 * control role sees the host gone (no /health), the agent's state file stays.
 */
async function cutPower(host: StackHost): Promise<void> {
    stopped = host;
    const before = await bootId(host);
    // the reboot in a second, so this SSH command returns first
    await shell.on(host.name, "systemctl disable dynoform-agent && systemd-run --on-active=1 systemctl reboot");
    shell.reset();
    await until(`${host.name} rebooted`, async () => {
        const id = await bootId(host);
        return id !== "" && id !== before;
    }, 240_000);
    expect(await shell.on(host.name, "systemctl is-active dynoform-agent || true")).toBe("inactive");
    expect(await unitsOn(host)).toEqual([]);
    // the precondition of this test: the host still holds the app it is about to miss the destroy of
    expect(await shell.on(host.name, `(grep -o '"${APP}"' /var/lib/dynoform-agent/state.json 2>/dev/null || true) | wc -l`)).not.toBe("0");
}

/** Starts the agent again; resolves once the control role logged clearing the app there (bounded). */
async function powerBack(host: StackHost): Promise<void> {
    const since = await shell.on(control, "date +%s");
    await shell.on(host.name, "systemctl enable --now dynoform-agent");
    stopped = undefined;
    await until(
        "the control role removes the destroyed app from the returned host",
        async () => (await shell.on(control, `journalctl -u dynoform-control --since @${since} --no-pager -o cat | grep -c 'reconcile: ${APP}: removing the destroyed app from .*${host.address}' || true`)) !== "0",
        120_000,
    );
}

/** The app's dyno units on `host` (the agent stops and unloads each unit of an app it deletes). */
async function unitsOn(host: StackHost): Promise<string[]> {
    return (await shell.on(host.name, `systemctl list-units --all --plain --no-legend 'dyno-${APP}-*' | awk '{print $1}'`)).split("\n").filter(Boolean);
}

const noUnitsOn = async (host: StackHost) => (await unitsOn(host)).length === 0;

/** The MARKER config var each of the app's units on `host` was started with (from its root-only EnvironmentFile). */
async function markersOn(host: StackHost): Promise<string[]> {
    const out: string[] = [];
    for (const unit of await unitsOn(host)) {
        out.push(await shell.on(host.name, `systemctl show -p EnvironmentFiles --value ${unit} | cut -d' ' -f1 | xargs -r cat 2>/dev/null | grep '^MARKER=' || true`));
    }
    return out;
}

const repos: GitRepo[] = [];

beforeAll(async () => {
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]); // a leftover of an interrupted run
});

afterEach(async () => {
    if (stopped) await shell.on(stopped.name, "systemctl enable --now dynoform-agent").catch(() => undefined);
    stopped = undefined;
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]);
});

afterAll(() => {
    shell.close();
    for (const r of repos) r.remove();
});

test("a dyno host that was down while its app was destroyed comes back without serving that app", async () => {
    repos.push(await createAndPush("old"));
    const host = await hostOfWeb1();
    await cutPower(host);

    const destroyed = await cli(["apps:destroy", "-a", APP, "--confirm", APP]);
    expect(destroyed.stderr).toContain(`Destroying ⬢ ${APP} (including all add-ons)... done`);
    await until("the routers forget the app", noSuchApp, 60_000);

    await powerBack(host);
    await until(`no dyno-${APP}-* unit on ${host.name}`, () => noUnitsOn(host), 60_000);
    await until("the routers answer No such app", noSuchApp, 60_000);
    // and it stays so: the agent no longer has the app to register again
    for (let i = 0; i < 5; i++) {
        expect(await noSuchApp()).toBe(true);
        await new Promise((r) => setTimeout(r, 1000));
    }
    expect(await noUnitsOn(host)).toBe(true);
});

test("a new app of the same name, deployed while that host was down: once it is back only the new one serves", async () => {
    if (dynoHosts.length < 2) return; // the new app needs another dyno host while this one is down
    repos.push(await createAndPush("old"));
    const host = await hostOfWeb1();
    await cutPower(host);
    expect((await cli(["apps:destroy", "-a", APP, "--confirm", APP])).code).toBe(0);
    repos.push(await createAndPush("new"));

    await powerBack(host);
    await until(`no unit of the old app on ${host.name}`, async () => (await markersOn(host)).every((m) => m === 'MARKER="new"'), 60_000);
    // The old web.1's registration had replaced the new one's on the routers, and its deregistration
    // removed the name: the new web.1 is back with its next lease renewal.
    await until("the new app answers", () => serves("new"), 60_000);
    // every answer from here on is the new app's, whichever host serves it
    for (let i = 0; i < 20; i++) {
        const r = await page();
        expect(`${r.status} ${r.body.trim()}`).toBe("200 incarnation new");
    }
    expect((await cli(["ps", "-a", APP])).stdout).toMatch(/^web\.1: up /m);
    // the returned host runs nothing of the old app: any unit of the name there is the new one's
    for (const m of await markersOn(host)) expect(m).toBe('MARKER="new"');
});
