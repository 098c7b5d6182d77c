// cache:purge — ban an app's pages cached in every edge's Varnish (cache_purge.ts): all of them, or
// one URL path's. Each release does the same for the whole app unless
// DYNOFORM_CACHE_PURGE_ON_RELEASE=false; this is for a page that changed without a release.
import { cacheHostnames, purgePathProblem } from "../cache_purge";
import { UserError } from "../errors";
import { APP_FLAG } from "./args";
import { appLabel, Verb } from "./context";

export const cachePurge: Verb = {
    name: "cache:purge",
    summary: "purge an app's pages (or one path's) from the edges' cache",
    usage: "cache:purge [PATH] -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => (positional[0] ? `Purge cache of ${positional[0]}` : "Purge cache"), apiLine: true },
    flags: [APP_FLAG],
    args: { min: 0, max: 1 },
    async run(ctx, { app, positional }) {
        const path = positional[0];
        const problem = path === undefined ? undefined : purgePathProblem(path);
        if (problem) throw new UserError(problem);
        const hostnames = cacheHostnames(await ctx.store.getDomains(app));
        const caches = ctx.fleet.edgeCaches;
        if (!caches) throw new UserError("this platform names no edge caches (control.json's edgeCaches): run pulumi up to configure them");
        const what = path === undefined ? appLabel(app) : `${path} of ${appLabel(app)}`;
        const failures = await caches.purge(hostnames, path);
        if (failures.length === 0) {
            ctx.err(`Purging cache of ${what}... done`);
            return 0;
        }
        ctx.err(`Purging cache of ${what}... failed`);
        const edges = failures.map((f) => `${f.edge} (${f.reason})`).join(", ");
        throw new UserError(`the cache of edge${failures.length > 1 ? "s" : ""} ${edges} could not be purged: run the command again once ${failures.length > 1 ? "they are" : "it is"} back`);
    },
};
