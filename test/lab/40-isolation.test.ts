// Issue 9 items 1-2 on the lab stack (DRAFT: written without running it; the lead runs the lab):
// hostile pushes are refused with Heroku's ` !     ` lines while the previous release keeps
// serving, builds run as a per-app user, nothing of a build outlives it, and root is never led by a
// symbolic link in the pushed tree.
import { spawn, execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hostWithRole, labStackInfo, LAB_STACK } from "../support/lab_stack";
import { httpGet, LabShell } from "../support/lab_hosts";
import { projectRoot } from "../support/pulumi";

jest.setTimeout(10 * 60_000);

const APP = "hostile";
const OTHER = "bystander";
const control = hostWithRole("control").name;
const edge = hostWithRole("edge").address;
const domain = labStackInfo().domain;
const shell = new LabShell();
const dirs: Record<string, string> = {};

interface Result {
    code: number;
    stdout: string;
    stderr: string;
}

function cli(args: string[], cwd = projectRoot): Promise<Result> {
    return new Promise((resolve) => {
        const child = execFile("node", [path.join(projectRoot, "scripts/dynoform.mjs"), ...args], { cwd, env: { ...process.env, DYNOFORM_STACK: LAB_STACK }, timeout: 300_000 }, (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
        );
        child.stdin?.end();
    });
}

function git(app: string, args: string[]): Promise<Result> {
    return new Promise((resolve) => {
        const child = spawn("git", args, { cwd: dirs[app], env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
}

/** Commit `edit` on top of the good commit and push it. */
async function pushChange(app: string, edit: (dir: string) => void): Promise<Result> {
    edit(dirs[app]);
    await git(app, ["add", "-A"]);
    await git(app, ["commit", "-q", "-m", "change"]);
    return git(app, ["push", "-f", "dynoform", "main"]);
}

const page = () => httpGet(edge, `${APP}.${domain}`);
let good: string;

beforeAll(async () => {
    for (const app of [APP, OTHER]) {
        dirs[app] = fs.mkdtempSync(path.join(os.tmpdir(), `dynoform-${app}-`));
        fs.writeFileSync(path.join(dirs[app], "package.json"), JSON.stringify({ name: app, version: "1.0.0", engines: { node: "24.x" }, scripts: { start: "node server.js" } }));
        fs.writeFileSync(path.join(dirs[app], "server.js"), 'require("http").createServer((q, s) => s.end("good release\\n")).listen(process.env.PORT)\n');
        await git(app, ["init", "-q", "-b", "main"]);
        await git(app, ["add", "-A"]);
        await git(app, ["commit", "-q", "-m", "good"]);
        await cli(["apps:destroy", "-a", app, "--confirm", app]);
        expect((await cli(["apps:create", app])).code).toBe(0);
        expect((await cli(["git:remote", "-a", app], dirs[app])).code).toBe(0);
        expect((await git(app, ["push", "dynoform", "main"])).code).toBe(0);
    }
    good = (await git(APP, ["rev-parse", "HEAD"])).stdout.trim();
});

afterEach(async () => {
    await git(APP, ["reset", "-q", "--hard", good]);
    // nothing of any build is left running on the control host
    expect(await shell.on(control, `ps -eo user:32= | grep -c '^build-' || true`)).toBe("0");
    expect((await page()).body).toBe("good release\n");
});

afterAll(async () => {
    for (const app of [APP, OTHER]) {
        await cli(["apps:destroy", "-a", app, "--confirm", app]);
        fs.rmSync(dirs[app], { recursive: true, force: true });
    }
    shell.close();
});

function expectRejected(r: Result, reason: string): void {
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`remote:  !     ${reason}`);
    expect(r.stderr).toContain("remote:  !     Push failed: the previous release is still serving");
    expect(r.stderr).toContain("[remote rejected] main -> main (pre-receive hook declined)");
}

test("each app builds as its own user, made on its first push; the control binary and sudoers are root's", async () => {
    expect(await shell.on(control, `id -un build-${APP} && id -un build-${OTHER}`)).toBe(`build-${APP}\nbuild-${OTHER}`);
    expect(await shell.on(control, "id dynoform-build >/dev/null 2>&1 && echo present || echo gone")).toBe("gone");
    expect(await shell.on(control, `stat -c '%U %a' /var/lib/dynoform/cache/${APP}`)).toBe(`build-${APP} 700`);
    expect(await shell.on(control, "stat -c '%U' /usr/local/lib/dynoform /usr/local/lib/dynoform/dynoform-control /etc/sudoers.d")).toBe("root\nroot\nroot");
});

test("Procfile -> /etc/shadow: refused, no account name of the control host in the push output", async () => {
    const r = await pushChange(APP, (d) => fs.symlinkSync("/etc/shadow", path.join(d, "Procfile")));
    expectRejected(r, 'Procfile is a symbolic link to "/etc/shadow", outside the app: commit the file itself (links must stay inside the app)');
    expect(r.stderr).not.toContain("Procfile declares types"); // (where account names showed before)
    expect(r.stderr).not.toMatch(/\b(daemon|sshd|nobody)\b/);
});

test(".profile.d/nodejs.sh -> /etc/sudoers.d/dynoform-control: refused, sudo (the git push path) still works", async () => {
    const before = await shell.on(control, "sha256sum /etc/sudoers.d/dynoform-control");
    const r = await pushChange(APP, (d) => {
        fs.mkdirSync(path.join(d, ".profile.d"));
        fs.symlinkSync("/etc/sudoers.d/dynoform-control", path.join(d, ".profile.d", "nodejs.sh"));
    });
    expectRejected(r, '.profile.d/nodejs.sh is a symbolic link to "/etc/sudoers.d/dynoform-control", outside the app: commit the file itself (links must stay inside the app)');
    expect(await shell.on(control, "sha256sum /etc/sudoers.d/dynoform-control")).toBe(before);
    expect((await cli(["releases", "-a", APP])).code).toBe(0); // the forced command still gets through sudo
});

test("a build that swaps its cache for a link to the control binary's directory gets nothing on the next push", async () => {
    const plant = 'ln -s /usr/local/lib/dynoform "$(dirname "$npm_config_cache")/home" 2>&1; ln -s /usr/local/lib/dynoform "$HOME/x"; echo planted';
    const first = await pushChange(APP, (d) => fs.writeFileSync(path.join(d, "package.json"), JSON.stringify({ name: APP, version: "1.0.0", scripts: { start: "node server.js", build: plant } })));
    expect(first.stderr).toContain("planted");
    await git(APP, ["reset", "-q", "--hard", good]);
    expect((await git(APP, ["push", "-f", "dynoform", "main"])).code).toBe(0);
    expect(await shell.on(control, "stat -c '%U' /usr/local/lib/dynoform /usr/local/lib/dynoform/dynoform-control")).toBe("root\nroot");
});

// (Two builds at once reading each other's /proc/<pid>/environ is proven by the unit test
// build_isolation.test.ts; here the snoop finds no secret in any process it can read, the control
// role's included, and cannot list another app's cache.)
test("setsid and double-forked leftovers die with the build; a build reads no other app's secret or cache", async () => {
    await cli(["config:set", "SECRET_OF_OTHER=sekrit-value", "-a", OTHER]);
    const snoop = [
        "setsid sleep 1000 </dev/null >/dev/null 2>&1 &",
        "( ( sleep 1000 </dev/null >/dev/null 2>&1 & ) & )",
        'echo "environ hits: $(cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n" | grep -c "sekrit""-value")"',
        `ls /var/lib/dynoform/cache/${OTHER} 2>&1 | head -1`,
    ].join("; ");
    const r = await pushChange(APP, (d) => fs.writeFileSync(path.join(d, "package.json"), JSON.stringify({ name: APP, version: "1.0.0", scripts: { start: "node server.js", build: snoop } })));
    expect(r.stderr).toContain("environ hits: 0");
    expect(r.stderr).toContain("Permission denied");
    expect(r.code).toBe(0); // a build may background things; they are killed, the push succeeds
    // (afterEach: no process of any build-* user is left on the control host)
});
