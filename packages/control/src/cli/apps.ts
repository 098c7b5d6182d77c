// apps, apps:create, apps:destroy, apps:info, git:remote
import { appNameProblem } from "../app_store";
import { routeState } from "../app_route";
import { removeBuildState } from "../build_teardown";
import { UserError } from "../errors";
import { formatSize } from "../slug";
import { styledHeader, styledObject } from "../text";
import { APP_FLAG } from "./args";
import { appLabel, flagString, recordAudit, Verb } from "./context";

const ADJECTIVES = ["ancient", "autumn", "billowing", "bitter", "calm", "cool", "crimson", "dawn", "frosty", "gentle", "hidden", "misty", "quiet", "shy", "silent", "still", "sunny", "twilight", "wild"];
const NOUNS = ["brook", "cloud", "dawn", "dew", "field", "fire", "forest", "glade", "lake", "meadow", "mountain", "river", "sea", "shadow", "sky", "snow", "sun", "wave", "wind"];

/** Heroku-style generated names: "misty-river-4821". */
export function generateName(rand: () => number = Math.random): string {
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${String(Math.floor(rand() * 9000) + 1000)}`;
}

/** Without MEMCACHE_USERNAME, MEMCACHE_SERVERS is the retired shared instance of apps made before per-app Memcached. */
export const addonNames = (config: Record<string, string>): string[] =>
    [
        config.DATABASE_URL !== undefined ? "postgresql (DATABASE_URL)" : "",
        config.MEMCACHE_USERNAME !== undefined ? "memcached (MEMCACHE_SERVERS)" : "",
        config.MEMCACHE_SERVERS !== undefined && config.MEMCACHE_USERNAME === undefined ? "memcached (MEMCACHE_SERVERS: the retired shared one; run dynoform addons:create memcache)" : "",
    ].filter(Boolean);

/** <name>.<domain> that the edge serves itself (api: the REST API; dashboard: the web console to come), never an app. */
export const PLATFORM_NAMES = ["api", "dashboard"];

export const apps: Verb = {
    name: "apps",
    summary: "list your apps",
    usage: "apps",
    needsApp: false,
    access: "user",
    flags: [{ name: "json", description: "output as JSON" }],
    args: { min: 0, max: 0 },
    async run(ctx, args) {
        const all = await ctx.store.listApps();
        const names = ctx.caller ? await ctx.caller.accounts.visibleApps(ctx.caller.principal, all) : all;
        if (args.flags.json) ctx.out(JSON.stringify(names));
        else if (names.length === 0) ctx.out("You have no apps.");
        else {
            ctx.out(styledHeader("Apps"));
            names.forEach((n) => ctx.out(n));
        }
        return 0;
    },
};

export const appsCreate: Verb = {
    name: "apps:create",
    summary: "create a new app (with its PostgreSQL database and Memcached)",
    usage: "apps:create [APP]",
    needsApp: false,
    access: "user",
    audit: "self",
    flags: [APP_FLAG],
    args: { min: 0, max: 1 },
    async run(ctx, args) {
        const name = args.positional[0] ?? flagString(args, "app") ?? ctx.randomName();
        const problem = appNameProblem(name);
        if (problem) throw new UserError(problem);
        if (PLATFORM_NAMES.includes(name)) throw new UserError(`Name ${name} is reserved: ${name}.${ctx.settings.domain} is the platform's own; choose another name`);
        await ctx.store.withAppLock(name, "apps:create", async () => {
            if (await ctx.store.getApp(name)) throw new UserError(`Name ${name} is already taken: choose another name, or use "dynoform apps:info -a ${name}"`);
            const hostname = `${name}.${ctx.settings.domain}`;
            // A custom domain added before platform names were reserved (domains:add refuses them
            // now, so no new one can appear meanwhile) may hold this app's name.
            const squatter = await ctx.store.findDomainOwner(hostname);
            if (squatter) throw new UserError(`${hostname} is a custom domain of ${squatter}: remove it there first with "dynoform domains:remove ${hostname} -a ${squatter}"`);
            // What a destroy of this name left (one from before destroys removed it): never the new app's.
            await removeBuildState(ctx.store.paths, name, ctx.buildUsers);
            const config = await ctx.fleet.provisionAddons(name);
            try {
                await ctx.store.createApp(name, { config, domains: [hostname] });
            } catch (err) {
                await ctx.fleet.deprovisionAddons(name).catch(() => undefined);
                throw err;
            }
            await ctx.fleet.routesChanged(name, await routeState(ctx.store, name));
            // Inside the lock: no one else can create this name meanwhile and find it theirs.
            if (ctx.caller) await ctx.caller.accounts.setOwner(name, ctx.caller.principal.user);
        });
        await recordAudit(ctx, { app: name, action: "apps:create", detail: "Create app" });
        ctx.err(`Creating ${appLabel(name)}... done`);
        ctx.out(`${ctx.settings.webUrl(name)} | ${ctx.settings.gitUrl(name)}`);
        return 0;
    },
};

