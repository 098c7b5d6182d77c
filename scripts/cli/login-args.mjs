// What `dynoform login` is asked to log in to: [git@]HOST[:PORT] and/or --outputs FILE (the JSON
// of `pulumi stack output --json`, of which only the control output is read), --host-key to pin
// the host key, -i/--identity for the user's private key.
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { fail } from "./cli-error.mjs";
import { parsePublicKey } from "./host-key.mjs";

export const LOGIN_USAGE = 'dynoform login [git@]HOST[:PORT] [--host-key "ssh-ed25519 AAAA..."] [--outputs FILE] [-i KEYFILE]';

/** user@host:port, user@[v6]:port, host — user and port undefined unless given. */
export function parseAddress(text) {
    const s = text.replace(/^ssh:\/\//, "").replace(/\/$/, "");
    const m = /^(?:([a-z_][a-z0-9_.-]*)@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d+))?$/.exec(s);
    if (/\.git$/.test(s) || !m) fail(`"${text}" is not a control host address: ${LOGIN_USAGE}, e.g. dynoform login git@203.0.113.10 (the stack's control output: host and port)`);
    const host = m[2].replace(/^\[(.*)\]$/, "$1");
    const port = m[3] === undefined ? undefined : Number(m[3]);
    if (port !== undefined && !(port >= 1 && port <= 65535)) fail(`port ${m[3]} of "${text}" is not a TCP port (1-65535)`);
    return { user: m[1], host, port };
}

/** The control output of a `pulumi stack output --json` file: { host, port, user, hostKey }. */
export function readOutputsFile(file) {
    const how = "make it on the stack owner's checkout with: pulumi stack output --json > FILE (no --show-secrets needed)";
    if (!existsSync(file)) fail(`--outputs ${file}: no such file: ${how}`);
    let outputs;
    try {
        outputs = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
        return fail(`--outputs ${file} is not JSON (${err.message}): ${how}`);
    }
    const c = outputs?.control;
    if (!c || typeof c !== "object") fail(`--outputs ${file} has no control output: ${how}, from a stack brought up by this version of dynoform`);
    const hostKey = parsePublicKey(c.hostKey ?? "");
    if (typeof c.host !== "string" || !Number.isInteger(c.port) || !hostKey) fail(`--outputs ${file}: its control output is not {host, port, user, hostKey}: ${how}`);
    return { host: c.host, port: c.port, user: c.user ?? "git", hostKey };
}

function readIdentity(file) {
    const path = resolve(file);
    if (!existsSync(path)) fail(`-i ${file}: no such file: name your SSH private key, e.g. -i ~/.ssh/id_ed25519`);
    if (path.endsWith(".pub") && existsSync(path.slice(0, -4))) fail(`-i ${file} is a public key: -i takes the private key, ${path.slice(0, -4)}`);
    if (!statSync(path).isFile()) fail(`-i ${file} is not a file: name your SSH private key, e.g. -i ~/.ssh/id_ed25519`);
    return path;
}

/** { host, port, user, hostKey?, identity? } from login's arguments. */
export function parseLoginArgs(argv) {
    let parsed;
    try {
        parsed = parseArgs({
            args: argv,
            allowPositionals: true,
            options: { "host-key": { type: "string" }, outputs: { type: "string" }, identity: { type: "string", short: "i" } },
        });
    } catch (err) {
        return fail(`${err.message.split(". ")[0]}: ${LOGIN_USAGE}`);
    }
    const { values, positionals } = parsed;
    if (positionals.length > 1) fail(`login takes one control host, got ${positionals.join(" ")}: ${LOGIN_USAGE}`);
    if (positionals.length === 0 && !values.outputs) fail(`Missing the control host: ${LOGIN_USAGE}`);
    const fromFile = values.outputs ? readOutputsFile(values.outputs) : undefined;
    const address = positionals[0] ? parseAddress(positionals[0]) : undefined;
    let hostKey = fromFile?.hostKey;
    if (values["host-key"] !== undefined) {
        hostKey = parsePublicKey(values["host-key"]);
        if (!hostKey) fail(`--host-key "${values["host-key"].slice(0, 40)}" is not an OpenSSH public key: give the line "ssh-ed25519 AAAA..." (the stack's control output: hostKey)`);
    }
    return {
        // An address given overrides the file's (the same host seen from another network).
        host: address?.host ?? fromFile.host,
        port: address?.port ?? fromFile?.port ?? 22,
        user: address?.user ?? fromFile?.user ?? "git",
        ...(hostKey ? { hostKey } : {}),
        ...(values.identity ? { identity: readIdentity(values.identity) } : {}),
    };
}
