// The binary's entry point, run as a real process (transpiled), as sshd's forced command would.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as net from "node:net";
import { slugToken } from "../src/slug_access";
import { transpileSources } from "./helpers/transpile";
import { isRoot, removeTestBuildUsers, testBuildUserPrefix } from "./helpers/build_user";

const buildUserPrefix = testBuildUserPrefix();
afterAll(() => {
    if (isRoot) removeTestBuildUsers(buildUserPrefix);
});

let js: string;
let state: string;
beforeAll(() => (js = transpileSources()));
afterAll(() => fs.rmSync(js, { recursive: true, force: true }));
beforeEach(() => {
    state = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-main-"));
    fs.chmodSync(state, 0o711); // as /var/lib/dynoform: build users pass through to builds/ and cache/
    // ~git/.ssh as the stack writes it: alice and bob are the stack's keys, so administrators
    fs.mkdirSync(path.join(state, "ssh"));
    const line = (name: string) => `command="/usr/local/lib/dynoform/dynoform-control ssh ${name}",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${name.padEnd(43, "A")}`;
    fs.writeFileSync(path.join(state, "ssh", "authorized_keys"), `${line("alice")}\n${line("bob")}\n`);
});
afterEach(() => fs.rmSync(state, { recursive: true, force: true }));

function control(args: string[], env: Record<string, string> = {}) {
    const r = spawnSync(process.execPath, [path.join(js, "main.js"), ...args], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DYNOFORM_STATE_DIR: state, DYNOFORM_GIT_SSH_DIR: path.join(state, "ssh"), DYNOFORM_DOMAIN: "apps.lab", DYNOFORM_GIT_HOST: "10.99.0.2", ...env },
        encoding: "utf8",
        timeout: 20_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("verbs as arguments and as an SSH forced command", () => {
    expect(control(["apps:create", "myapp"])).toEqual({ code: 0, stdout: "http://myapp.apps.lab/ | git@10.99.0.2:myapp.git\n", stderr: "Creating ⬢ myapp... done\n" });
    const set = control(["ssh", "alice"], { SSH_ORIGINAL_COMMAND: "config:set 'GREETING=hello world' -a myapp" });
    expect(set).toMatchObject({ code: 0, stdout: "GREETING: hello world\n" });
    expect(control(["ssh", "bob"], { SSH_ORIGINAL_COMMAND: "dynoform config:get GREETING -a myapp" })).toMatchObject({ code: 0, stdout: "hello world\n" });
    expect(control(["ssh", "alice"], { SSH_ORIGINAL_COMMAND: "rm -rf /" })).toEqual({ code: 1, stdout: "", stderr: ' ▸    "rm" is not a dynoform command. Run "dynoform help" to list commands\n' });
    expect(control(["ssh", "alice"], { SSH_ORIGINAL_COMMAND: "git-receive-pack 'nosuchapp.git'" })).toMatchObject({ code: 1, stderr: expect.stringMatching(/nosuchapp/) });
    expect(control(["ssh", "alice"], { SSH_ORIGINAL_COMMAND: "git-receive-pack '../../etc.git'" })).toMatchObject({ code: 1, stderr: expect.stringMatching(/expected a repository like git@host:myapp.git/) });
    expect(control(["ssh", "alice"], { SSH_ORIGINAL_COMMAND: "deploy -a myapp --dir / --commit x" })).toMatchObject({ code: 1, stderr: expect.stringMatching(/not available over SSH/) });
    expect(control(["ssh", "alice"], { SSH_ORIGINAL_COMMAND: "config:set 'A=1 -a myapp" })).toMatchObject({ code: 1, stderr: " ▸    Unterminated single quote in the command: close it and try again\n" });
    // a key no user stands behind runs nothing, not even help
    for (const name of [[], ["mallory"]]) {
        expect(control(["ssh", ...name], { SSH_ORIGINAL_COMMAND: "help" })).toMatchObject({ code: 1, stdout: "", stderr: expect.stringMatching(/^ ▸    Your SSH key is not tied to a dynoform user.*users:add/) });
    }
});

test("accounts over SSH: a user's key goes to authorized_keys2 at once; git and verbs are refused without access, allowed with it", () => {
    expect(control(["ssh", "alice"], { SSH_ORIGINAL_COMMAND: "apps:create myapp" }).code).toBe(0);
    expect(control(["ssh", "alice"], { SSH_ORIGINAL_COMMAND: "users:add carol --email carol@example.com" }).code).toBe(0);
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGzO4jrQOSUCB1SXQkL6b8JDaTUWJbSVpPUpsi36qwNW";
    expect(control(["ssh", "alice"], { SSH_ORIGINAL_COMMAND: `keys:add '${key} carol@laptop' --user carol` })).toMatchObject({ code: 0, stderr: expect.stringMatching(/^Uploading SSH public key SHA256:/) });
    expect(fs.readFileSync(path.join(state, "ssh", "authorized_keys2"), "utf8")).toContain(
        `\ncommand="/usr/local/lib/dynoform/dynoform-control ssh carol",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty ${key}\n`,
    );
    const refusal = ' ▸    You do not have access to the app myapp. Its owner or an administrator can grant it with "dynoform access:add carol -a myapp"\n';
    expect(control(["ssh", "carol"], { SSH_ORIGINAL_COMMAND: "git-receive-pack 'myapp.git'" })).toEqual({ code: 1, stdout: "", stderr: refusal });
    expect(control(["ssh", "carol"], { SSH_ORIGINAL_COMMAND: "git-upload-pack 'myapp.git'" })).toEqual({ code: 1, stdout: "", stderr: refusal });
    expect(control(["ssh", "carol"], { SSH_ORIGINAL_COMMAND: "apps" })).toMatchObject({ code: 0, stdout: "You have no apps.\n" });
    expect(control(["ssh", "alice"], { SSH_ORIGINAL_COMMAND: "access:add carol -a myapp" }).code).toBe(0);
    expect(control(["ssh", "carol"], { SSH_ORIGINAL_COMMAND: "config:set A=1 -a myapp" }).code).toBe(0);
    expect(control(["ssh", "carol"], { SSH_ORIGINAL_COMMAND: "apps:destroy -a myapp --confirm myapp" })).toMatchObject({ code: 1, stderr: " ▸    Only the owner or an administrator can destroy ⬢ myapp.\n" });
    const audit = control(["ssh", "alice"], { SSH_ORIGINAL_COMMAND: "audit -a myapp --json" }).stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(audit.map((e: { user: string; action: string }) => `${e.user} ${e.action}`)).toEqual(["alice apps:create", "alice access:add", "carol config:set"]);
});

test("concurrent processes changing accounts lose nothing (the accounts lock works across processes)", async () => {
    const run = (args: string[]) =>
        new Promise<number>((resolve) => {
            const child = spawn(process.execPath, [path.join(js, "main.js"), ...args], {
                env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DYNOFORM_STATE_DIR: state, DYNOFORM_GIT_SSH_DIR: path.join(state, "ssh") },
                stdio: "ignore",
            });
            child.on("close", (code) => resolve(code ?? 1));
        });
    const names = ["u1", "u2", "u3", "u4", "u5", "u6"];
    expect(await Promise.all(names.map((n) => run(["users:add", n])))).toEqual(names.map(() => 0));
    const file = JSON.parse(fs.readFileSync(path.join(state, "accounts", "accounts.json"), "utf8"));
    expect(Object.keys(file.users).sort()).toEqual(names);
    expect(fs.readdirSync(path.join(state, "accounts"))).toEqual(["accounts.json"]);
});

