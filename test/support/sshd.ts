// A throwaway OpenSSH server on 127.0.0.1 for tests: its own host key, config and authorized key
// for root, in a temp dir. Needs /usr/sbin/sshd (Debian package openssh-server) and root.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import type { SshConnection } from "../../components/remote/connection";
import { freePort } from "./ports";

const SSHD = "/usr/sbin/sshd";

export interface TestSshd {
    port: number;
    dir: string;
    /** Connection as root with the authorized key and the pinned host key. */
    connection: SshConnection;
    /** A key pair that is not authorized, and a host key sshd does not use. */
    strangerPrivateKey: string;
    strangerHostKey: string;
    start(): Promise<void>;
    stop(): Promise<void>;
}

export interface SshdOptions {
    /** Host name in the connection (shows up in error messages). */
    name?: string;
    /** PATH for sessions, e.g. to put fake `systemctl` first. */
    sessionPath?: string;
    /**
     * An executable the authorized key may only run (authorized_keys `command=`), as the control
     * host's forced command: it sees the client's command in SSH_ORIGINAL_COMMAND.
     */
    forcedCommand?: string;
}

/** Generates keys and config and picks a free port; does not start sshd (see `start`). */
export async function prepareSshd(options: SshdOptions = {}): Promise<TestSshd> {
    const name = options.name ?? "test-host";
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-sshd-"));
    fs.chmodSync(dir, 0o700);
    const keygen = (file: string) => execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file]);
    for (const key of ["host", "client", "stranger", "stranger_host"]) keygen(path.join(dir, key));
    const restrictions = options.forcedCommand ? `command="${options.forcedCommand}",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty ` : "";
    fs.writeFileSync(path.join(dir, "authorized_keys"), restrictions + fs.readFileSync(path.join(dir, "client.pub"), "utf8"));
    const port = await freePort();
    fs.writeFileSync(
        path.join(dir, "sshd_config"),
        [
            `ListenAddress 127.0.0.1`,
            `Port ${port}`,
            `HostKey ${dir}/host`,
            `PidFile ${dir}/sshd.pid`,
            `AuthorizedKeysFile ${dir}/authorized_keys`,
            `PermitRootLogin prohibit-password`,
            `PasswordAuthentication no`,
            `KbdInteractiveAuthentication no`,
            `UsePAM no`,
            `StrictModes no`,
            `LogLevel ERROR`,
            ...(options.sessionPath ? [`SetEnv PATH=${options.sessionPath}`] : []),
            ``,
        ].join("\n"),
    );
    fs.mkdirSync("/run/sshd", { recursive: true });
    const publicKey = (file: string) => fs.readFileSync(path.join(dir, file), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    let child: ChildProcess | undefined;
    return {
        port,
        dir,
        connection: {
            name,
            host: "127.0.0.1",
            port,
            user: "root",
            privateKey: fs.readFileSync(path.join(dir, "client"), "utf8"),
            hostKey: publicKey("host.pub"),
        },
        strangerPrivateKey: fs.readFileSync(path.join(dir, "stranger"), "utf8"),
        strangerHostKey: publicKey("stranger_host.pub"),
        async start() {
            child = spawn(SSHD, ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
            let stderr = "";
            child.stderr?.on("data", (chunk) => (stderr += chunk));
            await waitForPort(port, 10_000, () => (child?.exitCode !== null ? `sshd exited: ${stderr}` : undefined));
        },
        async stop() {
            const running = child;
            child = undefined;
            if (running && running.exitCode === null && running.pid) {
                const exited = new Promise((resolve) => running.once("exit", resolve));
                process.kill(running.pid, "SIGTERM");
                await exited;
            }
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

export async function startSshd(options: SshdOptions = {}): Promise<TestSshd> {
    const sshd = await prepareSshd(options);
    await sshd.start();
    return sshd;
}

async function waitForPort(port: number, timeoutMs: number, failure: () => string | undefined): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const problem = failure();
        if (problem) throw new Error(problem);
        const open = await new Promise<boolean>((resolve) => {
            const socket = net.connect(port, "127.0.0.1");
            socket.once("connect", () => (socket.destroy(), resolve(true)));
            socket.once("error", () => resolve(false));
        });
        if (open) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${timeoutMs}ms`);
}
