// dynoform-control: the control role's binary (entry: main.ts).
//
//   dynoform-control <verb> [args]        a CLI verb against the local state (apps, config:set, ...)
//   dynoform-control ssh [KEYNAME]        SSH forced command: runs $SSH_ORIGINAL_COMMAND as a verb
//   dynoform-control deploy -a APP --dir DIR --commit SHA
//                                         build DIR and release it (what the receive hook runs)
//
// Environment: DYNOFORM_STATE_DIR (default /var/lib/dynoform), DYNOFORM_DOMAIN (apps' default
// domain), DYNOFORM_GIT_HOST (host in git URLs), DYNOFORM_BUILD_UID / DYNOFORM_BUILD_GID,
// DYNOFORM_BUILD_TIMEOUT_S, DYNOFORM_SLUG_BASE_URL (agents fetch slugs from here).
import * as path from "node:path";
import { AppStore } from "./app_store";
import { BuildLog } from "./build_log";
import { defaultBuildpacks } from "./builder";
import { runCli, ERROR_PREFIX } from "./cli";
import { generateName } from "./cli/apps";
import { CliContext, CliSettings } from "./cli/context";
import { parseArgs } from "./cli/args";
import { splitWords } from "./cli/words";
import { defaultCacheDir, deploy, DeployRejectedError } from "./deploy";
import { isUserError, UserError } from "./errors";
import { Platform, unwiredPlatform } from "./platform";

type Env = Record<string, string | undefined>;

export const VERSION = "0.1.0";

const USAGE = `usage: dynoform-control <verb> [args]      run a dynoform CLI verb (dynoform-control help lists them)
       dynoform-control ssh [KEYNAME]      SSH forced command: runs $SSH_ORIGINAL_COMMAND as a verb
       dynoform-control deploy -a APP --dir DIR --commit SHA
State: $DYNOFORM_STATE_DIR (default /var/lib/dynoform). See packages/control/README.md.
`;

export interface MainIo {
    stdout: (s: string) => void;
    stderr: (s: string) => void;
    stdin?: NodeJS.ReadableStream;
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
    const log = new BuildLog((l) => io.stdout(l + "\n"));
    const slugBase = env.DYNOFORM_SLUG_BASE_URL;
    const timeoutS = intEnv(env, "DYNOFORM_BUILD_TIMEOUT_S");
    try {
        await deploy({
            store,
            platform,
            app,
            dir: path.resolve(dir),
            commit,
            log,
            buildpacks: defaultBuildpacks({ runtimeCacheDir: path.join(store.root, "runtimes") }),
            cacheDir: defaultCacheDir(store.root, app),
            webUrl: settingsFrom(env).webUrl(app),
            ...(slugBase ? { slugUrl: (a: string, sha: string) => `${slugBase.replace(/\/$/, "")}/${a}/${sha}.tgz` } : {}),
            ...(user ? { user } : {}),
            build: {
                uid: intEnv(env, "DYNOFORM_BUILD_UID"),
                gid: intEnv(env, "DYNOFORM_BUILD_GID"),
                ...(timeoutS ? { timeoutMs: timeoutS * 1000 } : {}),
            },
        });
        return 0;
    } catch (err) {
        if (err instanceof DeployRejectedError) return 1;
        throw err;
    }
}

export async function main(argv: string[], env: Env, io: MainIo, platform: Platform = unwiredPlatform()): Promise<number> {
    if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") {
        io.stdout(USAGE);
        return 0;
    }
    if (argv[0] === "--version") {
        io.stdout(`dynoform-control ${VERSION}\n`);
        return 0;
    }
    const store = new AppStore(env.DYNOFORM_STATE_DIR || "/var/lib/dynoform");
    try {
        await store.init();
        let words = argv;
        let user: string | undefined = env.DYNOFORM_USER;
        if (argv[0] === "ssh") {
            user = argv[1] ?? user;
            words = splitWords(env.SSH_ORIGINAL_COMMAND ?? "");
            if (words[0] === "dynoform") words = words.slice(1); // `ssh git@host dynoform ps -a x`
            if (words[0] === "git-receive-pack" || words[0] === "git-upload-pack") {
                throw new UserError(`${words[0]} is not wired yet on this control host (see packages/control/README.md): deploy with "dynoform-control deploy" meanwhile`);
            }
        }
        if (words[0] === "deploy") return await runDeploy(words.slice(1), store, platform, env, io, user);
        const ctx: CliContext = {
            store,
            platform,
            settings: settingsFrom(env, user),
            out: (l) => io.stdout(l + "\n"),
            err: (l) => io.stderr(l + "\n"),
            ...(io.stdin ? { stdin: io.stdin } : {}),
            writeStdout: (c) => io.stdout(c.toString()),
            writeStderr: (c) => io.stderr(c.toString()),
            now: () => new Date(),
            randomName: () => generateName(),
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
