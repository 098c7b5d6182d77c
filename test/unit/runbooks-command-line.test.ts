// Every runbook's command line, run as an operator would: --help prints its header and usage, a bad
// command line exits 2 with what to pass, before any stack is read.
import { execFile } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");

function runbook(name: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        execFile(process.execPath, [path.join(ROOT, "runbooks", name), ...args], { cwd: ROOT, env: { ...process.env, DYNOFORM_STACK: "no-such-stack" } }, (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
        );
    });
}

test.each(["pg-backup.mjs", "pg-restore.mjs", "control-backup.mjs", "control-restore.mjs", "rotate-secrets.mjs", "replace-host.mjs", "upgrade.mjs"])("%s --help: its header and usage", async (name) => {
    const r = await runbook(name, ["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${name.replace(".mjs", "")} — `));
    expect(r.stdout).toContain(`Usage: node runbooks/${name}`);
});

test.each([
    ["pg-backup.mjs", [], "missing --app"],
    ["pg-restore.mjs", ["-a", "shop", "b001", "--to", "2026-11-30T01:41:12Z"], "either a backup or --to TIME"],
    ["pg-restore.mjs", ["-a", "shop", "--to", "yesterday"], "not a time with its zone"],
    ["control-backup.mjs", ["--keep", "none"], "--keep none is not a number of archives to keep"],
    ["control-restore.mjs", ["latest"], "latest is not a control backup id"],
    ["control-restore.mjs", ["--drill", "--on", "dyno-1"], "it takes no --on"],
    ["rotate-secrets.mjs", [], "missing --what"],
    ["rotate-secrets.mjs", ["--what", "varnish-token"], "rotate one of router-token, agent-token, log-token, ssh-key"],
    ["rotate-secrets.mjs", ["--what", "app-db"], "pass -a APP"],
    ["replace-host.mjs", [], "missing argument"],
    ["upgrade.mjs", ["--reboot"], "unknown flag --reboot"],
])("%s %j: exit 2, %s", async (name, args, message) => {
    const r = await runbook(name as string, args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
});
