// The servers target end to end, as a user with rented machines does it (issue 17): plain Debian
// machines that know nothing of dynoform (sshd, root's key, a host key — one of them a cloud image
// prepared at boot by the aws target's user data through cloud-init) → a stack of their own with
// `dynoform:target: servers` listing them by address and pinned host key → `pulumi up` → a
// developer who has only the stack's control output and their own key logs in, pushes the example
// app from outside the private network → it serves through the edge → `pulumi destroy` leaves the
// machines clean of dynoform.
import { execFile, execFileSync, spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { awsUserData } from "../../components/hosts/aws/user_data";
import { localExtraCaCertificates } from "../../components/control";
import type { SshConnection } from "../../components/remote/connection";
import { GitRepo, Result, until } from "../support/apps";
import { httpGet } from "../support/lab_hosts";
import { dynoformLeftovers } from "../support/leftovers";
import { bootPlainMachine, bootWithUserData, onMachine, PlainMachine, stopPlainMachines, writeKey } from "../support/plain_machines";
import { CommandResult, projectRoot, pulumiEnv, run } from "../support/pulumi";

jest.setTimeout(40 * 60_000);

const STACK = "servers-test";
const stackFile = path.join(projectRoot, "stacks", `Pulumi.${STACK}.yaml`);
// The machines sit on a /24 bridge whose gateway (.1) is this machine; the stack's private subnet
// is the upper half only, so this machine is outside it: it reaches SSH and the edge, nothing else.
const NETWORK = { name: "srv", subnet: "10.213.3.0/24" };
const PRIVATE_SUBNET = "10.213.3.128/25";
const DOMAIN = "servers.test";
const APP = "hello";
const SPECS = [
    { name: "srv-edge", address: "10.213.3.130", roles: ["edge", "control"] },
    { name: "srv-dyno", address: "10.213.3.140", roles: ["dyno"], cloudInit: true },
    { name: "srv-data", address: "10.213.3.150", roles: ["data"] },
];

// A user's stack has a passphrase of its own: the stack refuses to keep its root key under the
// lab's published one.
const env: NodeJS.ProcessEnv = { ...pulumiEnv(), PULUMI_CONFIG_PASSPHRASE: randomBytes(24).toString("base64url") };

function pulumi(args: string[], timeoutMs = 20 * 60_000): Promise<CommandResult> {
    return run("pulumi", [...args, "--stack", STACK, "--non-interactive"], { env, timeoutMs });
}

async function pulumiOk(args: string[], timeoutMs?: number): Promise<string> {
    const r = await pulumi(args, timeoutMs);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} failed (exit ${r.code}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
    return r.stdout;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-servers-"));
const machines: PlainMachine[] = [];
/** How the test reaches each machine as root after the stack's key is on it. */
const access = new Map<string, SshConnection>();
let stackUp = false;

function keygen(name: string): { privateKey: string; publicKey: string; file: string } {
    const file = path.join(work, name);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
    return { privateKey: fs.readFileSync(file, "utf8"), publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" "), file };
}

/** `pulumi config set` with the value on stdin, as the README tells users to set secrets. */
function configSetFromStdin(key: string, value: string, secret: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
        const args = ["config", "set", ...(secret ? ["--secret"] : []), "--stack", STACK, "--non-interactive", key];
        const child = spawn("pulumi", args, { cwd: projectRoot, env, stdio: ["pipe", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`pulumi ${args.join(" ")}: ${stderr.trim()}`))));
        child.stdin.end(value);
    });
}

/** The CLI as a developer outside the project runs it: a home of their own, no Pulumi state. */
function developerCli(args: string[], cwd: string, home: string): Promise<Result> {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: path.join(home, ".config"), LANG: "C.UTF-8" };
    return new Promise((resolve) => {
        execFile("node", [path.join(projectRoot, "scripts/dynoform.mjs"), ...args], { cwd, env, timeout: 600_000 }, (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
        );
    });
}

const rootKey = keygen("stack-root");
const developerKey = keygen("developer");
const cloudHostKey = keygen("srv-dyno-host");

beforeAll(async () => {
    await run("bash", ["scripts/lab/cleanup.sh", NETWORK.name]);
    await pulumi(["stack", "rm", "--yes", "--force"]); // a leftover of an interrupted run
    for (const spec of SPECS) machines.push(await bootPlainMachine(NETWORK, spec.name, spec.address));
    for (const m of machines) {
        const spec = SPECS.find((s) => s.name === m.name)!;
        if (spec.cloudInit) {
            const userData = awsUserData({ rootPublicKey: rootKey.publicKey, hostPrivateKey: cloudHostKey.privateKey, hostPublicKey: cloudHostKey.publicKey });
            access.set(m.name, await bootWithUserData(m, userData, { rootPrivateKey: rootKey.privateKey, hostPublicKey: cloudHostKey.publicKey }));
        } else {
            // What a user does with a rented server: put the stack's key beside the provider's.
            await onMachine(m.connection, "cat >>/root/.ssh/authorized_keys", `${rootKey.publicKey}\n`);
            access.set(m.name, { ...m.connection, privateKey: rootKey.privateKey });
        }
    }
});

