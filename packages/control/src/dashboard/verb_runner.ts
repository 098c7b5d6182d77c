// A dashboard action is the CLI verb itself, run in-process for the signed-in user: the same
// checks, app lock, release, rollout and `app[api]` lines as `dynoform ps:scale` over SSH. The
// verb's progress lines (stderr) become the page's message; its stdout is not shown, since
// config:set prints the values it set.
import type { AppStore } from "../app_store";
import type { BuildUsers } from "../build_users";
import type { CliSettings, Verb } from "../cli/context";
import { inProcessContext } from "../cli/in_process";
import { isUserError } from "../errors";
import { Fleet, FleetError } from "../fleet";

export interface VerbDeps {
    store: AppStore;
    fleet: Fleet;
    settings: Omit<CliSettings, "user">;
    now(): Date;
    buildUsers?: BuildUsers;
}

/** Where a reading verb's stdout goes (the live log view); without it stdout is dropped. */
export interface VerbOutput {
    out(line: string): void;
    /** Settles once the reader has taken what was written. */
    drained?(): Promise<void>;
}

export type VerbOutcome = { ok: true; lines: string[] } | { ok: false; lines: string[] };

/** Runs `verb` on `app` with these positional words as `user`; a user's mistake is an outcome, anything else throws. */
export async function runVerb(deps: VerbDeps, user: string, verb: Verb, app: string, positional: string[], flags: Record<string, string | boolean> = {}, output?: VerbOutput): Promise<VerbOutcome> {
    const lines: string[] = [];
    const ctx = inProcessContext(deps, user, {
        out: output ? (l) => output.out(l) : () => undefined,
        err: (l) => lines.push(l),
        ...(output?.drained ? { drained: () => output.drained!() } : {}),
    });
    try {
        const code = await verb.run(ctx, { app, positional, flags: { app, ...flags } });
        return code === 0 ? { ok: true, lines } : { ok: false, lines };
    } catch (err) {
        if (isUserError(err) || err instanceof FleetError) return { ok: false, lines: [...lines, err.message] };
        throw err;
    }
}
