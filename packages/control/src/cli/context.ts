// What every verb gets: the store, the fleet (the hosts it drives), where output goes, and site settings.
import type { AccountStore } from "../accounts/account_store";
import type { Permission, Principal } from "../accounts/principal";
import { AppStore } from "../app_store";
import { BuildUsers } from "../build_users";
import { UserError } from "../errors";
import { Fleet } from "../fleet";
import { FlagSpec, ParsedArgs } from "./args";

export interface CliSettings {
    /** Apps are served at <app>.<domain> (the edge's wildcard server block). */
    domain: string;
    /** The URL `git push` goes to, e.g. git@control.example:myapp.git */
    gitUrl(app: string): string;
    webUrl(app: string): string;
    /** Who runs the command (the SSH key's name); shown in releases. */
    user?: string;
}

export interface CliContext {
    store: AppStore;
    fleet: Fleet;
    settings: CliSettings;
    /** One line of normal output (stdout). */
    out(line: string): void;
    /** One line of progress or error output (stderr). */
    err(line: string): void;
    /** Raw streams for `run`. */
    stdin?: NodeJS.ReadableStream;
    writeStdout(chunk: string | Buffer): void;
    writeStderr(chunk: string | Buffer): void;
    /** Settles once stdout has taken what was written (a stream's reader may be slower than its source). */
    drained?(): Promise<void>;
    now(): Date;
    /** Name for `apps:create` without one. */
    randomName(): string;
    /** The per-app build users (when builds run as them): apps:destroy removes the app's. */
    buildUsers?: BuildUsers;
    /** Who runs the verb and the account store that says what they may do; none: no checks, no audit (tests of single verbs). */
    caller?: Caller;
}

export interface Caller {
    principal: Principal;
    accounts: AccountStore;
}

/**
 * What a verb needs of its caller: a Permission on its app (-a; without one, administrators only),
 * `admin` (the platform: hosts, users), or `user` (anyone signed in, for their own things: apps,
 * apps:create, keys, authorizations).
 */
export type VerbAccess = Permission | "admin" | "user";

/** A change verb's audit entry: its detail from the arguments (config keys, never values). */
export interface AuditSpec {
    /** None: this run changed nothing (pg:backups:schedule without --at). */
    detail(args: ParsedArgs & { app: string }): string | undefined;
    /** Recorded before the verb runs (run: its exit code is the command's, and it may run for hours). */
    before?: boolean;
    /** False when the verb's change already shows in the app's stream (release and scale lines). */
    apiLine: boolean;
}

export interface Verb {
    name: string;
    summary: string;
    /** Shown after "Usage: dynoform " */
    usage: string;
    needsApp: boolean;
    flags: FlagSpec[];
    /** Positional args: exact bounds. */
    args: { min: number; max: number };
    /** What the caller needs (cli/authorize.ts checks it before the verb runs). */
    access: VerbAccess;
    /** The owner's words for an `own` verb's refusal: "Only the owner or an administrator can <ownAction> ⬢ app." */
    ownAction?: string;
    /** Other apps the verb reads (pg:backups:restore OTHERAPP::b001): the caller needs read on each. */
    readsApps?(args: ParsedArgs & { app: string }): string[];
    /**
     * A change verb's audit entry, recorded once it succeeded; `self`: the verb records its own
     * (it knows more than its arguments say); absent: the verb changes nothing.
     */
    audit?: AuditSpec | "self";
    /** Unknown flags belong to the command being run (run). */
    passThrough?: boolean;
    /** Returns the exit code. */
    run(ctx: CliContext, args: ParsedArgs & { app: string }): Promise<number>;
}

export function appLabel(app: string): string {
    return `⬢ ${app}`;
}

export function flagString(args: ParsedArgs, name: string): string | undefined {
    const v = args.flags[name];
    return typeof v === "string" ? v : undefined;
}

export function usageError(verb: Verb, problem: string): UserError {
    return new UserError(`${problem}. Usage: dynoform ${verb.usage}`);
}

/** Records an audited change as the caller (nothing without one). */
export async function recordAudit(ctx: CliContext, entry: { app?: string; action: string; detail: string }, opts: { apiLine?: boolean } = {}): Promise<void> {
    if (!ctx.caller) return;
    const { principal, accounts } = ctx.caller;
    await accounts.audit({ user: principal.user, via: principal.via, ...(entry.app ? { app: entry.app } : {}), action: entry.action, detail: entry.detail }, opts);
}
