// dynoform-control entry point (bundled into the SEA binary). The logic lives in control_main.ts.
//
// The SSH forced command runs as the unprivileged `git` user; the state, the config (secrets) and
// builds as the build user need root, so `ssh` mode re-executes itself through `sudo -n` (a
// sudoers rule allows exactly this binary and keeps SSH_ORIGINAL_COMMAND; see components/control).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as tls from "node:tls";
import { main } from "./control_main";

// Trust the host's CA store as well as Node's bundled one (registry mirrors/proxies with their own
// CA, as in the lab); children (npm during builds) get it through NODE_EXTRA_CA_CERTS.
const SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt";
if (fs.existsSync(SYSTEM_CA_FILE)) {
    process.env.NODE_EXTRA_CA_CERTS ??= SYSTEM_CA_FILE;
    const t = tls as unknown as { setDefaultCACertificates?: (c: string[]) => void; getCACertificates?: (k: string) => string[] };
    try {
        t.setDefaultCACertificates?.([...(t.getCACertificates?.("bundled") ?? []), ...(t.getCACertificates?.("system") ?? [])]);
    } catch {
        /* older Node: NODE_EXTRA_CA_CERTS only */
    }
}

/** Resolves when stdout's buffer is below its high-water mark again (or stdout is gone). */
function stdoutDrained(): Promise<void> {
    if (!process.stdout.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
        const done = () => {
            process.stdout.off("drain", done).off("close", done).off("error", done);
            resolve();
        };
        process.stdout.on("drain", done).on("close", done).on("error", done);
    });
}

function reexecWithSudo(): boolean {
    return process.argv[2] === "ssh" && typeof process.getuid === "function" && process.getuid() !== 0 && process.env.DYNOFORM_NO_SUDO !== "1";
}

if (reexecWithSudo()) {
    const child = spawn("sudo", ["-n", process.execPath, ...process.argv.slice(2)], { stdio: "inherit" });
    child.on("error", (e) => {
        process.stderr.write(`dynoform-control: sudo: ${e.message}\n`);
        process.exitCode = 2;
    });
    child.on("close", (code, signal) => {
        process.exitCode = code ?? (signal ? 128 : 2);
    });
} else {
    main(process.argv.slice(2), process.env, {
        stdout: (s) => process.stdout.write(s),
        stderr: (s) => process.stderr.write(s),
        stdin: process.stdin,
        drained: () => stdoutDrained(),
    }).then(
        (code) => {
            process.exitCode = code;
        },
        (err) => {
            process.stderr.write(`${err}\n`);
            process.exitCode = 2;
        },
    );
}
