// The stack's hosts over OpenSSH with their pinned host keys (the stack's `ssh` output): a private
// 0700 directory holds each host's key, one known_hosts with every pinned key, and an ssh_config
// with one `Host <name>` per host and StrictHostKeyChecking yes (never off). Commands go to the
// host's shell on stdin, so nothing they carry is in an argv on either side. The directory is
// removed when the runbook exits.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "zx";
import { knownHostsLine, sshConfigText } from "../../scripts/cli/ssh-files.mjs";
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
}