afterAll(async () => {
    // DYNOFORM_TEST_KEEP=1 leaves the machines and the stack for a look after a failure
    // (then: scripts/lab/cleanup.sh srv, pulumi stack rm servers-test --force).
    if (process.env.DYNOFORM_TEST_KEEP) return;
    if (stackUp) await pulumi(["destroy", "--yes", "--skip-preview", "--suppress-progress"]);
    await pulumi(["stack", "rm", "--yes", "--force"]);
    fs.rmSync(stackFile, { force: true });
    await stopPlainMachines(machines);
    await run("bash", ["scripts/lab/cleanup.sh", NETWORK.name]);
    fs.rmSync(work, { recursive: true, force: true });
});

test("the user data prepares a bare cloud image for the servers path: only the pinned host key, only the stack's root key", async () => {
    const c = access.get("srv-dyno")!;
    expect(await onMachine(c, "cloud-init status --format json | sed -n 's/.*\"status\": \"\\([a-z]*\\)\".*/\\1/p' | head -n1")).toBe("done");
    expect(await onMachine(c, "cat /root/.ssh/authorized_keys")).toContain(rootKey.publicKey);
    expect(await onMachine(c, "ls /etc/ssh/ | grep '^ssh_host_.*_key$'")).toBe("ssh_host_ed25519_key");
});

test("pulumi up of a servers stack on the plain machines, then a developer outside pushes the example app through the public control address", async () => {
    const hosts = machines.map((m) => {
        const spec = SPECS.find((s) => s.name === m.name)!;
        return { name: m.name, address: m.address, roles: spec.roles, hostKey: access.get(m.name)!.hostKey };
    });
    fs.writeFileSync(
        stackFile,
        `# Made by test/lab/80-servers-target.test.ts for one run; removed at its end.\n` +
            JSON.stringify({
                config: {
                    "dynoform:target": "servers",
                    "dynoform:domain": DOMAIN,
                    "dynoform:privateSubnet": PRIVATE_SUBNET,
                    "dynoform:hosts": hosts,
                    "dynoform:gitAuthorizedKeys": [developerKey.publicKey],
                    "dynoform:memcachedMemoryMb": "64",
                },
            }, null, 2) + "\n",
    );
    await pulumiOk(["stack", "select", "--create"]);
    await configSetFromStdin("dynoform:sshPrivateKey", rootKey.privateKey, true);
    const ca = localExtraCaCertificates();
    if (ca) await configSetFromStdin("dynoform:extraCaCertificates", ca, false);
    stackUp = true;
    const started = Date.now();
    await pulumiOk(["up", "--yes", "--skip-preview", "--suppress-progress"], 30 * 60_000);
    console.log(`servers_stack_up_s=${((Date.now() - started) / 1000).toFixed(1)}`);

    const control = JSON.parse(await pulumiOk(["stack", "output", "control", "--json"])) as { host: string; port: number; user: string; hostKey: string };
    expect(control.host).toBe("10.213.3.130");

    // The developer: a home of their own, their key, the control output; no checkout state.
    const home = path.join(work, "developer-home");
    fs.mkdirSync(home, { mode: 0o700 });
    const identity = writeKey(home, "id_ed25519", developerKey.privateKey);
    const login = await developerCli(["login", `git@${control.host}${control.port === 22 ? "" : `:${control.port}`}`, "--host-key", control.hostKey, "-i", identity], home, home);
    expect(login.stderr + login.stdout).toContain(`Logged in`);
    expect(login.code).toBe(0);
    const created = await developerCli(["apps:create", APP], home, home);
    expect(created.code).toBe(0);

    const repo = new GitRepo("servers-example", path.join(projectRoot, "examples/node-counter"));
    try {
        await repo.init();
        const remote = await developerCli(["git:remote", "-a", APP], repo.dir, home);
        expect(remote.code).toBe(0);
        expect((await repo.git(["remote", "get-url", "dynoform"])).stdout.trim()).toBe(`git@${control.host}:${APP}.git`);
        const push = await repo.push();
        expect(push.stderr).toContain("deployed to dynoform");
        expect(push.code).toBe(0);
    } finally {
        repo.remove();
    }
    const answer = await until("the example app answers through the servers stack's edge", async () => {
        const r = await httpGet(control.host, `${APP}.${DOMAIN}`);
        return r.status === 200 ? r : undefined;
    }, 120_000);
    expect(answer.headers["x-request-id"]).toBeTruthy();
});

test("pulumi destroy leaves the machines clean of dynoform", async () => {
    await pulumiOk(["destroy", "--yes", "--skip-preview", "--suppress-progress"], 20 * 60_000);
    stackUp = false;
    const left: string[] = [];
    for (const m of machines) {
        const c = access.get(m.name)!;
        for (const line of await dynoformLeftovers((cmd) => onMachine(c, cmd))) left.push(`${m.name}: ${line}`);
    }
    expect(left).toEqual([]);
    // What stays by design (README "What `pulumi destroy` leaves"): the packages with their own
    // configuration back, and PostgreSQL's data.
    const restored = await onMachine(
        access.get("srv-edge")!,
        "cd / && dpkg-query -W -f='${Conffiles}\\n' nginx-common varnish | awk '$1 == \"/etc/nginx/nginx.conf\" || $1 == \"/etc/varnish/default.vcl\" { print $2 \"  \" $1 }' | md5sum -c",
    );
    expect(restored).toBe("/etc/nginx/nginx.conf: OK\n/etc/varnish/default.vcl: OK");
    expect(await onMachine(access.get("srv-data")!, "test -s /var/lib/postgresql/15/main/PG_VERSION && echo kept")).toBe("kept");
});
