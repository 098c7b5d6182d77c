// domains, domains:add, domains:remove
import { domainProblem } from "@dynoform/contract";
import { Domain } from "../app_store";
import { routeState } from "../app_route";
import { UserError } from "../errors";
import { styledHeader, table } from "../text";
import { APP_FLAG } from "./args";
import { appLabel, Verb } from "./context";

/** Names under the platform domain are the apps' own: custom domains stay outside it. */
export function reservedProblem(host: string, platformDomain: string): string | undefined {
    const h = host.replace(/^\*\./, "");
    if (h === platformDomain || h.endsWith(`.${platformDomain}`)) {
        return `${host} is under the platform domain ${platformDomain}, whose names are the apps' own (<app>.${platformDomain}): a custom domain must be outside it`;
    }
    return undefined;
}

export const domains: Verb = {
    name: "domains",
    summary: "list an app's domains",
    usage: "domains -a APP",
    needsApp: true,
    access: "read",
    flags: [APP_FLAG, { name: "json", description: "output as JSON" }],
    args: { min: 0, max: 0 },
    async run(ctx, { app, flags }) {
        const list = await ctx.store.getDomains(app);
        if (flags.json) {
            ctx.out(JSON.stringify(list, null, 2));
            return 0;
        }
        const def = list.filter((d) => d.kind === "default");
        const custom = list.filter((d) => d.kind === "custom");
        ctx.out(styledHeader(`${app} Dynoform Domain`));
        def.forEach((d) => ctx.out(d.hostname));
        if (custom.length > 0) {
            ctx.out("");
            ctx.out(styledHeader(`${app} Custom Domains`));
            table(custom.map((d) => [d.hostname, "CNAME", def[0]?.hostname ?? ""]), ["Domain Name", "DNS Record Type", "DNS Target"]).forEach((l) => ctx.out(l));
        }
        return 0;
    },
};

export const domainsAdd: Verb = {
    name: "domains:add",
    summary: "add a custom domain to an app",
    usage: "domains:add HOSTNAME -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Add domain ${positional[0]}`, apiLine: true },
    flags: [APP_FLAG],
    args: { min: 1, max: 1 },
    async run(ctx, { app, positional }) {
        const host = positional[0].toLowerCase().replace(/\.$/, "");
        const problem = domainProblem(host) ?? reservedProblem(host, ctx.settings.domain);
        if (problem) throw new UserError(problem);
        await ctx.store.requireApp(app);
        const list = await ctx.store.withAppLock(app, "domains:add", () =>
            ctx.store.withDomainsLock(`domains:add ${host}`, async () => {
                const owner = await ctx.store.findDomainOwner(host);
                if (owner === app) throw new UserError(`${host} is already a domain of ${app}: run "dynoform domains -a ${app}" to see them`);
                if (owner) throw new UserError(`${host} is already used by ${owner}: remove it there first with "dynoform domains:remove ${host} -a ${owner}"`);
                const next: Domain[] = [...(await ctx.store.getDomains(app)), { hostname: host, kind: "custom", createdAt: ctx.now().toISOString() }];
                await ctx.store.setDomains(app, next);
                return next;
            }),
        );
        await ctx.fleet.routesChanged(app, { ...(await routeState(ctx.store, app)), domains: list });
        const target = list.find((d) => d.kind === "default")?.hostname;
        ctx.err(`Adding ${host} to ${appLabel(app)}... done`);
        if (target) ctx.out(`Configure your app's DNS provider to point ${host} to the DNS target ${target} (CNAME), or to the edge's address.`);
        return 0;
    },
};

export const domainsRemove: Verb = {
    name: "domains:remove",
    summary: "remove a custom domain from an app",
    usage: "domains:remove HOSTNAME -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Remove domain ${positional[0]}`, apiLine: true },
    flags: [APP_FLAG],
    args: { min: 1, max: 1 },
    async run(ctx, { app, positional }) {
        const host = positional[0].toLowerCase().replace(/\.$/, "");
        await ctx.store.requireApp(app);
        const list = await ctx.store.withAppLock(app, "domains:remove", async () => {
            const cur = await ctx.store.getDomains(app);
            const found = cur.find((d) => d.hostname === host);
            if (!found) throw new UserError(`${host} is not a domain of ${app}: run "dynoform domains -a ${app}" to see them`);
            if (found.kind === "default") throw new UserError(`${host} is ${app}'s default domain and cannot be removed`);
            const next = cur.filter((d) => d !== found);
            await ctx.store.setDomains(app, next);
            return next;
        });
        await ctx.fleet.routesChanged(app, { ...(await routeState(ctx.store, app)), domains: list });
        ctx.err(`Removing ${host} from ${appLabel(app)}... done`);
        return 0;
    },
};
