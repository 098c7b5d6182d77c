// dynoform-control: the control role's binary (entry: main.ts).
//
//   dynoform-control <verb> [args]            a CLI verb against the local state (apps, config:set, ...)
//   dynoform-control ssh USER                 SSH forced command: $SSH_ORIGINAL_COMMAND as a verb, or
//                                             git-receive-pack / git-upload-pack (git_receive.ts), as
//                                             USER of the account store (accounts/)
//   dynoform-control deploy -a APP --dir DIR --commit SHA
//                                             build DIR and release it as that commit (no git)
//   dynoform-control serve                    slug server + placement loop (serve.ts)
//   dynoform-control git-hook pre-receive     the repos' hook (git_receive.ts)
//
// The configuration (control_config.ts) is read once here and passed down.
import * as path from "node:path";
import { AccountStore } from "./accounts/account_store";
import type { Permission, Principal } from "./accounts/principal";
import { apiLog, UNKNOWN_USER } from "./api_log";
import { AppStore } from "./app_store";
import { BuildUsers } from "./build_users";
import { runCli, ERROR_PREFIX } from "./cli";
import { generateName } from "./cli/apps";
import { parseArgs } from "./cli/args";
import { noAccess } from "./cli/authorize";
import { Caller, CliContext } from "./cli/context";
import { splitWords } from "./cli/words";
import { cliSettings, ControlConfig, Env, loadControlConfig } from "./control_config";
import { isUserError, UserError } from "./errors";
import { Fleet, unconfiguredFleet } from "./fleet";
import { deployPush, PRE_RECEIVE_HOOK, preReceiveHook, PushContext, receivePack } from "./git_receive";
import { RemoteFleet } from "./remote_fleet";
import { serve } from "./serve";

export const VERSION = "0.1.0";

