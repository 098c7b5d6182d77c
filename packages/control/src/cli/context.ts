// What every verb gets: the store, the fleet (the hosts it drives), where output goes, and site settings.
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
