#!/usr/bin/env node
// dynoform — the platform's CLI for users (Heroku's verbs). It runs every verb over SSH as
// `git@<control>` (the forced command there runs `dynoform-control`):
//
//   dynoform login git@203.0.113.10 --host-key "ssh-ed25519 AAAA..." -i ~/.ssh/id_ed25519
//   dynoform apps:create myapp
//   dynoform git:remote -a myapp          # adds the `dynoform` remote (and the ssh command it needs)
//   git push dynoform main
//   dynoform config:set GREETING=hi -a myapp
//   dynoform ps:scale web=3 -a myapp
//   dynoform run -a myapp -- node -e 'console.log(1)'
//
// Which control host: the login (`dynoform login`, kept in ${XDG_CONFIG_HOME:-~/.config}/dynoform/login/)
// when there is one and $DYNOFORM_STACK is not set; otherwise the Pulumi stack outputs of this
// checkout ($DYNOFORM_STACK, default local; cached in .tools/dynoform/<stack>/) with the stack's own
// CLI key. With a login nothing here runs pulumi, so the CLI works without the stack's state.
// -a/--app defaults to the app of the `dynoform` git remote of the current directory.
import { execFileSync, spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, fail, printError } from "./cli/cli-error.mjs";
import { LOGIN_HELP, login, logout } from "./cli/login.mjs";
import { readLogin } from "./cli/login-store.mjs";
import { colorizer, wantsColor } from "./cli/log-colors.mjs";
import { shellQuote } from "./cli/ssh-files.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const stack = process.env.DYNOFORM_STACK || "local";

/** The login unless $DYNOFORM_STACK names a stack; else the stack's outputs (pulumi loaded only then). */
async function target() {
    const loggedIn = process.env.DYNOFORM_STACK ? undefined : readLogin();
    if (loggedIn) return loggedIn;
    const { stackTarget } = await import("./cli/stack-target.mjs");
    return stackTarget(root, stack);
}

const LOCAL_HELP = [
    "Usage: dynoform VERB [ARGS] [-a APP]",
    ...LOGIN_HELP,
    "dynoform git:remote -a APP [-r REMOTE]   adds the git remote git@<control>:APP.git (and the repo's core.sshCommand)",
    "dynoform --stack-info                     which control host the verbs go to, and how",
    "Control host: the login when there is one and DYNOFORM_STACK is not set; otherwise the outputs of",
    "this checkout's Pulumi stack (DYNOFORM_STACK, default local).",
    "",
];

function appFromRemote(remote = "dynoform") {
    try {
        const url = execFileSync("git", ["remote", "get-url", remote], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
        const m = /[:/]([a-z][a-z0-9-]*[a-z0-9])\.git$/.exec(url);
        return m?.[1];
    } catch {
        return undefined;
    }
}

function ssh(t, words, stdio = "inherit") {
    return new Promise((resolvePromise) => {
        const child = spawn("ssh", ["-F", t.sshConfig, "-T", `${t.user}@${t.host}`, "--", "dynoform", ...words.map(shellQuote)], { stdio });
        child.on("error", (e) => resolvePromise(printError(`ssh: ${e.message}`) ?? 255));
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

function hasRemote(remote) {
    try {
        execFileSync("git", ["remote", "get-url", remote], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}

async function gitRemote(argv) {
    const app = flagValue(argv, ["-a", "--app"]) ?? process.env.DYNOFORM_APP;
    if (!app) fail("Missing required flag -a APP: e.g. dynoform git:remote -a myapp");
    const remote = flagValue(argv, ["-r", "--remote"]) ?? "dynoform";
    const t = await target();
    const check = await ssh(t, ["apps:info", "-a", app], ["ignore", "ignore", "inherit"]);
    if (check !== 0) return check;
    // The remote names the host only; port, user key and pinned host key come from the ssh_config.
    const url = `${t.user}@${t.host.includes(":") ? `[${t.host}]` : t.host}:${app}.git`; // git's scp syntax brackets IPv6
    try {
        execFileSync("git", ["remote", hasRemote(remote) ? "set-url" : "add", remote, url], { stdio: "inherit" });
        execFileSync("git", ["config", "core.sshCommand", `ssh -F ${shellQuote(t.sshConfig)}`], { stdio: "inherit" });
    } catch {
        fail("git:remote must run inside a git repository: cd into your app (git init) and try again");
    }
    process.stdout.write(`set git remote ${remote} to ${url}\n`);
    return 0;
}

/** `logs` at a terminal: the stream line by line through Heroku's colouring (log-colors.mjs). */
function coloredLogs(t, words) {
    return new Promise((resolvePromise) => {
        const child = spawn("ssh", ["-F", t.sshConfig, "-T", `${t.user}@${t.host}`, "--", "dynoform", ...words.map(shellQuote)], { stdio: ["inherit", "pipe", "inherit"] });
        const color = colorizer();
        let rest = "";
        child.stdout.setEncoding("utf8");
        child.stdout.on("data", (chunk) => {
            const lines = (rest + chunk).split("\n");
            rest = lines.pop() ?? "";
            // A slow terminal holds the stream back instead of this process's memory.
            if (!process.stdout.write(lines.map((l) => color(l) + "\n").join(""))) {
                child.stdout.pause();
                process.stdout.once("drain", () => child.stdout.resume());
            }
        });
        child.on("error", (e) => resolvePromise(printError(`ssh: ${e.message}`) ?? 255));
        child.on("close", (code, signal) => {
            if (rest) process.stdout.write(color(rest) + "\n");
            resolvePromise(code ?? (signal ? 128 : 1));
        });
    });
}

/** Local help, then the control host's list of verbs when one is reachable. */
async function help() {
    process.stdout.write(LOCAL_HELP.join("\n") + "\n");
    let t;
    try {
        t = await target();
    } catch (err) {
        if (!(err instanceof CliError)) throw err;
        process.stdout.write("No control host yet (dynoform login, or a stack brought up here): its verbs are listed once there is one.\n");
        return 0;
    }
    return ssh(t, ["help"]);
}

/** Verbs of no app: the current directory's remote never gives them -a (which they would refuse). */
const APP_LESS_VERBS = [
    "apps", "apps:create", "create", "help", "version", "--version", "hosts", "hosts:drain", "hosts:undrain",
    "keys", "keys:add", "keys:remove", "users", "users:add", "users:remove",
    "authorizations", "authorizations:list", "authorizations:create", "authorizations:revoke", "authorizations:destroy",
];

async function main() {
    const argv = process.argv.slice(2);
    const verb = argv[0];
    if (verb === "login") return login(argv.slice(1));
    if (verb === "logout") return logout();
    if (["help", "--help", "-h"].includes(verb ?? "help") && argv.length <= 1) return help();
    if (verb === "--stack-info") {
        process.stdout.write(JSON.stringify(await target(), null, 2) + "\n");
        return 0;
    }
    if (verb === "git:remote") return gitRemote(argv);
    const t = await target();
    let words = argv;
    const app = flagValue(argv, ["-a", "--app"]);
    if (!app && !APP_LESS_VERBS.includes(verb)) {
        const implied = process.env.DYNOFORM_APP ?? appFromRemote();
        if (implied) words = [...argv, "-a", implied];
    }
    if (verb === "logs" && wantsColor()) return coloredLogs(t, words);
    return ssh(t, words);
}

main().then(
    (code) => process.exit(code),
    (err) => {
        printError(err instanceof CliError ? err.message : err.stack || String(err));
        process.exit(err instanceof CliError ? 1 : 2);
    },
);