test("deploy: builds and releases; with no agents wired the rollout fails and the push is rejected, saying why", () => {
    control(["apps:create", "myapp"]);
    const src = path.join(state, "src");
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, "Procfile"), "web: ./serve\n");
    const r = control(["deploy", "-a", "myapp", "--dir", src, "--commit", "0123456789abcdef"], { DYNOFORM_BUILD_USER_PREFIX: buildUserPrefix });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("-----> Procfile app detected\n");
    expect(r.stdout).toContain(" !     rollout is not wired to the dyno hosts yet");
    const releases = control(["releases", "-a", "myapp"]).stdout;
    expect(releases).toMatch(/v1 {2}Deploy 0123456 \(failed\)/);
    expect(releases.split("\n")[0]).toBe("=== myapp Releases"); // nothing serving yet
    const v1 = JSON.parse(fs.readFileSync(path.join(state, "apps", "myapp", "releases", "v1.json"), "utf8"));
    expect(v1.slug).toEqual({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), size: expect.any(Number) });
    expect(fs.existsSync(path.join(state, "slugs", "myapp", `${v1.slug.sha256}.tgz`))).toBe(true);
});

test("serve: the slug server reads its signing key from the config file and wants each slug's token", async () => {
    const port = await new Promise<number>((resolve) => {
        const probe = net.createServer().listen(0, "127.0.0.1", () => {
            const p = (probe.address() as { port: number }).port;
            probe.close(() => resolve(p));
        });
    });
    const key = "k".repeat(64);
    const sha = "d".repeat(64);
    fs.mkdirSync(path.join(state, "slugs", "myapp"), { recursive: true });
    fs.writeFileSync(path.join(state, "slugs", "myapp", `${sha}.tgz`), "bytes");
    const config = path.join(state, "control.json");
    fs.writeFileSync(config, JSON.stringify({ stateDir: state, slugListen: `127.0.0.1:${port}`, slugSigningKey: key, reconcileIntervalMs: 100 }), { mode: 0o600 });
    const child = spawn(process.execPath, [path.join(js, "main.js"), "serve"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DYNOFORM_CONTROL_CONFIG: config }, stdio: ["ignore", "ignore", "pipe"] });
    try {
        let stderr = "";
        await new Promise<void>((resolve, reject) => {
            child.stderr!.on("data", (d) => {
                stderr += d;
                if (stderr.includes("slugs on")) resolve();
            });
            child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
        });
        expect(stderr).not.toContain(key);
        const url = `http://127.0.0.1:${port}/slugs/myapp/${sha}.tgz`;
        expect((await fetch(url)).status).toBe(403);
        const ok = await fetch(url, { headers: { authorization: `Bearer ${slugToken(key, "myapp", sha)}` } });
        expect(ok.status).toBe(200);
        expect(await ok.text()).toBe("bytes");
    } finally {
        process.kill(child.pid!, "SIGTERM");
        await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once("exit", r)));
    }
});