export const appsDestroy: Verb = {
    name: "apps:destroy",
    summary: "permanently destroy an app, its releases, database and cache",
    usage: "apps:destroy -a APP --confirm APP",
    needsApp: true,
    access: "own",
    ownAction: "destroy",
    audit: "self",
    flags: [APP_FLAG, { name: "confirm", short: "c", value: true, description: "the app's name, to confirm" }],
    args: { min: 0, max: 0 },
    async run(ctx, { app, flags }) {
        await ctx.store.requireApp(app);
        const confirm = flags.confirm;
        if (confirm === undefined) {
            throw new UserError(`This permanently destroys ${app}, its releases and its database: to proceed, run "dynoform apps:destroy -a ${app} --confirm ${app}"`);
        }
        if (confirm !== app) throw new UserError(`Confirmation "${confirm}" did not match ${app}: pass --confirm ${app}`);
        let finalBackup: string | undefined;
        await ctx.store.withAppLock(app, "apps:destroy", async () => {
            // The final backup comes first: if it fails, nothing is destroyed.
            if (ctx.fleet.databases && (await ctx.store.getConfig(app)).DATABASE_URL !== undefined) {
                finalBackup = await ctx.fleet.databases.capture(app).catch((err: Error) => {
                    throw new UserError(`The final backup of ${app}'s database failed, so nothing was destroyed: ${err.message}. Fix the backup host, then run apps:destroy again`);
                });
                ctx.err(`Backing up DATABASE of ${appLabel(app)} to ${finalBackup}... done`);
            }
            await ctx.fleet.stopAll(app);
            await ctx.fleet.deprovisionAddons(app);
            // Its lines and drains at the log router go too (a later app of that name starts empty);
            // before the store forgets the app, so a failure here can be retried.
            await ctx.fleet.logRouter?.forget(app).catch((err: Error) => {
                throw new UserError(`Could not remove ${app}'s logs and drains at the log router (${err.message}); its dynos and add-ons are gone already: run apps:destroy again once the log router answers (systemctl status dynoform-logplex on the control host)`);
            });
            // Before the store forgets the app: a destroy that fails here can be run again. A build
            // still running is ended first, so no slug of it lands after the store removed them.
            await removeBuildState(ctx.store.paths, app, ctx.buildUsers);
            await ctx.store.destroyApp(app);
            await recordAudit(ctx, { app, action: "apps:destroy", detail: `Destroy app${finalBackup ? ` (final backup ${app}::${finalBackup})` : ""}` }, { apiLine: false });
            // Its access goes with it: a later app of this name starts with its creator alone.
            await ctx.caller?.accounts.forgetApp(app);
        });
        ctx.err(`Destroying ${appLabel(app)} (including all add-ons)... done`);
        if (finalBackup) {
            ctx.err(`The final backup of its database is ${app}::${finalBackup}, kept on the backup host. Restore it into another app with:`);
            ctx.err(`  dynoform pg:backups:restore ${app}::${finalBackup} DATABASE_URL -a NEWAPP --confirm NEWAPP`);
        }
        return 0;
    },
};

export const appsInfo: Verb = {
    name: "apps:info",
    summary: "show an app's details",
    usage: "apps:info -a APP",
    needsApp: true,
    access: "read",
    flags: [APP_FLAG, { name: "json", description: "output as JSON" }],
    args: { min: 0, max: 0 },
    async run(ctx, { app, flags }) {
        const rec = await ctx.store.requireApp(app);
        const [config, formation, current] = [await ctx.store.getConfig(app), await ctx.store.getFormation(app), await ctx.store.currentRelease(app)];
        const info = {
            Addons: addonNames(config),
            Dynos: Object.entries(formation).map(([t, f]) => `${t}: ${f.quantity}`).join(", "),
            "Git URL": ctx.settings.gitUrl(app),
            Release: current ? `v${current.version} (${current.description})` : "none",
            "Slug Size": current ? formatSize(current.slug.size) : "none",
            Stack: rec.stack,
            "Web URL": ctx.settings.webUrl(app),
        };
        if (flags.json) {
            ctx.out(JSON.stringify({ app: rec, formation, release: current ? { version: current.version, description: current.description } : null, web_url: info["Web URL"], git_url: info["Git URL"] }, null, 2));
            return 0;
        }
        ctx.out(styledHeader(app));
        styledObject(info).forEach((l) => ctx.out(l));
        return 0;
    },
};

export const gitRemote: Verb = {
    name: "git:remote",
    summary: "print the git remote command for an app",
    usage: "git:remote -a APP [-r REMOTE]",
    needsApp: true,
    access: "read",
    flags: [APP_FLAG, { name: "remote", short: "r", value: true, description: "remote name (default dynoform)" }],
    args: { min: 0, max: 0 },
    async run(ctx, args) {
        await ctx.store.requireApp(args.app);
        // Runs on the control host: it cannot touch the caller's repository, so it prints the
        // command; the local dynoform CLI runs it and reports "set git remote ... to ...".
        ctx.out(`git remote add ${flagString(args, "remote") ?? "dynoform"} ${ctx.settings.gitUrl(args.app)}`);
        return 0;
    },
};
