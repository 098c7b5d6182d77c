// dynoform-control: the control role's binary (entry: main.ts).
//
//   dynoform-control <verb> [args]        a CLI verb against the local state (apps, config:set, ...)
//   dynoform-control ssh [KEYNAME]        SSH forced command: runs $SSH_ORIGINAL_COMMAND as a verb
//   dynoform-control deploy -a APP --dir DIR --commit SHA
//                                         build DIR and release it (what the receive hook runs)
//
// Environment: DYNOFORM_STATE_DIR (default /var/lib/dynoform), DYNOFORM_DOMAIN (apps' default
// domain), DYNOFORM_GIT_HOST (host in git URLs), DYNOFORM_BUILD_USER_PREFIX (per-app build users
// `<prefix><app>`, made on the first push; required as root), DYNOFORM_BUILD_TIMEOUT_S. Where agents
// fetch slugs and the slug-signing key come from the config file only (slugBaseUrl, slugSigningKey):
// the key is a secret, and never an environment variable.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { AppStore, appNameProblem } from "./app_store";
import { BuildLog } from "./build_log";
import { defaultBuildpacks } from "./builder";
import { BuildSource } from "./build_sandbox";
import { BuildUsers } from "./build_users";
import { runCli, ERROR_PREFIX } from "./cli";
import { generateName } from "./cli/apps";
import { CliContext, CliSettings } from "./cli/context";
import { parseArgs } from "./cli/args";
import { splitWords } from "./cli/words";
import { defaultCacheDir, deploy, DeployRejectedError } from "./deploy";
import { isUserError, UserError } from "./errors";
import { Platform, unwiredPlatform } from "./platform";
import { HttpPlatform, HttpPlatformConfig } from "./http_platform";
import { createSlugServer } from "./slug_server";

type Env = Record<string, string | undefined>;

export const VERSION = "0.1.0";

const USAGE = `usage: dynoform-control <verb> [args]      run a dynoform CLI verb (dynoform-control help lists them)
       dynoform-control ssh [KEYNAME]      SSH forced command: runs $SSH_ORIGINAL_COMMAND as a verb (or git push)
       dynoform-control deploy -a APP --dir DIR --commit SHA
       dynoform-control serve              slug HTTP server + placement loop (systemd unit)
       dynoform-control git-hook pre-receive   (the bare repos' hook)
Config: $DYNOFORM_CONTROL_CONFIG (default /etc/dynoform/control.json) when present.
State: $DYNOFORM_STATE_DIR (default /var/lib/dynoform). See packages/control/README.md.
`;

export interface MainIo {
    stdout: (s: string) => void;
    stderr: (s: string) => void;
    stdin?: NodeJS.ReadableStream;
    /** Settles once stdout has taken what was written. */
    drained?: () => Promise<void>;
}

/** /etc/dynoform/control.json, written by the Pulumi component (components/control). */
export interface ControlConfigFile extends Partial<HttpPlatformConfig> {
    stateDir?: string;
    domain?: string;
    gitHost?: string;
    /** host:port of the slug HTTP server (serve). */
    slugListen?: string;
    /** Builds of app X run as the system user `<buildUserPrefix>X` (build_users.ts), made on its first push. */
    buildUserPrefix?: string;
    buildTimeoutS?: number;
    reconcileIntervalMs?: number;
}

export function loadControlConfig(env: Env): ControlConfigFile | undefined {
    const file = env.DYNOFORM_CONTROL_CONFIG ?? "/etc/dynoform/control.json";
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        return undefined;
    }
    return JSON.parse(text) as ControlConfigFile;
}

