// audit -a APP: who changed what and when (every app's and the platform's without -a, administrators only).
import type { AuditEntry } from "../accounts/principal";
import { UserError } from "../errors";
import { table } from "../text";
import { APP_FLAG } from "./args";
import { accountsOf } from "./caller";
import { flagString, Verb } from "./context";

function rows(entries: AuditEntry[], withApp: boolean): string[][] {
    return entries.map((e) => [e.at, `${e.user} (${e.via})`, ...(withApp ? [e.app ?? "-"] : []), e.action, e.detail]);
}

export const audit: Verb = {
    name: "audit",
    summary: "show the audit log: who changed what and when (without -a: the platform's, administrators only)",
    usage: "audit [-a APP] [-n NUM] [--json]",
    needsApp: false,
    access: "read",
    flags: [APP_FLAG, { name: "num", short: "n", value: true, description: "the last NUM entries (default 100)" }, { name: "json", description: "output as JSON lines" }],
    args: { min: 0, max: 0 },
    async run(ctx, args) {
        const numText = flagString(args, "num") ?? "100";
        if (!/^\d+$/.test(numText) || Number(numText) < 1) throw new UserError(`-n ${numText} is not a number of entries: use e.g. -n 50`);
        if (args.app) await ctx.store.requireApp(args.app);
        const entries = (await accountsOf(ctx).auditEntries(args.app || undefined)).slice(-Number(numText));
        if (args.flags.json) entries.forEach((e) => ctx.out(JSON.stringify(e)));
        else if (entries.length === 0) ctx.out(args.app ? `No audit entries for ${args.app} yet.` : "No audit entries yet.");
        else table(rows(entries, !args.app)).forEach((l) => ctx.out(l));
        return 0;
    },
};
