import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { utils } from "ssh2";
import { atomicWriteScript, connectWithRetries, shellQuote, sudoProblem, tail, withSsh } from "../../components/remote/ssh";
import { freePort } from "../support/ports";
import { prepareSshd, startSshd, TestSshd } from "../support/sshd";

jest.setTimeout(30_000);

describe("ssh against a real sshd", () => {
    let sshd: TestSshd;
    beforeAll(async () => {
        sshd = await startSshd({ name: "edge-1" });
    });
    afterAll(async () => {
        await sshd?.stop();
    });

    test("runs a command with stdin and returns code, stdout, stderr", async () => {
        const result = await withSsh(sshd.connection, (session) =>
            session.exec("cat; echo oops >&2; exit 3", { stdin: "hello\n" }),
        );
        expect(result).toEqual({ code: 3, stdout: "hello\n", stderr: "oops\n" });
    });

    test("reuses one connection for several commands", async () => {
        const outputs = await withSsh(sshd.connection, async (session) => {
            const first = await session.run("echo one");
            const second = await session.run("echo two");
            return [first.stdout, second.stdout];
        });
        expect(outputs).toEqual(["one\n", "two\n"]);
    });

    test("a failing command names the host, exit code, command and stderr tail", async () => {
        const failing = withSsh(sshd.connection, (session) =>
            session.run("echo start; for i in $(seq 1 500); do echo line-$i >&2; done; exit 100", { label: "apt-get install nginx" }),
        );
        await expect(failing).rejects.toThrow(
            /^edge-1 \(127\.0\.0\.1:\d+\): command failed \(exit 100\): apt-get install nginx — stderr tail: …[\s\S]*line-500$/,
        );
        await expect(failing).rejects.not.toThrow(/line-1\n/);
    });

    test("uploads atomically with mode and owner", async () => {
        const target = path.join(sshd.dir, "sub dir", "it's.conf");
        await withSsh(sshd.connection, (session) =>
            session.upload(target, "secret=1\n", { mode: "0640", owner: "nobody:nogroup" }),
        );
        const stat = fs.statSync(target);
        expect(fs.readFileSync(target, "utf8")).toBe("secret=1\n");
        expect((stat.mode & 0o777).toString(8)).toBe("640");
        expect(stat.uid).toBe(65534);
        expect(fs.readdirSync(path.dirname(target))).toEqual(["it's.conf"]);
    });

    test("the connected client forwards a port (what LabShell.forward does)", async () => {
        const server = net.createServer((socket) => socket.end("through the tunnel\n"));
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const client = await connectWithRetries(sshd.connection);
        try {
            const answer = await new Promise<string>((resolve, reject) =>
                client.forwardOut("127.0.0.1", 0, "127.0.0.1", (server.address() as net.AddressInfo).port, (err, stream) => {
                    if (err) return reject(err);
                    let text = "";
                    stream.on("data", (chunk: Buffer) => (text += chunk));
                    stream.on("end", () => {
                        stream.end();
                        resolve(text);
                    });
                }),
            );
            expect(answer).toBe("through the tunnel\n");
        } finally {
            client.end();
            server.close();
        }
    });

    test("refuses a host whose key is not the pinned one", async () => {
        const connection = { ...sshd.connection, hostKey: sshd.strangerHostKey };
        await expect(withSsh(connection, async () => undefined)).rejects.toThrow(
            `edge-1 (127.0.0.1:${sshd.port}): HOST KEY CHANGED: expected ${sshd.strangerHostKey}, got ${sshd.connection.hostKey}`,
        );
    });

    test("reports refused authentication without retrying", async () => {
        const connection = { ...sshd.connection, privateKey: sshd.strangerPrivateKey };
        const started = Date.now();
        await expect(withSsh(connection, async () => undefined)).rejects.toThrow(
            `edge-1 (127.0.0.1:${sshd.port}): auth refused for root`,
        );
        expect(Date.now() - started).toBeLessThan(5_000);
    });
});