(isRoot ? test : test.skip)("deploy as root with no build user configured: the push is rejected, saying so; nothing runs as root", () => {
    control(["apps:create", "myapp"]);
    const src = path.join(state, "src");
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, "Procfile"), "web: ./serve\n");
    const r = control(["deploy", "-a", "myapp", "--dir", src, "--commit", "0123456789abcdef"]);
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n").filter((l) => l.startsWith(" !     "))).toEqual([
        " !     Push rejected, the build could not run.",
        " !     builds need an unprivileged build user and none is configured: set buildUserPrefix in /etc/dynoform/control.json (components/control does); builds never run as root",
        " !     Push failed: the previous release is still serving",
    ]);
    expect(fs.readdirSync(path.join(state, "apps", "myapp", "releases"))).toEqual([]);
});

(isRoot ? test : test.skip)("git push: the pre-receive hook builds the pushed commit as the app's build user (made on the first push)", () => {
    control(["apps:create", "myapp"]);
    const work = path.join(state, "work");
    fs.mkdirSync(work);
    const git = (...args: string[]) => execFileSync("git", args, { cwd: work, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } }).toString();
    git("init", "-q", "-b", "main");
    fs.writeFileSync(path.join(work, "Procfile"), "web: ./serve\n");
    fs.symlinkSync("/etc/shadow", path.join(work, "notes.txt"));
    git("add", "-A");
    git("commit", "-q", "-m", "v1");
    // the forced command's receive-pack, as sshd runs it (the main.js under test is the hook's binary)
    const env = { DYNOFORM_CONTROL_BINARY: `${process.execPath} ${path.join(js, "main.js")}`, DYNOFORM_BUILD_USER_PREFIX: buildUserPrefix };
    const remote = `ext::env ${Object.entries({ PATH: process.env.PATH ?? "/usr/bin:/bin", DYNOFORM_STATE_DIR: state, DYNOFORM_GIT_SSH_DIR: path.join(state, "ssh"), DYNOFORM_DOMAIN: "apps.lab", ...env })
        .map(([k, v]) => `${k}=${v.replace(/ /g, "% ")}`)
        .join(" ")} SSH_ORIGINAL_COMMAND=git-receive-pack% 'myapp.git' ${process.execPath} ${path.join(js, "main.js")} ssh alice`;
    const r = spawnSync("git", ["-c", "protocol.ext.allow=always", "push", remote, "main"], { cwd: work, encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).toContain("remote: -----> Building on the dynoform-24 stack");
    expect(r.stderr).toContain('remote:  !     notes.txt is a symbolic link to "/etc/shadow", outside the app: commit the file itself (links must stay inside the app)');
    expect(r.stderr).toContain("remote:  !     Push failed: the previous release is still serving");
    expect(r.stderr).toContain("[remote rejected] main -> main (pre-receive hook declined)");
    expect(fs.readFileSync("/etc/passwd", "utf8")).toContain(`${buildUserPrefix}myapp:`);
});
