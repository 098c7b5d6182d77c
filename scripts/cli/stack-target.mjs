// The target of a checkout with the stack's Pulumi state: the control host, its host key and the
// stack's own CLI key from `pulumi stack output` ($DYNOFORM_STACK, default local), cached in
// .tools/dynoform/<stack>/ until the stack's state changes. Only this module runs pulumi: a machine
// that has logged in (cli/login.mjs) never loads it.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { projectEnv } from "../project-env.mjs";
import { fail } from "./cli-error.mjs";
import { knownHostsLine, sshConfigText, writeAtomic } from "./ssh-files.mjs";

function stateFileMtime(root, stack) {
    const f = join(root, ".pulumi-state", ".pulumi", "stacks", "dynoform", `${stack}.json`);
    return existsSync(f) ? statSync(f).mtimeMs : Date.now();
}

function readOutputs(root, stack) {
    try {
        return JSON.parse(execFileSync("pulumi", ["stack", "output", "--json", "--show-secrets", "--stack", stack], { env: projectEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], cwd: root }));
    } catch (err) {
        const why = err.code === "ENOENT" ? "pulumi is not installed here (npm run setup puts it in .tools/)" : String(err.stderr || err.message).trim().split("\n").pop();
        return fail(
            `cannot read the outputs of stack ${stack}: ${why}`,
            `bring it up with npm start (or set DYNOFORM_STACK), or log in to a control host: dynoform login git@HOST --outputs FILE`,
        );
    }
}

/** { target: "stack", stack, host, port, user, hostKey, sshConfig } — refreshed when the stack's state changed. */
export function stackTarget(root, stack) {
    const cacheDir = join(root, ".tools", "dynoform", stack);
    const meta = join(cacheDir, "target.json");
    if (existsSync(meta) && statSync(meta).mtimeMs > stateFileMtime(root, stack) && !process.env.DYNOFORM_REFRESH) {
        return { target: "stack", stack, ...JSON.parse(readFileSync(meta, "utf8")) };
    }
    const outputs = readOutputs(root, stack);
    if (!outputs.control || !outputs.controlSshKey) fail(`stack ${stack} has no control role outputs: run npm start (pulumi up) with this version of dynoform`);
    const { host, port, user, hostKey } = outputs.control;
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const key = join(cacheDir, "key");
    writeAtomic(key, outputs.controlSshKey.endsWith("\n") ? outputs.controlSshKey : outputs.controlSshKey + "\n");
    const knownHosts = join(cacheDir, "known_hosts");
    writeAtomic(knownHosts, knownHostsLine(host, port, hostKey));
    const sshConfig = join(cacheDir, "ssh_config");
    const comment = `dynoform stack ${stack}: made by scripts/dynoform.mjs from the stack outputs`;
    writeAtomic(sshConfig, sshConfigText({ comment, host, alias: `dynoform-${stack}`, port, user, identity: key, knownHosts }));
    const t = { host, port, user, hostKey, sshConfig };
    writeAtomic(meta, JSON.stringify(t));
    return { target: "stack", stack, ...t };
}
