// git push, as one chain of calls:
//
//   git push git@control:<app>.git
//   → sshd: `dynoform-control ssh KEY` (forced command) → receivePack(): git-receive-pack on the app's
//     bare repo (repos/<app>.git, made on the first push), told the app and the pusher (DYNOFORM_APP,
//     DYNOFORM_USER)
//   → git runs the repo's pre-receive hook, `<this binary> git-hook pre-receive` (PRE_RECEIVE_HOOK)
//   → preReceiveHook(): for each pushed main/master commit, deployPush() → deploy() (deploy.ts):
//     build, release, rollout. Its output goes back to the pusher as `remote:` lines; exit 1 rejects
//     the push (git does not update the ref).
//
// Other branches are stored, not deployed. git-upload-pack (fetch, clone) of a known app's repo
// runs the same way, without the hook.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { AppStore, appNameProblem } from "./app_store";
import { BuildLog } from "./build_log";
import { defaultBuildpacks } from "./builder";
import { BuildSource } from "./build_sandbox";
import type { Permission } from "./accounts/principal";
import { BuildUsers } from "./build_users";
import { cliSettings, ControlConfig, Env } from "./control_config";
import { deploy, DeployRejectedError } from "./deploy";
import { UserError } from "./errors";
import { Fleet } from "./fleet";

/** The words the repos' pre-receive hook runs this binary with: its entry point (preReceiveHook). */
export const PRE_RECEIVE_HOOK = ["git-hook", "pre-receive"] as const;

/** What a push needs: the state, the fleet it rolls out to, the config, where its output goes, who pushes. */
export interface PushContext {
    store: AppStore;
    fleet: Fleet;
    config: ControlConfig;
    /** The push's output (the pusher sees it as `remote:` lines). */
    out: (text: string) => void;
    user?: string;
    /** Records a push's deploy in the audit log (accounts/): who, which commit, whether it was released. */
    audit?: (app: string, detail: string) => Promise<void>;
}

/** What a forced command's git needs on the app: push (receive-pack) operates it, fetch (upload-pack) reads it. */
export function gitPermission(verb: string): Permission {
    return verb === "git-receive-pack" ? "operate" : "read";
}

const ZERO_SHA = /^0{40}$/;

function hookScript(binary: string): string {
    return `#!/bin/sh\n# Managed by dynoform: build + release + rollout of pushes to main/master.\nexec ${binary} ${PRE_RECEIVE_HOOK.join(" ")}\n`;
}

/** The app's bare repo (made on first use), with the pre-receive hook running `binary`. */
async function ensureRepo(store: AppStore, app: string, binary: string): Promise<string> {
    const repo = store.paths.repo(app);
    if (!fs.existsSync(path.join(repo, "HEAD"))) {
        await fs.promises.mkdir(store.paths.repos, { recursive: true, mode: 0o700 });
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

/** `git-receive-pack 'app.git'` / `git-upload-pack 'app.git'` over SSH, for a known app only. */
export async function receivePack(
    ctx: Omit<PushContext, "fleet" | "out"> & { permit?: (app: string, permission: Permission) => Promise<void> },
    words: string[],
    env: Env,
): Promise<number> {
    const [verb, target] = words;
    const app = (target ?? "").replace(/^\/+/, "").replace(/\.git\/?$/, "");
    if (!target || appNameProblem(app)) throw new UserError(`${verb}: expected a repository like git@host:myapp.git, got "${target ?? ""}"`);
    await ctx.permit?.(app, gitPermission(verb));
    await ctx.store.requireApp(app);
    const repo = await ensureRepo(ctx.store, app, ctx.config.binary);
    return runInherit(verb, [repo], { ...env, DYNOFORM_APP: app, ...(ctx.user ? { DYNOFORM_USER: ctx.user } : {}) });
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
    return new Promise((resolve, reject) => {
        let s = "";
        stream.on("data", (d) => (s += d.toString()));
        stream.on("end", () => resolve(s));
        stream.on("error", reject);
    });
}

/** The hook's entry point: git gives the pushed refs on stdin ("<old> <new> <ref>" lines) and GIT_* in the environment. */
export async function preReceiveHook(ctx: PushContext, env: Env, stdin: NodeJS.ReadableStream | undefined): Promise<number> {
    const gitDir = path.resolve(env.GIT_DIR ?? ".");
    const app = env.DYNOFORM_APP ?? path.basename(gitDir).replace(/\.git$/, "");
    const input = stdin ? await readAll(stdin) : "";
    const updates = input.split("\n").map((l) => l.trim().split(/\s+/)).filter((p) => p.length === 3);
    // Builds must not see the push's git environment (npm runs git for git dependencies); only git
    // archive gets it (the pushed objects are quarantined until the hook accepts them).
    const gitEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith("GIT_") && e[1] !== undefined));
    for (const k of Object.keys(process.env)) if (k.startsWith("GIT_")) delete process.env[k];
    for (const [, sha, ref] of updates) {
        if (ZERO_SHA.test(sha)) continue;
        if (ref !== "refs/heads/main" && ref !== "refs/heads/master") {
            ctx.out(`-----> ${ref} stored; only main (or master) is deployed\n`);
            continue;
        }
        // The commit is unpacked by the app's build user (git archive as root | tar -x as the build user).
        const code = await deployPush(ctx, app, { gitDir, commit: sha, gitEnv }, sha);
        if (code !== 0) return code;
    }
    return 0;
}

/** `source` (the pushed `commit`) built and released; 1 when the push is rejected (the output says why). */
export async function deployPush(ctx: PushContext, app: string, source: BuildSource, commit: string): Promise<number> {
    const { store, config } = ctx;
    try {
        await deploy({
            store,
            fleet: ctx.fleet,
            app,
            source,
            commit,
            log: new BuildLog((l) => ctx.out(l + "\n")),
            buildpacks: defaultBuildpacks({ runtimeCacheDir: store.paths.runtimes }),
            cacheDir: store.paths.buildCache(app),
            buildpackCacheDir: store.paths.buildpackCache(app),
            webUrl: cliSettings(config).webUrl(app),
            ...(ctx.user ? { user: ctx.user } : {}),
            ...(config.buildUserPrefix ? { buildUsers: new BuildUsers(config.buildUserPrefix) } : {}),
            build: { ...(config.buildTimeoutMs ? { timeoutMs: config.buildTimeoutMs } : {}) },
        });
        await ctx.audit?.(app, `Deploy ${commit.slice(0, 7)}`);
        return 0;
    } catch (err) {
        await ctx.audit?.(app, `Deploy ${commit.slice(0, 7)} (failed: ${err instanceof DeployRejectedError ? "rejected" : "error"})`).catch(() => undefined);
        if (err instanceof DeployRejectedError) return 1;
        throw err;
    }
}
