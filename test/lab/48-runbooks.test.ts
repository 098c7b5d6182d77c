// The runbooks for real on the lab stack (issue 12): status on the healthy stack exits 0 and lists
// every host; drain-host of dyno-2 while a load generator sends requests to an app placed on both
// dyno hosts moves its dynos to dyno-1 with zero failed requests; undrain-host lets dyno-2 take
// dynos again; pg-backup then pg-restore brings a changed row back; control-backup then
// control-restore --drill unpacks the archive on the backup host and finds the apps control lists.
// Runs the scripts as an operator would (node runbooks/<name>.mjs --stack <lab>).
import * as path from "path";
import { cli, GitRepo, runbook, until } from "../support/apps";
import { hostWithRole, labStackInfo } from "../support/lab_stack";
import { httpGet, loadThroughEdge } from "../support/lab_hosts";
import { projectRoot } from "../support/pulumi";

jest.setTimeout(20 * 60_000);

const APP = "runbook-load";
const edge = hostWithRole("edge").address;
const host = `${APP}.${labStackInfo().domain}`;
const dynoHosts = labStackInfo().hosts.filter((h) => h.roles.includes("dyno"));
const repo = new GitRepo("runbooks-test", path.join(projectRoot, "examples/node-counter"));

const load = () => loadThroughEdge(edge, host);

/** One SQL command as the app's role (pg:psql -c): psql's output. */
async function psql(sql: string): Promise<string> {
    const r = await cli(["pg:psql", "-a", APP, "-c", sql], undefined, "");
    if (r.code !== 0) throw new Error(`pg:psql ${sql} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
}

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

test("pg-backup, a row changed, pg-restore of that backup: the row as it was, and the database answers", async () => {
    await psql("drop table if exists runbook_notes; create table runbook_notes (id int primary key, note text not null); insert into runbook_notes values (1, 'as-backed-up')");
    const backup = await runbook("pg-backup.mjs", ["-a", APP]);
    if (backup.code !== 0) throw new Error(`pg-backup exited ${backup.code}:\n${backup.stdout}${backup.stderr}`);
    const id = backup.stdout.trim();
    expect(id).toMatch(/^b\d{3}$/);
    expect(backup.stderr).toContain(`==> capture a backup of ${APP}'s database`);

    await psql("update runbook_notes set note = 'changed' where id = 1");
    const unconfirmed = await runbook("pg-restore.mjs", ["-a", APP, id]);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain("run again with --yes to proceed");
    expect(await psql("select note from runbook_notes")).toContain("changed");

    const restored = await runbook("pg-restore.mjs", ["-a", APP, id, "--yes"]);
    if (restored.code !== 0) throw new Error(`pg-restore exited ${restored.code}:\n${restored.stdout}${restored.stderr}`);
    expect(restored.stdout).toContain(`==> restore backup ${id} into ${APP}'s database`);
    expect(restored.stdout).toContain(`${APP}'s database is restored from backup ${id} and answers`);
    const note = await psql("select note from runbook_notes");
    expect(note).toContain("as-backed-up");
    expect(note).not.toContain("changed");
});

test("control-backup, then control-restore --drill: the archive unpacks on the backup host with the apps control lists, nothing live changed", async () => {
    const backup = await runbook("control-backup.mjs", ["--keep", "3"]);
    if (backup.code !== 0) throw new Error(`control-backup exited ${backup.code}:\n${backup.stdout}${backup.stderr}`);
    const m = /^control backup (\d{8}T\d{6}Z) kept on (\S+): \d+ apps? \((.*)\)$/m.exec(backup.stdout);
    expect(m).not.toBeNull();
    const [, id, backupHost, apps] = m!;
    expect(apps.split(", ")).toContain(APP);
    // dynoform:backupHost is unset on the lab stack: the control host keeps them, and says so
    expect(backupHost).toBe(hostWithRole("control").name);
    expect(backup.stdout).toContain("is the control host itself");

    const listed = JSON.parse((await cli(["apps", "--json"])).stdout) as string[];
    const drill = await runbook("control-restore.mjs", [id, "--drill"]);
    if (drill.code !== 0) throw new Error(`control-restore --drill exited ${drill.code}:\n${drill.stdout}${drill.stderr}`);
    expect(drill.stdout).toContain(`${id}: ${listed.length} app`);
    expect(drill.stdout).toContain("drill passed");
    // the newest is the default, and a drill asks nothing
    expect((await runbook("control-restore.mjs", ["--drill"])).stdout).toContain(`drill: unpack ${id}`);
    expect(JSON.parse((await cli(["apps", "--json"])).stdout)).toEqual(listed);
});