describe("ssh connection retries", () => {
    test("an unreachable host fails after the time budget, naming the cause", async () => {
        const port = await freePort();
        const connection = {
            name: "edge-1", host: "127.0.0.1", port, user: "root", privateKey: utils.generateKeyPairSync("ed25519").private,
            hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO6v",
        };
        const started = Date.now();
        await expect(withSsh(connection, async () => undefined, { timeoutMs: 2_000, initialDelayMs: 100 })).rejects.toThrow(
            `edge-1 (127.0.0.1:${port}): unreachable (ECONNREFUSED) after 2s`,
        );
        expect(Date.now() - started).toBeLessThan(4_000);
    });

    test("a lab address no lab bridge routes to fails at once, saying the lab network is gone", async () => {
        // The seal setup installs (idempotent): the SYN never leaves the machine by its default route.
        execFileSync("bash", [path.resolve(__dirname, "../../scripts/lab/seal.sh"), "install"], { stdio: "ignore" });
        const connection = {
            name: "dyno-9", host: "10.213.250.10", port: 22, user: "root", privateKey: utils.generateKeyPairSync("ed25519").private,
            hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO6v",
        };
        // A budget far above the test's own timeout: only a failure without retries passes.
        await expect(withSsh(connection, async () => undefined, { timeoutMs: 600_000 })).rejects.toThrow(
            /^dyno-9 \(10\.213\.250\.10:22\): the lab network of 10\.213\.250\.10 is gone .*Run `pulumi up` on this stack to recreate its machines/,
        );
    });

    test("retries until an sshd that starts late accepts the connection", async () => {
        const sshd = await prepareSshd({ name: "late-host" });
        try {
            const late = new Promise((resolve) => setTimeout(resolve, 1_500)).then(() => sshd.start());
            const output = await withSsh(sshd.connection, (session) => session.run("echo up"), {
                timeoutMs: 15_000, initialDelayMs: 100,
            });
            await late;
            expect(output.stdout).toBe("up\n");
        } finally {
            await sshd.stop();
        }
    });
});

describe("ssh helpers", () => {
    test("shellQuote leaves plain words and quotes the rest", () => {
        expect(shellQuote("/etc/nginx/nginx.conf")).toBe("/etc/nginx/nginx.conf");
        expect(shellQuote("it's here")).toBe(`'it'\\''s here'`);
    });

    test("tail keeps the end of long output", () => {
        expect(tail("short\n")).toBe("short");
        expect(tail("a\nbbbb\ncc", 5)).toBe("…cc");
    });

    test("atomic write goes through a temp file in the target directory", () => {
        const script = atomicWriteScript("/etc/x.conf", { mode: "0600", owner: "www-data:www-data" });
        expect(script).toContain("mktemp -p /etc .x.conf.dynoform-XXXXXX");
        expect(script).toContain('chmod 0600 "$tmp"');
        expect(script).toContain('mv -f "$tmp" /etc/x.conf');
    });

    test("a user without passwordless sudo (or without sudo) is told how to get root; root and other failures are not", () => {
        const admin = { name: "dyno-1", host: "10.0.0.21", port: 22, user: "admin", privateKey: "", hostKey: "" };
        expect(sudoProblem(admin, { code: 1, stdout: "", stderr: "sudo: a password is required\n" })).toBe(
            "dyno-1 (10.0.0.21:22): admin cannot run commands as root (sudo: a password is required): connect as root (user: root in dynoform:hosts), " +
                "or give admin passwordless sudo (echo 'admin ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/admin)",
        );
        expect(sudoProblem(admin, { code: 1, stdout: "", stderr: "admin is not in the sudoers file.  This incident will be reported.\n" })).toMatch(/admin cannot run commands as root \(admin is not in the sudoers file/);
        expect(sudoProblem(admin, { code: 127, stdout: "", stderr: "bash: line 1: sudo: command not found\n" })).toMatch(
            /admin cannot run commands as root \(sudo is not installed\): connect as root \(user: root in dynoform:hosts\), or install sudo and give admin passwordless sudo/,
        );
        expect(sudoProblem({ ...admin, user: "root" }, { code: 1, stdout: "", stderr: "sudo: a password is required\n" })).toBeUndefined();
        expect(sudoProblem(admin, { code: 2, stdout: "", stderr: "apt-get: broken\n" })).toBeUndefined();
    });
});
