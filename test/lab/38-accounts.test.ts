// Accounts and access on the lab stack (issue 15): the stack's CLI key is the first administrator;
// it makes user B (users:add) and gives B a fresh key (keys:add, no pulumi up). B, with its own
// ssh config, can neither push to app A, read its config or logs nor scale it until A's owner grants
// access (access:add); then B can. B can never destroy A. Every change shows in `audit -a A`.
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cli, GitRepo, Result, until } from "../support/apps";
import { LAB_STACK } from "../support/lab_stack";
import { projectRoot } from "../support/pulumi";

jest.setTimeout(6 * 60_000);

const APP = "acct-a";
const B = "bob-lab";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-accounts-"));
const repo = new GitRepo("accounts-test");

/** A word for the forced command's shell-like splitting (as scripts/cli/ssh-files.mjs shellQuote). */
const quote = (s: string) => (/^[A-Za-z0-9_\-.,:=/@+%]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

interface Target {
    host: string;
    port: number;
    user: string;
    hostKey: string;
}

let bConfig: string;
let target: Target;

/** `dynoform ARGS` as B: ssh with B's key and config, as B's own machine would run it. */
function asB(args: string[]): Promise<Result> {
    return new Promise((resolve) => {
        const child = spawn("ssh", ["-F", bConfig, "-T", `${target.user}@${target.host}`, "--", "dynoform", ...args.map(quote)], { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
}

const refusal = `You do not have access to the app ${APP}.`;

beforeAll(async () => {
    // leftovers of an interrupted run
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]);
    await cli(["users:remove", B]);

    // B's machine: a fresh key, the control host pinned, an ssh config of its own (never the stack's key)
    expect((await cli(["apps"])).code).toBe(0); // the stack's target is cached by now
    target = JSON.parse(fs.readFileSync(path.join(projectRoot, ".tools", "dynoform", LAB_STACK, "target.json"), "utf8")) as Target;
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${B}@lab`, "-f", path.join(tmp, "id_ed25519")]);
    fs.writeFileSync(path.join(tmp, "known_hosts"), `${target.port === 22 ? target.host : `[${target.host}]:${target.port}`} ${target.hostKey}\n`);
    bConfig = path.join(tmp, "ssh_config");
    fs.writeFileSync(
        bConfig,
        [
            `Host ${target.host}`,
            `  Port ${target.port}`,
            `  User ${target.user}`,
            `  IdentityFile "${path.join(tmp, "id_ed25519")}"`,
            "  IdentitiesOnly yes",
            `  UserKnownHostsFile "${path.join(tmp, "known_hosts")}"`,
            "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes",
            "  LogLevel ERROR",
            "",
        ].join("\n"),
        { mode: 0o600 },
    );

    fs.writeFileSync(repo.file("package.json"), JSON.stringify({ name: APP, version: "1.0.0", engines: { node: "24.x" }, scripts: { start: "node server.js" } }));
    fs.writeFileSync(repo.file("server.js"), 'require("http").createServer((q, s) => s.end("hello from B\\n")).listen(process.env.PORT);\n');
    await repo.init();
    expect((await repo.git(["remote", "add", "dynoform", `${target.user}@${target.host}:${APP}.git`])).code).toBe(0);
    expect((await repo.git(["config", "core.sshCommand", `ssh -F ${quote(bConfig)}`])).code).toBe(0);
});

afterAll(async () => {
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]);
    await cli(["users:remove", B]);
    repo.remove();
    fs.rmSync(tmp, { recursive: true, force: true });
});

test("a user the stack never heard of: made by users:add and keys:add, B's key works at once (no pulumi up)", async () => {
    // before: B's key is no one's
    const unknown = await asB(["apps"]);
    expect(unknown.code).not.toBe(0);

    expect(await cli(["users:add", B, "--email", "bob@example.com"])).toMatchObject({ code: 0 });
    const added = await cli(["keys:add", "--user", B], projectRoot, fs.readFileSync(path.join(tmp, "id_ed25519.pub"), "utf8"));
    expect(added.code).toBe(0);
    expect(added.stderr).toMatch(/Uploading SSH public key SHA256:\S+\.\.\. done/);
    expect(await asB(["apps"])).toMatchObject({ code: 0, stdout: "You have no apps.\n" });
    expect((await asB(["keys"])).stdout).toContain(`=== ${B} Keys`);
    // B is no administrator
    expect((await asB(["users:add", "mallory"])).stderr).toContain("Only an administrator can run users:add");
    expect((await asB(["hosts"])).stderr).toContain("Only an administrator can run hosts");
});

test("B cannot push to A, read its config or logs, nor scale it until A's owner grants access; then can; B never destroys A", async () => {
    expect((await cli(["apps:create", APP])).code).toBe(0);
    expect((await cli(["access", "-a", APP])).stdout).toMatch(/^dynoform-cli +owner$/m);

    const push = await repo.push();
    expect(push.code).not.toBe(0);
    expect(push.stderr).toContain(refusal);
    for (const args of [["config", "-a", APP], ["logs", "-a", APP, "-n", "10"], ["ps:scale", "web=1", "-a", APP], ["releases", "-a", APP]]) {
        const r = await asB(args);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(refusal);
    }
    expect((await asB(["apps:destroy", "-a", APP, "--confirm", APP])).stderr).toContain(`Only the owner or an administrator can destroy ⬢ ${APP}.`);
    expect((await asB(["access:add", B, "-a", APP])).stderr).toContain(`Only the owner or an administrator can add collaborators to ⬢ ${APP}.`);

    expect(await cli(["access:add", B, "-a", APP])).toMatchObject({ code: 0 });
    expect((await asB(["apps"])).stdout).toContain(APP);
    const pushed = await repo.push();
    expect(pushed.stderr).toContain("remote: -----> Launching...");
    expect(pushed.code).toBe(0);
    expect(await asB(["config:set", "GREETING=hi", "-a", APP])).toMatchObject({ code: 0 });
    expect((await asB(["config", "-a", APP])).stdout).toContain("GREETING:");
    expect((await asB(["ps:scale", "web=2", "-a", APP])).code).toBe(0);
    const logs = await until("B reads the app's api lines", async () => {
        const r = await asB(["logs", "-a", APP, "-n", "200"]);
        return r.code === 0 && r.stdout.includes("app[api]: Scaled to web@2") && r.stdout;
    }, 30_000);
    expect(logs).toContain(`app[api]: Add ${B} as collaborator by user dynoform-cli`);
    // a collaborator still never destroys the app nor changes its access
    expect((await asB(["apps:destroy", "-a", APP, "--confirm", APP])).stderr).toContain(`Only the owner or an administrator can destroy ⬢ ${APP}.`);
    expect((await asB(["access:remove", B, "-a", APP])).code).toBe(1);
    expect((await cli(["apps:info", "-a", APP])).code).toBe(0);

    const audit = (await cli(["audit", "-a", APP, "--json"])).stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { user: string; action: string; detail: string });
    expect(audit.map((e) => `${e.user} ${e.action}`)).toEqual([
        "dynoform-cli apps:create",
        `dynoform-cli access:add`,
        `${B} deploy`,
        `${B} config:set`,
        `${B} ps:scale`,
    ]);
    expect(JSON.stringify(audit)).not.toContain("GREETING=hi"); // config keys only, never values
    // the platform's log has the users and keys too (administrators only)
    const platform = (await cli(["audit", "--json"])).stdout;
    expect(platform).toContain(`"action":"users:add"`);
    expect(platform).toContain(`"action":"keys:add"`);
    expect((await asB(["audit"])).stderr).toContain("Only an administrator can run audit without -a APP");

    // access:remove takes it away again, at once
    expect((await cli(["access:remove", B, "-a", APP])).code).toBe(0);
    expect((await asB(["config", "-a", APP])).stderr).toContain(refusal);
});
