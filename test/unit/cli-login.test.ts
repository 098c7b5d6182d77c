// `dynoform login` end to end: the real CLI as a child process, with a temp HOME/XDG_CONFIG_HOME,
// no Pulumi state and a `pulumi` on PATH that only records being run, against a real sshd whose
// authorized key may only run a stand-in for the control host's forced command (it echoes the verb,
// and git-receive-pack goes into a bare repo, so `git push` goes all the way).
import { execFile, execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startSshd, TestSshd } from "../support/sshd";

jest.setTimeout(60_000);

const CLI = path.resolve(__dirname, "../../scripts/dynoform.mjs");

interface Result {
    code: number;
    stdout: string;
    stderr: string;
}

describe("dynoform login", () => {
    let sshd: TestSshd;
    let work: string;
    let home: string;
    let address: string;
    const pulumiRan = () => fs.existsSync(path.join(work, "pulumi-ran"));
    const configDir = () => path.join(home, ".config", "dynoform");
    const loginDir = () => path.join(configDir(), "login");
    const key = (name: "client" | "stranger") => path.join(sshd.dir, name);
    const hostKey = () => sshd.connection.hostKey;

    function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
        // No DYNOFORM_STACK, no ssh-agent, no project PATH: what a teammate's machine has.
        return { PATH: `${path.join(work, "bin")}:/usr/bin:/bin:${path.dirname(process.execPath)}`, HOME: home, XDG_CONFIG_HOME: path.join(home, ".config"), ...extra };
    }

    function run(file: string, args: string[], opts: { cwd?: string; input?: string; env?: Record<string, string> } = {}): Promise<Result> {
        return new Promise((resolve) => {
            const child = execFile(file, args, { cwd: opts.cwd ?? work, env: env(opts.env), timeout: 45_000 }, (err, stdout, stderr) =>
                resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
            );
            child.stdin?.end(opts.input ?? "");
        });
    }
    const cli = (args: string[], opts: { cwd?: string; input?: string; env?: Record<string, string> } = {}) => run("node", [CLI, ...args], opts);
    const login = (...extra: string[]) => cli(["login", address, ...extra]);

    beforeAll(async () => {
        work = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-cli-login-"));
        fs.mkdirSync(path.join(work, "bin"));
        fs.mkdirSync(path.join(work, "repos"));
        fs.writeFileSync(path.join(work, "bin", "pulumi"), `#!/bin/sh\ntouch ${work}/pulumi-ran\necho "error: no stack here" >&2\nexit 255\n`, { mode: 0o755 });
        const control = path.join(work, "fake-control");
        fs.writeFileSync(
            control,
            [
                "#!/bin/sh",
                "# The control host's forced command, reduced: verbs are echoed; git push lands in a bare repo.",
                'case "$SSH_ORIGINAL_COMMAND" in',
                `  "git-receive-pack "*) eval "set -- $SSH_ORIGINAL_COMMAND"; exec git-receive-pack "${work}/repos/$2" ;;`,
                `  "dynoform apps:info -a nope") echo " ▸    Couldn't find that app." >&2; exit 1 ;;`,
                '  *) echo "control ran: $SSH_ORIGINAL_COMMAND" ;;',
                "esac",
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        sshd = await startSshd({ forcedCommand: control });
        // root: the throwaway sshd's only user (the control host's is git).
        address = `root@127.0.0.1:${sshd.port}`;
    });
    afterAll(async () => {
        await sshd?.stop();
        fs.rmSync(work, { recursive: true, force: true });
    });
    beforeEach(() => {
        fs.rmSync(path.join(work, "pulumi-ran"), { force: true });
        // A space in every path the CLI writes into ssh_config and core.sshCommand.
        home = fs.mkdtempSync(path.join(work, "home "));
    });

    test("--host-key and -i: logged in, stored 0700/0600, and verbs reach the control host without pulumi", async () => {
        const result = await login("--host-key", hostKey(), "-i", key("client"));
        expect(result).toMatchObject({ code: 0, stdout: `Logged in to ${address}\n` });
        expect(fs.statSync(configDir()).mode & 0o777).toBe(0o700);
        expect(fs.statSync(loginDir()).mode & 0o777).toBe(0o700);
        for (const f of fs.readdirSync(loginDir())) expect([f, fs.statSync(path.join(loginDir(), f)).mode & 0o777]).toEqual([f, 0o600]);
        expect(fs.readdirSync(loginDir()).sort()).toEqual(["known_hosts", "ssh_config", "target.json"]);
        expect(JSON.parse(fs.readFileSync(path.join(loginDir(), "target.json"), "utf8"))).toEqual({
            host: "127.0.0.1",
            port: sshd.port,
            user: "root",
            hostKey: hostKey(),
            identity: key("client"),
        });
        expect(fs.readFileSync(path.join(loginDir(), "known_hosts"), "utf8")).toBe(`[127.0.0.1]:${sshd.port} ${hostKey()}\n`);

        expect(await cli(["apps"])).toMatchObject({ code: 0, stdout: "control ran: dynoform apps\n" });
        expect(await cli(["config:set", "GREETING=hi there", "-a", "myapp"])).toMatchObject({ code: 0, stdout: "control ran: dynoform config:set 'GREETING=hi there' -a myapp\n" });
        const info = JSON.parse((await cli(["--stack-info"])).stdout);
        expect(info).toMatchObject({ target: "login", host: "127.0.0.1", port: sshd.port, sshConfig: path.join(loginDir(), "ssh_config") });
        expect(pulumiRan()).toBe(false);
    });

    test("DYNOFORM_STACK set: the stack's outputs are used, not the login", async () => {
        expect((await login("--host-key", hostKey(), "-i", key("client"))).code).toBe(0);
        const result = await cli(["apps"], { env: { DYNOFORM_STACK: "cli-login-test-no-such-stack" } });
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/cannot read the outputs of stack cli-login-test-no-such-stack/);
        expect(result.stdout).toBe("");
        // (Which pulumi answered depends on the checkout: scripts/env.sh puts the project's own
        // first on PATH once `npm run setup` has installed it; the message shows it was asked.)
    });

    test("a wrong pinned host key is refused, both fingerprints shown, nothing stored", async () => {
        const result = await login("--host-key", sshd.strangerHostKey, "-i", key("client"));
        expect(result.code).toBe(1);
        const fp = (k: string) => execFileSync("ssh-keygen", ["-lf", "-"], { input: k, encoding: "utf8" }).split(" ")[1];
        expect(result.stderr).toContain("Host key verification failed");
        expect(result.stderr).toContain(`Pinned: ED25519 ${fp(sshd.strangerHostKey)}; the host offers: ED25519 ${fp(hostKey())}`);
        expect(result.stderr).toContain("nothing was stored");
        expect(fs.existsSync(loginDir())).toBe(false);
        expect(fs.readdirSync(configDir())).toEqual([]); // no staging left behind
    });

    test("a key the host does not accept: which key, and how it gets into dynoform:gitAuthorizedKeys; nothing stored", async () => {
        const result = await login("--host-key", hostKey(), "-i", key("stranger"));
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`Permission denied: root@127.0.0.1 did not accept the key offered (${key("stranger")} ED25519 SHA256:`);
        expect(result.stderr).toContain(`dynoform keys:add "$(cat ${key("stranger")}.pub)" --user YOU`);
        expect(result.stderr).toContain(`pulumi config set --path 'dynoform:gitAuthorizedKeys[N]' "$(cat ${key("stranger")}.pub)"`);
        expect(result.stderr).toContain("pulumi up");
        expect(fs.existsSync(loginDir())).toBe(false);
    });

    test("a private key others can read: the chmod that fixes it", async () => {
        const loose = path.join(home, "id_loose");
        fs.copyFileSync(key("client"), loose);
        fs.chmodSync(loose, 0o644);
        const result = await login("--host-key", hostKey(), "-i", loose);
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`chmod 600 '${loose}'`);
        expect(fs.existsSync(loginDir())).toBe(false);
    });

    test("a failed re-login leaves the previous login in place", async () => {
        expect((await login("--host-key", hostKey(), "-i", key("client"))).code).toBe(0);
        expect((await login("--host-key", hostKey(), "-i", key("stranger"))).code).toBe(1);
        expect(JSON.parse(fs.readFileSync(path.join(loginDir(), "target.json"), "utf8")).identity).toBe(key("client"));
        expect(await cli(["apps"])).toMatchObject({ code: 0, stdout: "control ran: dynoform apps\n" });
        expect(fs.readdirSync(configDir())).toEqual(["login"]);
    });

    test("--outputs FILE: the control output pins host, port, user and key (secrets ignored)", async () => {
        const outputs = path.join(home, "outputs.json");
        const control = { host: "127.0.0.1", port: sshd.port, user: "root", hostKey: hostKey() };
        fs.writeFileSync(outputs, JSON.stringify({ control, controlSshKey: "[secret]", domain: "dynoform.test" }));
        expect(await cli(["login", "--outputs", outputs, "-i", key("client")])).toMatchObject({ code: 0, stdout: `Logged in to ${address}\n` });
        expect(await cli(["apps"])).toMatchObject({ code: 0, stdout: "control ran: dynoform apps\n" });

        fs.writeFileSync(outputs, JSON.stringify({ domain: "dynoform.test" }));
        const missing = await cli(["login", "--outputs", outputs]);
        expect(missing.code).toBe(1);
        expect(missing.stderr).toContain("has no control output: make it on the stack owner's checkout with: pulumi stack output --json > FILE");
    });

    test("no terminal and no pinned key: refused with the fix, nothing stored", async () => {
        const result = await login("-i", key("client"));
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`cannot confirm the host key of 127.0.0.1 port ${sshd.port} without a terminal`);
        expect(result.stderr).toMatch(/--host-key "ssh-ed25519 AAAA\.\.\."[\s\S]*--outputs FILE/);
        expect(fs.existsSync(loginDir())).toBe(false);
    });

    test("at a terminal: the fetched key's fingerprint is shown and kept once confirmed", async () => {
        const fp = execFileSync("ssh-keygen", ["-lf", "-"], { input: hostKey(), encoding: "utf8" }).split(" ")[1];
        // script(1) gives the CLI a terminal; its stdin is what is typed.
        const typed = (answer: string) => run("script", ["-qec", `node ${CLI} login ${address} -i ${key("client")}`, "/dev/null"], { input: `${answer}\n` });
        const refused = await typed("no");
        expect(refused.stdout).toContain(`ED25519 key fingerprint is ${fp}.`);
        expect(refused.stdout).toContain("Host key not confirmed");
        expect(fs.existsSync(loginDir())).toBe(false);
        const accepted = await typed("yes");
        expect(accepted.stdout).toContain(`Logged in to ${address}`);
        expect(JSON.parse(fs.readFileSync(path.join(loginDir(), "target.json"), "utf8")).hostKey).toBe(hostKey());
    });

    test("bad arguments name the fix", async () => {
        const cases: [string[], string][] = [
            [["login"], "Missing the control host: dynoform login [git@]HOST[:PORT]"],
            [["login", "git@host:myapp.git"], `"git@host:myapp.git" is not a control host address`],
            [["login", "host:70000"], `port 70000 of "host:70000" is not a TCP port`],
            [["login", "host", "--host-key", "not a key"], `--host-key "not a key" is not an OpenSSH public key`],
            [["login", "host", "-i", `${key("client")}.pub`], `-i ${key("client")}.pub is a public key: -i takes the private key, ${key("client")}`],
            [["login", "host", "--hostkey", "x"], "Unknown option '--hostkey'"],
        ];
        for (const [args, message] of cases) {
            const result = await cli(args);
            expect([args, result.code, result.stderr]).toEqual([args, 1, expect.stringContaining(message)]);
        }
        expect(fs.existsSync(loginDir())).toBe(false);
    });

    test("logout removes the login and nothing else in the config dir", async () => {
        expect((await login("--host-key", hostKey(), "-i", key("client"))).code).toBe(0);
        fs.writeFileSync(path.join(configDir(), "mystack.passphrase"), "x", { mode: 0o600 });
        expect(await cli(["logout"])).toMatchObject({ code: 0, stdout: `Logged out of ${address}\n` });
        expect(fs.readdirSync(configDir())).toEqual(["mystack.passphrase"]);
        expect(await cli(["logout"])).toMatchObject({ code: 0, stdout: "Not logged in\n" });
    });

    test("git:remote with a login: the remote and core.sshCommand, and a real git push through them", async () => {
        expect((await login("--host-key", hostKey(), "-i", key("client"))).code).toBe(0);
        execFileSync("git", ["init", "-q", "--bare", path.join(work, "repos", "myapp.git")]);
        const app = path.join(home, "my app");
        fs.mkdirSync(app);
        const git = (...args: string[]) => execFileSync("git", args, { cwd: app, env: env(), encoding: "utf8" });
        git("init", "-q", "-b", "main");
        git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "first");

        expect(await cli(["git:remote", "-a", "myapp"], { cwd: app })).toMatchObject({ code: 0, stdout: "set git remote dynoform to root@127.0.0.1:myapp.git\n" });
        expect(git("remote", "get-url", "dynoform").trim()).toBe("root@127.0.0.1:myapp.git");
        expect(git("config", "core.sshCommand").trim()).toBe(`ssh -F '${path.join(loginDir(), "ssh_config")}'`);
        git("push", "-q", "dynoform", "main");
        expect(execFileSync("git", ["--git-dir", path.join(work, "repos", "myapp.git"), "log", "--format=%s", "main"], { encoding: "utf8" })).toBe("first\n");
        // -a defaults to the remote's app
        expect(await cli(["ps"], { cwd: app })).toMatchObject({ code: 0, stdout: "control ran: dynoform ps -a myapp\n" });

        const unknown = await cli(["git:remote", "-a", "nope"], { cwd: app });
        expect(unknown).toMatchObject({ code: 1, stderr: " ▸    Couldn't find that app.\n" });
        expect(git("remote", "get-url", "dynoform").trim()).toBe("root@127.0.0.1:myapp.git");
        expect(pulumiRan()).toBe(false);
    });
});