/** Config file values become the defaults of the DYNOFORM_* variables. */
function envWithConfig(env: Env, cfg: ControlConfigFile | undefined): Env {
    if (!cfg) return env;
    const out: Env = { ...env };
    const set = (k: string, v: string | number | undefined) => {
        if (v !== undefined && (out[k] === undefined || out[k] === "")) out[k] = String(v);
    };
    set("DYNOFORM_STATE_DIR", cfg.stateDir);
    set("DYNOFORM_DOMAIN", cfg.domain);
    set("DYNOFORM_GIT_HOST", cfg.gitHost);
    set("DYNOFORM_BUILD_TIMEOUT_S", cfg.buildTimeoutS);
    set("DYNOFORM_BUILD_USER_PREFIX", cfg.buildUserPrefix);
    return out;
}

const DEFAULT_SLUG_LISTEN = "127.0.0.1:5080";

export function platformFrom(store: AppStore, cfg: ControlConfigFile | undefined): Platform | undefined {
    if (!cfg?.agents?.length || !(cfg.agentTokens || cfg.agentToken) || !cfg.routerToken) return undefined;
    return new HttpPlatform(store, {
        agents: cfg.agents,
        ...(cfg.agentTokens ? { agentTokens: cfg.agentTokens } : {}),
        ...(cfg.agentToken ? { agentToken: cfg.agentToken } : {}),
        routers: cfg.routers ?? [],
        routerToken: cfg.routerToken,
        ...(cfg.addons ? { addons: cfg.addons } : {}),
        ...(cfg.bootTimeoutMs ? { bootTimeoutMs: cfg.bootTimeoutMs } : {}),
        reposDir: path.join(store.root, "repos"),
        slugBaseUrl: cfg.slugBaseUrl ?? `http://${cfg.slugListen ?? DEFAULT_SLUG_LISTEN}/slugs`,
        ...(cfg.slugSigningKey ? { slugSigningKey: cfg.slugSigningKey } : {}),
    });
}

const ZERO_SHA = /^0{40}$/;

function hookScript(binary: string): string {
    return `#!/bin/sh\n# Managed by dynoform: build + release + rollout of pushes to main/master.\nexec ${binary} git-hook pre-receive\n`;
}

/** The app's bare repo (made on first use), with the pre-receive hook pointing at this binary. */
async function ensureRepo(store: AppStore, app: string, binary: string): Promise<string> {
    const repo = path.join(store.root, "repos", `${app}.git`);
    if (!fs.existsSync(path.join(repo, "HEAD"))) {
        await fs.promises.mkdir(path.dirname(repo), { recursive: true, mode: 0o700 });
        execFileSync("git", ["init", "--bare", "-q", "--initial-branch=main", repo]);
    }
    const hook = path.join(repo, "hooks", "pre-receive");
    const want = hookScript(binary);
    if (!fs.existsSync(hook) || fs.readFileSync(hook, "utf8") !== want) fs.writeFileSync(hook, want, { mode: 0o755 });
    return repo;
}

function runInherit(file: string, args: string[], env: Env): Promise<number> {
    return new Promise((resolve) => {
        const child = spawn(file, args, { stdio: "inherit", env: env as NodeJS.ProcessEnv });
        child.on("error", (e) => {
            process.stderr.write(`${file}: ${e.message}\n`);
            resolve(1);
        });
        child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
}

async function gitReceive(words: string[], store: AppStore, env: Env, user: string | undefined, binary: string): Promise<number> {
    const [verb, target] = words;
    const app = (target ?? "").replace(/^\/+/, "").replace(/\.git\/?$/, "");
    if (!target || appNameProblem(app)) throw new UserError(`${verb}: expected a repository like git@host:myapp.git, got "${target ?? ""}"`);
    await store.requireApp(app);
    const repo = await ensureRepo(store, app, binary);
    return runInherit(verb, [repo], { ...env, DYNOFORM_APP: app, ...(user ? { DYNOFORM_USER: user } : {}) });
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
    return new Promise((resolve, reject) => {
        let s = "";
        stream.on("data", (d) => (s += d.toString()));
        stream.on("end", () => resolve(s));
        stream.on("error", reject);
    });
}

async function preReceive(store: AppStore, platform: Platform, env: Env, io: MainIo, user: string | undefined): Promise<number> {
    const gitDir = path.resolve(env.GIT_DIR ?? ".");
    const app = env.DYNOFORM_APP ?? path.basename(gitDir).replace(/\.git$/, "");
    const input = io.stdin ? await readAll(io.stdin) : "";
    const updates = input.split("\n").map((l) => l.trim().split(/\s+/)).filter((p) => p.length === 3);
    let code = 0;
    for (const [, sha, ref] of updates) {
        if (ZERO_SHA.test(sha)) continue;
        if (ref !== "refs/heads/main" && ref !== "refs/heads/master") {
            io.stdout(`-----> ${ref} stored; only main (or master) is deployed\n`);
            continue;
        }
        // Builds must not see the push's git environment (npm runs git for git dependencies); only
        // git archive gets it (the pushed objects are quarantined until the hook accepts them).
        const gitEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith("GIT_") && e[1] !== undefined));
        const clean: Env = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("GIT_")));
        for (const k of Object.keys(process.env)) if (k.startsWith("GIT_")) delete process.env[k];
        // The commit is unpacked by the app's build user (git archive as root | tar -x as the build user).
        code = await deployPushed(app, { gitDir, commit: sha, gitEnv }, sha, store, platform, clean, io, user);
        if (code !== 0) return code;
    }
    return code;
}

