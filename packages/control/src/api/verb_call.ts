// The API's changes run through the CLI verbs themselves (ps:scale, config:set, rollback, ...):
// one path for both, so the API checks, locks, releases and rolls back exactly as the verbs do.
// The verb's output lines are kept for the few answers that want them; its refusals (UserError)
// become 422s by api_error.ts.
import type { Principal } from "../accounts/principal";
import { CliContext, Verb } from "../cli/context";
import { inProcessContext } from "../cli/in_process";
import type { ApiDeps } from "./api_deps";

export interface VerbOutput {
    out: string[];
    err: string[];
}

/** A verb's context for one API request: the caller's name is the user releases and `app[api]` lines name. */
export function apiContext(deps: ApiDeps, principal: Principal, output: VerbOutput = { out: [], err: [] }): CliContext {
    return inProcessContext(deps, principal.user, { out: (l) => output.out.push(l), err: (l) => output.err.push(l) });
}

/** Runs `verb` as `dynoform <verb> <positional> <flags> -a <app>` would, minus the argv parsing. */
export async function callVerb(deps: ApiDeps, principal: Principal, verb: Verb, app: string, positional: string[] = [], flags: Record<string, string | boolean> = {}): Promise<VerbOutput> {
    const output: VerbOutput = { out: [], err: [] };
    await verb.run(apiContext(deps, principal, output), { app, positional, flags: { ...flags, ...(app ? { app } : {}) } });
    return output;
}
