// access, access:add, access:remove: an app's owner and collaborators (Heroku's names; sharing:* are aliases).
import { styledHeader, table } from "../text";
import { APP_FLAG } from "./args";
import { accountsOf } from "./caller";
import { recordAudit, Verb } from "./context";

export const access: Verb = {
    name: "access",
    summary: "list who has access to an app",
    usage: "access -a APP [--json]",
    needsApp: true,
    access: "read",
    flags: [APP_FLAG, { name: "json", description: "output as JSON" }],
    args: { min: 0, max: 0 },
    async run(ctx, { app, flags }) {
        await ctx.store.requireApp(app);
        const { owner, collaborators } = await accountsOf(ctx).access(app);
        const rows = [...(owner ? [[owner, "owner"]] : []), ...collaborators.map((c) => [c, "collaborator"])];
        if (flags.json) {
            ctx.out(JSON.stringify(rows.map(([user, role]) => ({ user, role }))));
            return 0;
        }
        ctx.out(styledHeader(`${app} Access`));
        if (rows.length === 0) ctx.out("No owner: only administrators have access (the app predates accounts). Grant it with dynoform access:add USER");
        table(rows).forEach((l) => ctx.out(l));
        return 0;
    },
};

export const accessAdd: Verb = {
    name: "access:add",
    summary: "add a collaborator to an app (its owner or an administrator)",
    usage: "access:add USER -a APP",
    needsApp: true,
    access: "own",
    ownAction: "add collaborators to",
    audit: "self",
    flags: [APP_FLAG],
    args: { min: 1, max: 1 },
    async run(ctx, { app, positional: [user] }) {
        await ctx.store.requireApp(app);
        await accountsOf(ctx).addCollaborator(app, user);
        await recordAudit(ctx, { app, action: "access:add", detail: `Add ${user} as collaborator` });
        ctx.err(`Adding ${user} access to the app ${app}... done`);
        return 0;
    },
};

export const accessRemove: Verb = {
    name: "access:remove",
    summary: "remove a collaborator from an app (its owner or an administrator)",
    usage: "access:remove USER -a APP",
    needsApp: true,
    access: "own",
    ownAction: "remove collaborators from",
    audit: "self",
    flags: [APP_FLAG],
    args: { min: 1, max: 1 },
    async run(ctx, { app, positional: [user] }) {
        await ctx.store.requireApp(app);
        await accountsOf(ctx).removeCollaborator(app, user);
        await recordAudit(ctx, { app, action: "access:remove", detail: `Remove ${user} as collaborator` });
        ctx.err(`Removing ${user} access from the app ${app}... done`);
        return 0;
    },
};