/** `serve`: the slug HTTP server agents fetch from (slug_server.ts), and the placement loop. Runs until killed. */
async function serve(store: AppStore, platform: Platform, cfg: ControlConfigFile | undefined, io: MainIo): Promise<number> {
    const listen = cfg?.slugListen ?? DEFAULT_SLUG_LISTEN;
    const i = listen.lastIndexOf(":");
    const host = listen.slice(0, i);
    const port = Number(listen.slice(i + 1));
    const server = createSlugServer({ slugsDir: path.join(store.root, "slugs"), signingKey: cfg?.slugSigningKey });
    if (!cfg?.slugSigningKey) io.stderr(`dynoform-control serve: no slugSigningKey in the control config: every slug download is refused (403); run pulumi up to write one\n`);
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
    });
    io.stderr(`dynoform-control serve: slugs on http://${listen}/slugs/\n`);
    const interval = cfg?.reconcileIntervalMs ?? 3000;
    const log = (l: string) => io.stderr(`reconcile: ${l}\n`);
    let stopping = false;
    const stop = () => {
        stopping = true;
        server.close();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    while (!stopping) {
        if (platform instanceof HttpPlatform) await platform.reconcile(log).catch((e) => log(`failed: ${(e as Error).message}`));
        await new Promise((r) => setTimeout(r, interval));
    }
    return 0;
}

export function settingsFrom(env: Env, user?: string): CliSettings {
    const domain = env.DYNOFORM_DOMAIN || "dynoform.test";
    const gitHost = env.DYNOFORM_GIT_HOST || "localhost";
    return {
        domain,
        gitUrl: (app) => `git@${gitHost}:${app}.git`,
        webUrl: (app) => `http://${app}.${domain}/`,
        ...(user ? { user } : {}),
    };
}

function intEnv(env: Env, name: string): number | undefined {
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    if (!/^\d+$/.test(v)) throw new UserError(`${name}=${v} is not a number: set it to a numeric id`);
    return Number(v);
}

async function runDeploy(args: string[], store: AppStore, platform: Platform, env: Env, io: MainIo, user?: string): Promise<number> {
    const spec = [
        { name: "app", short: "a", value: true, description: "" },
        { name: "dir", value: true, description: "" },
        { name: "commit", value: true, description: "" },
    ];
    const { flags } = parseArgs("deploy", args, spec);
    const app = flags.app as string | undefined;
    const dir = flags.dir as string | undefined;
    const commit = flags.commit as string | undefined;
    if (!app || !dir || !commit) throw new UserError("Usage: dynoform-control deploy -a APP --dir DIR --commit SHA");
    return deployPushed(app, { dir: path.resolve(dir) }, commit, store, platform, env, io, user);
}

