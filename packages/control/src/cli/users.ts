// users, users:add, users:remove: the platform's accounts (administrators only). Heroku has no such
// verbs (its accounts are made by signing up); here someone must make them.
import { UserError } from "../errors";
import { table } from "../text";
import { accountsOf, callerOf } from "./caller";
import { flagString, recordAudit, Verb } from "./context";

export const users: Verb = {
    name: "users",
    summary: "list users (administrators only)",
    usage: "users [--json]",
    needsApp: false,
    access: "admin",
    flags: [{ name: "json", description: "output as JSON" }],
    args: { min: 0, max: 0 },
    async run(ctx, args) {
        const list = await accountsOf(ctx).users();
        const now = ctx.now().getTime();
        const active = (t: { revokedAt?: string; expiresAt?: string }) => !t.revokedAt && !(t.expiresAt && Date.parse(t.expiresAt) <= now);
        if (args.flags.json) {
            ctx.out(JSON.stringify(list.map((u) => ({ name: u.name, email: u.email ?? null, admin: u.admin, keys: u.keys.length, tokens: u.tokens.filter(active).length }))));
            return 0;
        }
        table(
            list.map((u) => [u.name, u.email ?? "", u.admin ? "admin" : "user", `${u.keys.length} keys`, `${u.tokens.filter(active).length} tokens`]),
            ["User", "Email", "Role", "Keys", "Tokens"],
        ).forEach((l) => ctx.out(l));
        return 0;
    },
};

export const usersAdd: Verb = {
    name: "users:add",
    summary: "add a user (administrators only); then keys:add --user NAME gives them a key",
    usage: "users:add NAME [--admin] [--email EMAIL]",
    needsApp: false,
    access: "admin",
    audit: "self",
    flags: [
        { name: "admin", description: "an administrator: every app and the platform" },
        { name: "email", value: true, description: "the user's email address" },
    ],
    args: { min: 1, max: 1 },
    async run(ctx, args) {
        const name = args.positional[0];
        const email = flagString(args, "email");
        const user = await accountsOf(ctx).addUser(name, { admin: args.flags.admin === true, ...(email !== undefined ? { email } : {}) });
        await recordAudit(ctx, { action: "users:add", detail: `Add ${user.admin ? "administrator" : "user"} ${name}` });
        ctx.err(`Creating user ${name}... done`);
        ctx.out(`Give them a key: dynoform keys:add "ssh-ed25519 AAAA..." --user ${name}`);
        return 0;
    },
};

export const usersRemove: Verb = {
    name: "users:remove",
    summary: "remove a user, their keys, tokens and access (administrators only)",
    usage: "users:remove NAME",
    needsApp: false,
    access: "admin",
    audit: "self",
    flags: [],
    args: { min: 1, max: 1 },
    async run(ctx, args) {
        const name = args.positional[0];
        if (name === callerOf(ctx).principal.user) throw new UserError("You cannot remove yourself: ask another administrator");
        const { owned } = await accountsOf(ctx).removeUser(name);
        await recordAudit(ctx, { action: "users:remove", detail: `Remove user ${name}` });
        ctx.err(`Removing user ${name}... done`);
        if (owned.length) ctx.err(`${name} owned ${owned.join(", ")}: only administrators have access to them now (grant it with dynoform access:add)`);
        return 0;
    },
};
