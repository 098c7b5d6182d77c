// The forced command's authorization: every verb declares what it needs (Verb.access), and this
// checks it for the caller before the verb touches anything, so a refusal changes nothing.
import { UserError } from "../errors";
import { ParsedArgs } from "./args";
import { appLabel, Caller, Verb } from "./context";

export function noAccess(app: string, user: string): UserError {
    return new UserError(`You do not have access to the app ${app}. Its owner or an administrator can grant it with "dynoform access:add ${user} -a ${app}"`);
}

export function adminOnly(what: string): UserError {
    return new UserError(`Only an administrator can ${what}: ask one to run it ("dynoform users" lists who is)`);
}

/** Throws the refusal when `caller` may not run `verb` with `args`. */
export async function authorize(verb: Verb, args: ParsedArgs & { app: string }, caller: Caller): Promise<void> {
    const { principal, accounts } = caller;
    // Administrators may do anything; `user` verbs act on the caller's own things (their handlers check --user).
    if (principal.admin || verb.access === "user") return;
    if (verb.access === "admin") throw adminOnly(`run ${verb.name}`);
    if (!args.app) throw adminOnly(`run ${verb.name} without -a APP`);
    if (!(await accounts.can(principal, args.app, verb.access))) {
        if (verb.access === "own") throw new UserError(`Only the owner or an administrator can ${verb.ownAction ?? `run ${verb.name} on`} ${appLabel(args.app)}.`);
        throw noAccess(args.app, principal.user);
    }
    for (const other of verb.readsApps?.(args) ?? []) {
        if (!(await accounts.can(principal, other, "read"))) throw noAccess(other, principal.user);
    }
}
