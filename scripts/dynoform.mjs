#!/usr/bin/env node
// dynoform — the platform's CLI for users (Heroku's verbs). It finds the control host and the
// stack's CLI key in the Pulumi stack outputs ($DYNOFORM_STACK, default local) and runs every verb
// over SSH as `git@<control>` (the forced command there runs `dynoform-control`):
//
//   dynoform apps:create myapp
//   dynoform git:remote -a myapp          # adds the `dynoform` remote (and the ssh command it needs)
//   git push dynoform main
//   dynoform config:set GREETING=hi -a myapp
//   dynoform ps:scale web=3 -a myapp
//   dynoform run -a myapp -- node -e 'console.log(1)'
//
// -a/--app defaults to the app of the `dynoform` git remote of the current directory.
// Files: .tools/dynoform/<stack>/{key,known_hosts,ssh_config} (made from the stack outputs).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { projectEnv } from "./project-env.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const stack = process.env.DYNOFORM_STACK || "local";
const cacheDir = join(root, ".tools", "dynoform", stack);

function die(msg, code = 1) {
    process.stderr.write(` ▸    ${msg}\n`);
    process.exit(code);
}

function stateFileMtime() {
    const f = join(root, ".pulumi-state", ".pulumi", "stacks", "dynoform", `${stack}.json`);
    return existsSync(f) ? statSync(f).mtimeMs : Date.now();
}

/** { host, port, user, hostKey, sshConfig } — refreshed when the stack's state changed. */
function target() {
    const meta = join(cacheDir, "target.json");
    if (existsSync(meta) && statSync(meta).mtimeMs > stateFileMtime() && !process.env.DYNOFORM_REFRESH) {
        return JSON.parse(readFileSync(meta, "utf8"));
    }
    let outputs;
    try {
        outputs = JSON.parse(execFileSync("pulumi", ["stack", "output", "--json", "--show-secrets", "--stack", stack], { env: projectEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], cwd: root }));
    } catch (err) {
        die(`cannot read the outputs of stack ${stack}: ${String(err.stderr || err.message).trim().split("\n").pop()}: bring it up with npm start (or set DYNOFORM_STACK)`);
    }
    if (!outputs.control || !outputs.controlSshKey) die(`stack ${stack} has no control role outputs: run npm start (pulumi up) with this version of dynoform`);
    const { host, port, user, hostKey } = outputs.control;
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const key = join(cacheDir, "key");
    writeAtomic(key, outputs.controlSshKey.endsWith("\n") ? outputs.controlSshKey : outputs.controlSshKey + "\n");
    const knownHosts = join(cacheDir, "known_hosts");
    writeAtomic(knownHosts, `${port === 22 ? host : `[${host}]:${port}`} ${hostKey}\n`);
    const sshConfig = join(cacheDir, "ssh_config");
    writeAtomic(
        sshConfig,
        [
            `# dynoform stack ${stack}: made by scripts/dynoform.mjs from the stack outputs`,
            `Host ${host} dynoform-${stack}`,
            `  HostName ${host}`,
            `  Port ${port}`,
            `  User ${user}`,
            `  IdentityFile ${key}`,
            `  IdentitiesOnly yes`,
            `  UserKnownHostsFile ${knownHosts}`,
            `  StrictHostKeyChecking yes`,
            `  LogLevel ERROR`,
            `  ServerAliveInterval 15`,
            "",
        ].join("\n"),
    );
    const t = { host, port, user, hostKey, sshConfig };
    writeAtomic(meta, JSON.stringify(t));
    return t;
}

/** Replace a file whole (temp + rename): a concurrent dynoform reading it never sees it half-written. */
function writeAtomic(file, content) {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, content, { mode: 0o600 });
    renameSync(tmp, file);
}

const shellQuote = (s) => (/^[A-Za-z0-9_\-.,:=/@+%]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function appFromRemote(remote = "dynoform") {
    try {
        const url = execFileSync("git", ["remote", "get-url", remote], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
        const m = /[:/]([a-z][a-z0-9-]*[a-z0-9])\.git$/.exec(url);
        return m?.[1];
    } catch {
        return undefined;
    }
}

function ssh(t, words, opts = {}) {
    return new Promise((resolvePromise) => {
        const child = spawn("ssh", ["-F", t.sshConfig, ...(opts.tty ? ["-t"] : ["-T"]), `${t.user}@${t.host}`, "--", "dynoform", ...words.map(shellQuote)], { stdio: "inherit" });
        child.on("error", (e) => die(`ssh: ${e.message}`));
        child.on("close", (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)));
    });
}

function flagValue(argv, names) {
    for (let i = 0; i < argv.length; i++) {
        for (const n of names) {
            if (argv[i] === n) return argv[i + 1];
            if (argv[i].startsWith(`${n}=`)) return argv[i].slice(n.length + 1);
        }
    }
    return undefined;
}

async function main() {
    const argv = process.argv.slice(2);
    const verb = argv[0];
    if (verb === "--stack-info") {
        const t = target();
        process.stdout.write(JSON.stringify({ stack, ...t }, null, 2) + "\n");
        return 0;
    }
    const t = target();
    if (verb === "git:remote") {
        const app = flagValue(argv, ["-a", "--app"]) ?? process.env.DYNOFORM_APP;
        if (!app) die("Missing required flag -a APP: e.g. dynoform git:remote -a myapp");
        const remote = flagValue(argv, ["-r", "--remote"]) ?? "dynoform";
        const check = await new Promise((r) => {
            const c = spawn("ssh", ["-F", t.sshConfig, "-T", `${t.user}@${t.host}`, "--", "dynoform", "apps:info", "-a", shellQuote(app)], { stdio: ["ignore", "ignore", "inherit"] });
            c.on("close", (code) => r(code));
        });
        if (check !== 0) return check;
        const url = `${t.user}@${t.host}:${app}.git`;
        const has = (() => {
            try {
                execFileSync("git", ["remote", "get-url", remote], { stdio: "ignore" });
                return true;
            } catch {
                return false;
            }
        })();
        try {
            execFileSync("git", ["remote", has ? "set-url" : "add", remote, url], { stdio: "inherit" });
            execFileSync("git", ["config", "core.sshCommand", `ssh -F ${t.sshConfig}`], { stdio: "inherit" });
        } catch {
            die("git:remote must run inside a git repository: cd into your app (git init) and try again");
        }
        process.stdout.write(`set git remote ${remote} to ${url}\n`);
        return 0;
    }
    let words = argv;
    if (verb && !["apps", "apps:create", "create", "help", "--help", "-h", "version", "--version"].includes(verb) && !flagValue(argv, ["-a", "--app"]) && !process.env.DYNOFORM_APP) {
        const app = appFromRemote();
        if (app) words = [...argv, "-a", app];
    } else if (process.env.DYNOFORM_APP && !flagValue(argv, ["-a", "--app"]) && verb && !["apps", "apps:create", "create", "help"].includes(verb)) {
        words = [...argv, "-a", process.env.DYNOFORM_APP];
    }
    return ssh(t, words.length ? words : ["help"]);
}

main().then((code) => process.exit(code), (err) => die(err.stack || String(err), 2));
