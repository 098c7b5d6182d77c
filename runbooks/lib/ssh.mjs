// The stack's hosts over OpenSSH with their pinned host keys (the stack's `ssh` output): a private
// 0700 directory holds each host's key, one known_hosts with every pinned key, and an ssh_config
// with one `Host <name>` per host and StrictHostKeyChecking yes (never off). Commands go to the
// host's shell on stdin, so nothing they carry is in an argv on either side. The directory is
// removed when the runbook exits.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "zx";
import { knownHostsLine, shellQuote, sshConfigText } from "../../scripts/cli/ssh-files.mjs";
import { fail } from "./output.mjs";

export class StackHosts {
    /** `ssh`: the stack's ssh output (name → {host, port, user, privateKey, hostKey}). */
    constructor(ssh) {
        this.connections = ssh;
        this.dir = mkdtempSync(join(tmpdir(), "dynoform-runbook-"));
        process.on("exit", () => rmSync(this.dir, { recursive: true, force: true }));
        const known = [];
        const config = [];
        for (const [name, c] of Object.entries(ssh)) {
            if (!/^[A-Za-z0-9_.-]+$/.test(name)) fail(`the stack's ssh output names a host "${name}" this runbook cannot use: host names are letters, digits, . _ -`);
            const key = join(this.dir, `${name}.key`);
            writeFileSync(key, c.privateKey.endsWith("\n") ? c.privateKey : `${c.privateKey}\n`, { mode: 0o600 });
            known.push(knownHostsLine(c.host, c.port, c.hostKey));
            config.push(sshConfigText({ comment: `${name} (runbook)`, host: c.host, alias: name, port: c.port, user: c.user, identity: key, knownHosts: join(this.dir, "known_hosts") }).replace(`Host ${c.host} ${name}`, `Host ${name}`));
        }
        writeFileSync(join(this.dir, "known_hosts"), known.join(""), { mode: 0o600 });
        this.config = join(this.dir, "ssh_config");
        writeFileSync(this.config, config.join("\n"), { mode: 0o600 });
    }

    get names() {
        return Object.keys(this.connections).sort();
    }

    /** Runs `script` with bash on `host` (as the stack's SSH user, root); never throws: {code, stdout, stderr}. */
    async run(host, script, { timeoutSec = 30 } = {}) {
        if (!this.connections[host]) fail(`${host} is not a host of this stack: its hosts are ${this.names.join(", ")}`);
        const p = await $({ input: script, nothrow: true, quiet: true })`ssh -F ${this.config} -o BatchMode=yes -o ConnectTimeout=10 ${host} -- timeout ${timeoutSec} bash -s`;
        return { code: p.exitCode ?? 255, stdout: p.stdout, stderr: p.stderr };
    }

    /**
     * Streams what `script` writes on `from`'s stdout into `command` on `to` (an archive from one
     * host to another, through this machine: the hosts hold no key to each other). `script` goes on
     * `from`'s stdin as for run(); `command` is the receiving side's own argv, since its stdin
     * carries the data: a fixed text with no secret in it. Never throws: {code, stderr} (code: the
     * first side that failed).
     */
    pipe(from, script, to, command, { timeoutSec = 3600 } = {}) {
        for (const h of [from, to]) if (!this.connections[h]) fail(`${h} is not a host of this stack: its hosts are ${this.names.join(", ")}`);
        const ssh = (host, words) => spawn("ssh", ["-F", this.config, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", host, "--", "timeout", String(timeoutSec), ...words], { stdio: ["pipe", "pipe", "pipe"] });
        const source = ssh(from, ["bash", "-s"]);
        const sink = ssh(to, ["sh", "-c", shellQuote(command)]);
        let stderr = "";
        for (const [name, child] of [[from, source], [to, sink]]) child.stderr.on("data", (d) => (stderr += `${name}: ${d}`));
        // A side that dies early shows in its exit code; the broken pipe it leaves is not another error.
        for (const stream of [source.stdin, sink.stdin]) stream.on("error", () => undefined);
        source.stdout.pipe(sink.stdin);
        source.stdin.end(script);
        sink.stdout.resume();
        const exit = (child) => new Promise((resolve) => child.on("close", (code) => resolve(code ?? 255)));
        return Promise.all([exit(source), exit(sink)]).then(([a, b]) => ({ code: a || b, stderr }));
    }
}
