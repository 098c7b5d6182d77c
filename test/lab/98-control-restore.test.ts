// The control restore drill (issue 12's Done-when) on the lab stack: an app with a config var and two
// releases → control-backup.mjs → the control host's live state wiped (dynoform-control stopped,
// /var/lib/dynoform moved away whole) → control-restore.mjs onto the same host → every app, its
// releases and config vars are back as `dynoform` shows them, the app answers through the edge, and
// the next `git push` deploys a new release.
//
// Leaves the stack as it found it: the wiped state is removed once the restore is checked, or put
// back in place if the restore did not bring control back (afterAll), and the state the restore set
// aside (/var/lib/dynoform.before-restore-*) is removed too.
import * as fs from "fs";
import { cli, GitRepo, runbook, runbookOk, until } from "../support/apps";
import { edgeAddress, hostWithRole, labStackInfo } from "../support/lab_stack";
import { httpGet, LabShell } from "../support/lab_hosts";

jest.setTimeout(20 * 60_000);

const APP = "restore-drill";
const STATE = "/var/lib/dynoform";
const WIPED = `${STATE}.wiped`;
const control = hostWithRole("control").name;
const address = edgeAddress();
const appHost = `${APP}.${labStackInfo().domain}`;
const serverJs = (marker: string) => `require("http").createServer((q, s) => s.end("${marker} " + (process.env.GREETING || "") + "\\n")).listen(process.env.PORT);\n`;

const shell = new LabShell();
const repo = new GitRepo("restore-drill");
/** The restore brought control back: the wiped state may go. */
let restored = false;

/** What a user sees of control's state: the apps, the app's releases (their relative times dropped) and its config vars. */
async function seen(): Promise<string[]> {
    const r = await Promise.all([cli(["apps"]), cli(["releases", "-a", APP]), cli(["config", "--json", "-a", APP])]);
    for (const x of r) if (x.code !== 0) throw new Error(`dynoform failed (${x.code}): ${x.stderr}${x.stdout}`);
    return r.map((x) => x.stdout.replace(/\(~ [^)]*\)/g, ""));
}

async function answers(marker: string): Promise<boolean> {
    const r = await httpGet(address, appHost);
    return r.status === 200 && r.body.includes(marker);
}

beforeAll(async () => {
    // A leftover of an interrupted run: its wiped state put back (nothing newer was made on it).
    await shell.on(control, `if [ -d ${WIPED} ]; then systemctl stop dynoform-control; rm -rf ${STATE}; mv ${WIPED} ${STATE}; systemctl start dynoform-control; fi`);
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]);
    fs.writeFileSync(repo.file("package.json"), JSON.stringify({ name: APP, version: "1.0.0", engines: { node: "24.x" }, scripts: { start: "node server.js" } }));
    fs.writeFileSync(repo.file("server.js"), serverJs("first"));
    await repo.init();
    expect((await cli(["apps:create", APP])).code).toBe(0);
    expect((await cli(["git:remote", "-a", APP], repo.dir)).code).toBe(0);
    const pushed = await repo.push();
    if (pushed.code !== 0) throw new Error(`git push failed:\n${pushed.stderr.slice(-4000)}`);
    expect((await cli(["config:set", "GREETING=kept-by-the-backup", "-a", APP])).code).toBe(0);
    await until("the app answers with its config var", () => answers("first kept-by-the-backup"), 120_000);
});

afterAll(async () => {
    try {
        const putBack = `systemctl stop dynoform-control; rm -rf ${STATE}; mv ${WIPED} ${STATE}; systemctl start dynoform-control`;
        await shell.on(control, `if [ -d ${WIPED} ]; then ${restored ? `rm -rf ${WIPED}` : putBack}; fi; rm -rf ${STATE}.before-restore-*`);
        await cli(["apps:destroy", "-a", APP, "--confirm", APP]);
    } finally {
        repo.remove();
        shell.close();
    }
});

test("control-backup, the control host's state wiped, control-restore: apps, releases and config vars are back, the app answers, the next push deploys", async () => {
    const before = await seen();
    expect(before[0]).toContain(APP);
    expect(before[1]).toMatch(/Set GREETING config vars/);
    expect(JSON.parse(before[2])).toMatchObject({ GREETING: "kept-by-the-backup" });
    const versions = (text: string) => [...text.matchAll(/\bv(\d+)\b/g)].map((m) => Number(m[1]));
    const newest = Math.max(...versions(before[1]));
    expect(versions(before[1]).length).toBeGreaterThanOrEqual(2);

    const backup = await runbook("control-backup.mjs");
    runbookOk(backup, "control-backup");
    const id = /^control backup (\d{8}T\d{6}Z) kept on /m.exec(backup.stdout)?.[1];
    expect(id).toBeDefined();

    // The live state is gone: the daemon stopped and its whole state directory moved out of the way.
    await shell.on(control, `systemctl stop dynoform-control && mv ${STATE} ${WIPED}`);
    expect((await shell.exec(control, `test -e ${STATE}/apps/${APP}`)).code).not.toBe(0);

    const restore = await runbook("control-restore.mjs", [id!, "--yes"]);
    runbookOk(restore, "control-restore");
    expect(restore.stdout).toContain(`==> restore control backup ${id}`);
    expect(restore.stdout).toMatch(new RegExp(`control on ${control} serves the \\d+ apps of backup ${id} again`));
    expect(await shell.on(control, "systemctl is-active dynoform-control")).toBe("active");

    expect(await seen()).toEqual(before);
    await until("the app answers through the edge", () => answers("first kept-by-the-backup"), 120_000);
    restored = true;

    // The git remote works again: the next push builds and deploys the next release.
    await repo.commit("second", () => fs.writeFileSync(repo.file("server.js"), serverJs("second")));
    const pushed = await repo.push();
    if (pushed.code !== 0) throw new Error(`git push after the restore failed:\n${pushed.stderr.slice(-4000)}`);
    await until("the new release answers through the edge", () => answers("second kept-by-the-backup"), 120_000);
    const releases = await cli(["releases", "-a", APP]);
    expect(Math.max(...versions(releases.stdout))).toBe(newest + 1);
});
