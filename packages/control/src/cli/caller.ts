// The caller of a verb about accounts (keys, tokens, users, access): these need the account store,
// which a run on the control host itself has too (control_main.ts makes one for every run).
import type { AccountStore } from "../accounts/account_store";
import { UserError } from "../errors";
import { adminOnly } from "./authorize";
import { Caller, CliContext } from "./context";

export function callerOf(ctx: CliContext): Caller {
    if (!ctx.caller) throw new UserError("Accounts are not set up on this host: run this verb through the control host's dynoform-control");
    return ctx.caller;
}

export function accountsOf(ctx: CliContext): AccountStore {
    return callerOf(ctx).accounts;
}

/** The user a verb acts on: the caller, or another (`--user NAME`) for an administrator only. */
export function subjectUser(ctx: CliContext, other: string | undefined, verb: string): string {
    const { principal } = callerOf(ctx);
    if (other === undefined || other === principal.user) return principal.user;
    if (!principal.admin) throw adminOnly(`run ${verb} for another user`);
    return other;
}
