// The runbooks for real on the lab stack (issue 12): status on the healthy stack exits 0 and lists
// every host; drain-host of dyno-2 while a load generator sends requests to an app placed on both
// dyno hosts moves its dynos to dyno-1 with zero failed requests; undrain-host lets dyno-2 take
// dynos again. Runs the scripts as an operator would (node runbooks/<name>.mjs --stack <lab>).
import { execFile } from "child_process";
import * as path from "path";
import { cli, GitRepo, Result, until } from "../support/apps";
import { hostWithRole, labStackInfo, LAB_STACK } from "../support/lab_stack";
import { httpGet, loadThroughEdge } from "../support/lab_hosts";
import { projectRoot } from "../support/pulumi";

jest.setTimeout(20 * 60_000);

const APP = "runbook-load";
const edge = hostWithRole("edge").address;
const host = `${APP}.${labStackInfo().domain}`;
const dynoHosts = labStackInfo().hosts.filter((h) => h.roles.includes("dyno"));
const repo = new GitRepo("runbooks-test", path.join(projectRoot, "examples/node-counter"));

function runbook(name: string, args: string[] = []): Promise<Result> {
    return new Promise((resolve) => {
        execFile("node", [path.join(projectRoot, "runbooks", name), ...args, "--stack", LAB_STACK], { cwd: projectRoot, env: { ...process.env, DYNOFORM_STACK: LAB_STACK }, timeout: 15 * 60_000 }, (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
        );
    });
}

const load = () => loadThroughEdge(edge, host);

/** host name → how many of the app's web dynos are up there (`ps --json` names a dyno's host by its address). */
async function dynosByHost(): Promise<Record<string, number>> {
    const ps = await cli(["ps", "-a", APP, "--json"]);
    const dynos = JSON.parse(ps.stdout) as { name: string; type: string; state: string; host?: string }[];
    return Object.fromEntries(dynoHosts.map((h) => [h.name, dynos.filter((d) => d.type === "web" && d.state === "up" && d.host === h.address).length]));
}

beforeAll(async () => {
    await repo.init();
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]); // a leftover of an interrupted run
    await runbook("undrain-host.mjs", ["dyno-2"]); // and of a drain it left behind
    expect((await cli(["apps:create", APP])).code).toBe(0);
    expect((await cli(["git:remote", "-a", APP], repo.dir)).code).toBe(0);
    expect((await repo.push()).code).toBe(0);
    expect((await cli(["ps:scale", "web=2", "-a", APP])).code).toBe(0);
    await until("the app answers", async () => (await httpGet(edge, host)).status === 200);
});

afterAll(async () => {
    await runbook("undrain-host.mjs", ["dyno-2"]);
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]);
    repo.remove();
});

test("status: the healthy stack exits 0 and lists every host, its services and the apps", async () => {
    const r = await runbook("status.mjs");
    if (r.code !== 0) throw new Error(`status exited ${r.code}:\n${r.stdout}${r.stderr}`);
    for (const h of labStackInfo().hosts) expect(r.stdout).toMatch(new RegExp(`✓ ${h.name} \\(${h.address.replace(/\./g, "\\.")}\\)`));
    for (const unit of ["nginx", "varnish", "dynoform-router", "dynoform-agent", "dynoform-control", "dynoform-firewall", "postgresql@"]) expect(r.stdout).toContain(unit);
    expect(r.stdout).toMatch(new RegExp(`✓ ${APP} +v\\d+ +web 2/2`));
    expect(r.stdout).toContain("everything is up");
    expect(r.stdout).not.toMatch(/\x1b\[/); // no colour off a terminal
});

test("drain-host dyno-2 under load: its dynos move to dyno-1 with zero failed requests; undrain-host lets it take dynos again", async () => {
    expect(dynoHosts.map((h) => h.name)).toEqual(["dyno-1", "dyno-2"]);
    expect(await dynosByHost()).toEqual({ "dyno-1": 1, "dyno-2": 1 });

    // Without a terminal and without --yes, nothing happens.
    const unconfirmed = await runbook("drain-host.mjs", ["dyno-2"]);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain("run again with --yes to proceed");

    const traffic = load();
    await new Promise((r) => setTimeout(r, 3000));
    const drained = await runbook("drain-host.mjs", ["dyno-2", "--yes"]);
    await new Promise((r) => setTimeout(r, 3000));
    const stats = await traffic.stop();
    expect(drained.code).toBe(0);
    expect(drained.stdout).toContain("==> drain dyno-2");
    expect(drained.stdout).toContain("is drained and runs no dyno");
    console.log(`drain-host under load: ${stats.total} requests, ${stats.failed} failed ${stats.samples.join(" | ")}`);
    expect(stats.total).toBeGreaterThan(20);
    expect(stats.failed).toBe(0);
    expect(await dynosByHost()).toEqual({ "dyno-1": 2, "dyno-2": 0 });

    // Idempotent; and status shows the drain without calling it down.
    expect((await runbook("drain-host.mjs", ["dyno-2", "--yes"])).stdout).toContain("nothing to do");
    const status = await runbook("status.mjs");
    if (status.code !== 0) throw new Error(`status exited ${status.code}:\n${status.stdout}${status.stderr}`);
    expect(status.stdout).toMatch(/drained since/);
    // A scale places nothing on the drained host.
    expect((await cli(["ps:scale", "web=3", "-a", APP])).code).toBe(0);
    expect(await dynosByHost()).toEqual({ "dyno-1": 3, "dyno-2": 0 });

    const undrained = await runbook("undrain-host.mjs", ["dyno-2"]);
    expect(undrained.code).toBe(0);
    expect(undrained.stdout).toContain("takes dynos again");
    expect((await runbook("undrain-host.mjs", ["dyno-2"])).stdout).toContain("is not drained: nothing to do");
    expect((await cli(["ps:scale", "web=4", "-a", APP])).code).toBe(0);
    await until("dyno-2 takes dynos again", async () => (await dynosByHost())["dyno-2"] >= 1);
});
