// authorizations, authorizations:create, authorizations:revoke: the caller's API tokens (Heroku's
// names). A token is printed once, by create; the store keeps its hash only.
import { UserError } from "../errors";
import { styledObject, table } from "../text";
import { accountsOf, callerOf } from "./caller";
import { flagString, recordAudit, Verb } from "./context";

export const authorizations: Verb = {
    name: "authorizations",
    summary: "list your API tokens (their IDs and descriptions)",
    usage: "authorizations [--json]",
    needsApp: false,
    access: "user",
    flags: [{ name: "json", description: "output as JSON" }],
    args: { min: 0, max: 0 },
    async run(ctx, args) {
        const { principal } = callerOf(ctx);
        const now = ctx.now().getTime();
        const tokens = ((await accountsOf(ctx).user(principal.user))?.tokens ?? []).filter((t) => !t.revokedAt && !(t.expiresAt && Date.parse(t.expiresAt) <= now));
        if (args.flags.json) {
            ctx.out(JSON.stringify(tokens.map((t) => ({ id: t.id, description: t.description, created_at: t.createdAt, expires_at: t.expiresAt ?? null }))));
            return 0;
        }
        if (tokens.length === 0) {
            ctx.out('No authorizations. Create one with "dynoform authorizations:create --description CI"');
            return 0;
        }
        table(tokens.map((t) => [t.description, t.id, t.expiresAt ? `expires ${t.expiresAt}` : "no expiry"])).forEach((l) => ctx.out(l));
        return 0;
    },
};

export const authorizationsCreate: Verb = {
    name: "authorizations:create",
    summary: "create an API token (shown once: keep it secret)",
    usage: "authorizations:create [--description DESCRIPTION] [--expires-in SECONDS]",
    needsApp: false,
    access: "user",
    audit: "self",
    flags: [
        { name: "description", short: "d", value: true, description: "what the token is for" },
        { name: "expires-in", short: "e", value: true, description: "seconds until it expires (default: never)" },
    ],
    args: { min: 0, max: 0 },
    async run(ctx, args) {
        const { principal } = callerOf(ctx);
        const expires = flagString(args, "expires-in");
        if (expires !== undefined && !/^\d+$/.test(expires)) throw new UserError(`--expires-in ${expires} is not a number of seconds: use e.g. --expires-in 2592000 for 30 days`);
        const description = flagString(args, "description");
        const { token, record } = await accountsOf(ctx).createToken(principal.user, {
            ...(description !== undefined ? { description } : {}),
            ...(expires !== undefined ? { expiresInS: Number(expires) } : {}),
        });
        await recordAudit(ctx, { action: "authorizations:create", detail: `Create authorization ${record.id} (${record.description})` });
        ctx.err("Creating OAuth Authorization... done");
        styledObject({ Client: "<none>", ID: record.id, Description: record.description, Scope: "global", Token: token, "Expires at": record.expiresAt ?? "never" }).forEach((l) => ctx.out(l));
        return 0;
    },
};

export const authorizationsRevoke: Verb = {
    name: "authorizations:revoke",
    summary: "revoke an API token by its ID: it stops working at once",
    usage: "authorizations:revoke ID",
    needsApp: false,
    access: "user",
    audit: "self",
    flags: [],
    args: { min: 1, max: 1 },
    async run(ctx, args) {
        const { principal } = callerOf(ctx);
        const { owner, record } = await accountsOf(ctx).revokeToken(principal.user, args.positional[0], principal.admin);
        await recordAudit(ctx, { action: "authorizations:revoke", detail: `Revoke authorization ${record.id}${owner === principal.user ? "" : ` of ${owner}`}` });
        ctx.err(`Revoking OAuth Authorization ${record.id}... done`);
        return 0;
    },
};