const USAGE = `usage: dynoform-control <verb> [args]      run a dynoform CLI verb (dynoform-control help lists them)
       dynoform-control ssh USER           SSH forced command: runs $SSH_ORIGINAL_COMMAND as a verb (or git push) as USER
       dynoform-control deploy -a APP --dir DIR --commit SHA
       dynoform-control serve              slug HTTP server + placement loop (systemd unit)
       dynoform-control ${PRE_RECEIVE_HOOK.join(" ")}   (the bare repos' hook)
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

/** `deploy -a APP --dir DIR --commit SHA`: the operator's deploy of a directory, as a push of that commit. */
async function deployDir(ctx: PushContext, args: string[]): Promise<number> {
    const { flags } = parseArgs("deploy", args, [
        { name: "app", short: "a", value: true, description: "" },
        { name: "dir", value: true, description: "" },
        { name: "commit", value: true, description: "" },
    ]);
    const { app, dir, commit } = flags as { app?: string; dir?: string; commit?: string };
    if (!app || !dir || !commit) throw new UserError("Usage: dynoform-control deploy -a APP --dir DIR --commit SHA");
    return deployPush(ctx, app, { dir: path.resolve(dir) }, commit);
}

function isPreReceiveHook(words: string[]): boolean {
    return PRE_RECEIVE_HOOK.every((w, i) => words[i] === w);
}

/** git push needs operate on the app, a fetch read: refused like a verb, before git runs. */
async function permitGit(caller: Caller, app: string, permission: Permission): Promise<void> {
    if (!(await caller.accounts.can(caller.principal, app, permission))) throw noAccess(app, caller.principal.user);
}

/**
 * Who runs this: over SSH, the user the key's forced command names (an unknown one is refused before
 * anything else); on the control host itself (root, or the repos' hook after an authorized push),
 * an administrator named by DYNOFORM_USER.
 */
async function callerPrincipal(accounts: AccountStore, overSsh: boolean, user: string | undefined): Promise<Principal> {
    if (!overSsh) return { user: user ?? UNKNOWN_USER, admin: true, via: "ssh" };
    const principal = user ? await accounts.principalForUser(user) : undefined;
    if (!principal) {
        throw new UserError(`Your SSH key is not tied to a dynoform user${user ? ` (${user} is not one)` : ""}: ask an administrator to run "dynoform users:add NAME" and "dynoform keys:add 'YOUR PUBLIC KEY' --user NAME"`);
    }
    return principal;
}

async function run(argv: string[], env: Env, io: MainIo, config: ControlConfig, store: AppStore, remote: RemoteFleet | undefined): Promise<number> {
    const fleet: Fleet = remote ?? unconfiguredFleet();
    await store.init();
    const accounts = new AccountStore(config.stateDir, { sshDir: config.gitSshDir, binary: config.forcedCommandBinary, apiLine: (app, msg) => apiLog(fleet, app, msg) });
    let words = argv;
    let user: string | undefined = env.DYNOFORM_USER;
    const overSsh = argv[0] === "ssh";
    if (overSsh) user = argv[1];
    const principal = await callerPrincipal(accounts, overSsh, user);
    const caller: Caller = { principal, accounts };
    if (overSsh) {
        words = splitWords(env.SSH_ORIGINAL_COMMAND ?? "");
        if (words[0] === "dynoform") words = words.slice(1); // `ssh git@host dynoform ps -a x`
        if (words[0] === "git-receive-pack" || words[0] === "git-upload-pack") return receivePack({ store, config, user: principal.user, permit: (app, p) => permitGit(caller, app, p) }, words, env);
        if (["deploy", "serve", PRE_RECEIVE_HOOK[0], "ssh"].includes(words[0] ?? "")) throw new UserError(`${words[0]} is not available over SSH: push with git, or use a CLI verb (dynoform help)`);
    }
    const push: PushContext = {
        store,
        fleet,
        config,
        out: io.stdout,
        ...(user ? { user } : {}),
        audit: (app, detail) => accounts.audit({ user: principal.user, via: principal.via, app, action: "deploy", detail }, { apiLine: false }),
    };
    if (words[0] === "deploy") return deployDir(push, words.slice(1));
    if (isPreReceiveHook(words)) return preReceiveHook(push, env, io.stdin);
    if (words[0] === "serve") return serve(store, remote, config, io.stderr, accounts);
    const ctx: CliContext = {
        store,
        fleet,
        settings: cliSettings(config, user),
        out: (l) => io.stdout(l + "\n"),
        err: (l) => io.stderr(l + "\n"),
        ...(io.stdin ? { stdin: io.stdin } : {}),
        writeStdout: (c) => io.stdout(c.toString()),
        ...(io.drained ? { drained: io.drained } : {}),
        writeStderr: (c) => io.stderr(c.toString()),
        now: () => new Date(),
        randomName: () => generateName(),
        ...(config.buildUserPrefix ? { buildUsers: new BuildUsers(config.buildUserPrefix) } : {}),
        caller,
    };
    return runCli(words, ctx, env);
}

export async function main(argv: string[], env: Env, io: MainIo): Promise<number> {
    if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") {
        io.stdout(USAGE);
        return 0;
    }
    if (argv[0] === "--version") {
        io.stdout(`dynoform-control ${VERSION}\n`);
        return 0;
    }
    let config: ControlConfig;
    try {
        config = loadControlConfig(env);
    } catch (err) {
        return failed(err, io);
    }
    const store = new AppStore(config.stateDir);
    // A fleet config naming an agent without a token stops the binary here (main.ts), before anything runs.
    const remote = config.fleet ? new RemoteFleet(store, config.fleet) : undefined;
    try {
        return await run(argv, env, io, config, store, remote);
    } catch (err) {
        return failed(err, io);
    } finally {
        // The verb's own lines (releases, config, scaling) reach the log router before the run ends.
        await remote?.logRouter?.flushed();
    }
}

/** One line for a user's mistake (its exit code), the stack for anything else (2). */
function failed(err: unknown, io: MainIo): number {
    if (isUserError(err)) {
        io.stderr(ERROR_PREFIX + err.message + "\n");
        return err.exitCode;
    }
    io.stderr(`${ERROR_PREFIX}Internal error: ${(err as Error).stack ?? err}\n`);
    return 2;
}
