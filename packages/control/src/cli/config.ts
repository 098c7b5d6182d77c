// config, config:get, config:set, config:unset — a change makes a new release and rolls it out.
import { Release } from "../app_store";
import { BuildLog } from "../build_log";
import { ConfigVars, describeChange, formatConfig, formatJson, formatShell, parseAssignments, parseKeys, withSet, withUnset } from "../config_vars";
import { UserError } from "../errors";
import { MAINTENANCE_PAGE_URL, pageUrlWarning, routeState } from "../app_route";
import { releaseAndRollout, ReleaseFailedError } from "../releases";
import { listJoin, styledObject } from "../text";
import { APP_FLAG } from "./args";
import { appLabel, CliContext, Verb } from "./context";

export const config: Verb = {
    name: "config",
    summary: "display the config vars for an app",
    usage: "config -a APP [--shell|--json]",
    needsApp: true,
    access: "read",
    flags: [APP_FLAG, { name: "shell", short: "s", description: "output as KEY='value' for sh" }, { name: "json", description: "output as JSON" }],
    args: { min: 0, max: 0 },
    async run(ctx, { app, flags }) {
        const vars = await ctx.store.getConfig(app);
        const lines = flags.shell ? formatShell(vars) : flags.json ? formatJson(vars) : formatConfig(app, vars);
        lines.forEach((l) => ctx.out(l));
        return 0;
    },
};

export const configGet: Verb = {
    name: "config:get",
    summary: "display a single config var",
    usage: "config:get KEY -a APP",
    needsApp: true,
    access: "read",
    flags: [APP_FLAG, { name: "shell", short: "s", description: "output as KEY='value'" }],
    args: { min: 1, max: 1 },
    async run(ctx, { app, positional, flags }) {
        const [key] = parseKeys(positional, "config:get");
        const vars = await ctx.store.getConfig(app);
        const value = vars[key];
        if (flags.shell) ctx.out(value === undefined ? `${key}=` : formatShell({ [key]: value })[0]);
        else ctx.out(value ?? "");
        return 0;
    },
};

/**
 * Make `vars.after` the app's config vars and release them with `code`'s slug and process types.
 * If the release fails, `vars.before` is put back and a ReleaseFailedError becomes `failed(err)`.
 * The caller holds the app lock.
 */
export async function releaseConfig(
    ctx: CliContext,
    app: string,
    vars: { before: ConfigVars; after: ConfigVars },
    code: Release,
    description: string,
    failed: (err: ReleaseFailedError) => UserError,
): Promise<Release> {
    await ctx.store.setConfig(app, vars.after);
    try {
        return await releaseAndRollout({ store: ctx.store, fleet: ctx.fleet, log: new BuildLog((l) => ctx.err(l)) }, app, {
            slug: code.slug,
            config: vars.after,
            processTypes: code.processTypes,
            commit: code.commit,
            description,
            ...(code.buildpack ? { buildpack: code.buildpack } : {}),
            ...(ctx.settings.user ? { user: ctx.settings.user } : {}),
        });
    } catch (err) {
        await ctx.store.setConfig(app, vars.before);
        if (err instanceof ReleaseFailedError) throw failed(err);
        throw err;
    }
}

/** ", v7" after "done" — nothing before the first deploy, which releases the vars as v1. */
export const releaseSuffix = (release: Release | undefined) => (release ? `, v${release.version}` : "");

/** Replace the config vars and release them; on failure the old vars are put back. */
export async function changeConfig(ctx: CliContext, app: string, next: (cur: ConfigVars) => ConfigVars, description: string) {
    return ctx.store.withAppLock(app, description, async () => {
        const before = await ctx.store.getConfig(app);
        const after = next(before);
        const current = await ctx.store.currentRelease(app);
        if (!current) {
            // Nothing deployed: no release to make; the vars go out with the first deploy (v1).
            await ctx.store.setConfig(app, after);
            return undefined;
        }
        return releaseConfig(ctx, app, { before, after }, current, description, (err) =>
            new UserError(`v${err.release.version} failed and ${app} keeps its previous config vars: ${err.reason}. Fix the cause, then run the command again`),
        );
    });
}

/** The routers frame the new MAINTENANCE_PAGE_URL (a router that misses it gets it from the placement loop). */
export async function pageUrlChanged(ctx: CliContext, app: string): Promise<void> {
    const warning = pageUrlWarning(await ctx.store.getConfig(app));
    if (warning) ctx.err(`Warning: ${warning}`);
    await ctx.store.withAppLock(app, "maintenance page", async () => ctx.fleet.routesChanged(app, await routeState(ctx.store, app)));
}

export const configSet: Verb = {
    name: "config:set",
    summary: "set one or more config vars (makes a new release)",
    usage: "config:set KEY1=VALUE1 [KEY2=VALUE2 ...] -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Set ${positional.map((p) => p.split("=")[0]).join(", ")} config vars`, apiLine: false },
    flags: [APP_FLAG],
    args: { min: 0, max: Infinity },
    async run(ctx, { app, positional }) {
        const vars = parseAssignments(positional);
        await ctx.store.requireApp(app);
        const keys = Object.keys(vars);
        const release = await changeConfig(ctx, app, (cur) => withSet(cur, vars), describeChange("Set", keys));
        ctx.err(`Setting ${listJoin(keys)} and restarting ${appLabel(app)}... done${releaseSuffix(release)}`);
        if (keys.includes(MAINTENANCE_PAGE_URL)) await pageUrlChanged(ctx, app);
        styledObject(vars, keys).forEach((l) => ctx.out(l));
        return 0;
    },
};

export const configUnset: Verb = {
    name: "config:unset",
    summary: "unset one or more config vars (makes a new release)",
    usage: "config:unset KEY1 [KEY2 ...] -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Remove ${positional.join(", ")} config vars`, apiLine: false },
    flags: [APP_FLAG],
    args: { min: 0, max: Infinity },
    async run(ctx, { app, positional }) {
        const keys = parseKeys(positional);
        const cur = await ctx.store.getConfig(app);
        const missing = keys.filter((k) => !(k in cur));
        if (missing.length === keys.length) {
            throw new UserError(`${listJoin(missing)} ${missing.length === 1 ? "is" : "are"} not set on ${app}: run "dynoform config -a ${app}" to see its config vars`);
        }
        const present = keys.filter((k) => k in cur);
        const release = await changeConfig(ctx, app, (c) => withUnset(c, present), describeChange("Remove", present));
        ctx.err(`Unsetting ${listJoin(present)} and restarting ${appLabel(app)}... done${releaseSuffix(release)}`);
        if (present.includes(MAINTENANCE_PAGE_URL)) await pageUrlChanged(ctx, app);
        return 0;
    },
};