async function deployPushed(app: string, source: BuildSource, commit: string, store: AppStore, platform: Platform, env: Env, io: MainIo, user?: string): Promise<number> {
    const log = new BuildLog((l) => io.stdout(l + "\n"));
    const timeoutS = intEnv(env, "DYNOFORM_BUILD_TIMEOUT_S");
    const prefix = env.DYNOFORM_BUILD_USER_PREFIX;
    try {
        await deploy({
            store,
            platform,
            app,
            source,
            commit,
            log,
            buildpacks: defaultBuildpacks({ runtimeCacheDir: path.join(store.root, "runtimes") }),
            cacheDir: defaultCacheDir(store.root, app),
            webUrl: settingsFrom(env).webUrl(app),
            ...(user ? { user } : {}),
            ...(prefix ? { buildUsers: new BuildUsers(prefix) } : {}),
            build: { ...(timeoutS ? { timeoutMs: timeoutS * 1000 } : {}) },
        });
        return 0;
    } catch (err) {
        if (err instanceof DeployRejectedError) return 1;
        throw err;
    }
}

export async function main(argv: string[], env: Env, io: MainIo, platform?: Platform): Promise<number> {
    if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") {
        io.stdout(USAGE);
        return 0;
    }
    if (argv[0] === "--version") {
        io.stdout(`dynoform-control ${VERSION}\n`);
        return 0;
    }
    let cfg: ControlConfigFile | undefined;
    try {
        cfg = loadControlConfig(env);
    } catch (err) {
        io.stderr(`${ERROR_PREFIX}control config is not valid JSON: ${(err as Error).message}\n`);
        return 2;
    }
    env = envWithConfig(env, cfg);
    const store = new AppStore(env.DYNOFORM_STATE_DIR || "/var/lib/dynoform");
    if (platform === undefined) platform = platformFrom(store, cfg) ?? unwiredPlatform();
    try {
        await store.init();
        let words = argv;
        let user: string | undefined = env.DYNOFORM_USER;
        if (argv[0] === "ssh") {
            user = argv[1] ?? user;
            words = splitWords(env.SSH_ORIGINAL_COMMAND ?? "");
            if (words[0] === "dynoform") words = words.slice(1); // `ssh git@host dynoform ps -a x`
            if (words[0] === "git-receive-pack" || words[0] === "git-upload-pack") {
                return await gitReceive(words, store, env, user, env.DYNOFORM_CONTROL_BINARY ?? process.execPath);
            }
            if (["deploy", "serve", "git-hook", "ssh"].includes(words[0] ?? "")) throw new UserError(`${words[0]} is not available over SSH: push with git, or use a CLI verb (dynoform help)`);
        }
        if (words[0] === "deploy") return await runDeploy(words.slice(1), store, platform, env, io, user);
        if (words[0] === "git-hook" && words[1] === "pre-receive") return await preReceive(store, platform, env, io, user);
        if (words[0] === "serve") return await serve(store, platform, cfg, io);
        const ctx: CliContext = {
            store,
            platform,
            settings: settingsFrom(env, user),
            out: (l) => io.stdout(l + "\n"),
            err: (l) => io.stderr(l + "\n"),
            ...(io.stdin ? { stdin: io.stdin } : {}),
            writeStdout: (c) => io.stdout(c.toString()),
            ...(io.drained ? { drained: io.drained } : {}),
            writeStderr: (c) => io.stderr(c.toString()),
            now: () => new Date(),
            randomName: () => generateName(),
            ...(env.DYNOFORM_BUILD_USER_PREFIX ? { buildUsers: new BuildUsers(env.DYNOFORM_BUILD_USER_PREFIX) } : {}),
        };
        return await runCli(words, ctx, env);
    } catch (err) {
        if (isUserError(err)) {
            io.stderr(ERROR_PREFIX + err.message + "\n");
            return err.exitCode;
        }
        io.stderr(`${ERROR_PREFIX}Internal error: ${(err as Error).stack ?? err}\n`);
        return 2;
    }
}
