// The app endpoints: apps, config-vars, formation, dynos, releases, domains. Every change runs
// through the CLI verb that makes it from the command line (verb_call.ts), then is audited.
import { MAINTENANCE_PAGE_URL } from "../app_route";
import { DEFAULT_SIZE, type Release } from "../app_store";
import { appsCreate, appsDestroy } from "../cli/apps";
import { changeConfig, pageUrlChanged } from "../cli/config";
import { domainsAdd, domainsRemove } from "../cli/domains";
import { psRestart, psScale } from "../cli/ps";
import { rollback } from "../cli/releases";
import { describeChange, parseAssignments, parseKeys, withSet, withUnset } from "../config_vars";
import { ApiError } from "./api_error";
import { parseRange } from "./range";
import { header, Reply, Route, RouteContext, listReply } from "./route";
import { appJson, domainJson, dynoJson, formationJson, listOf, one, releaseJson } from "./shapes";
import { apiContext, callVerb } from "./verb_call";

function invalid(message: string): ApiError {
    return new ApiError("invalid_params", message);
}

async function appReply(ctx: RouteContext, app: string) {
    const { store } = ctx.deps;
    const [meta, current, maintenance] = await Promise.all([store.requireApp(app), store.currentRelease(app), store.getMaintenance(app)]);
    return appJson(meta, ctx.deps.settings, current, maintenance);
}


const apps: Route[] = [
    {
        method: "GET",
        path: "/apps",
        access: "signed-in",
        summary: "List the apps you may see (all of them for an administrator).",
        response: { status: 200, schema: listOf("app"), rangeFields: ["name", "id"] },
        async handle(ctx) {
            const names = await ctx.deps.accounts.visibleApps(ctx.principal, await ctx.deps.store.listApps());
            // By name (the default), only the page's apps are read; by id, every app is.
            if (parseRange(header(ctx.req, "range"), ["name", "id"]).field === "name") {
                const reply = listReply(ctx, names, ["name", "id"], (n) => n, (n) => n);
                return { ...reply, body: await Promise.all((reply.body as string[]).map((n) => appReply(ctx, n))) };
            }
            const list = await Promise.all(names.map((n) => appReply(ctx, n)));
            return listReply(ctx, list, ["name", "id"], (a, f) => (f === "id" ? a.id : a.name), (a) => a);
        },
    },
    {
        method: "POST",
        path: "/apps",
        access: "signed-in",
        summary: "Create an app (with its PostgreSQL database and Memcached), as apps:create.",
        body: { type: "object", properties: { name: { type: "string", description: "none: a generated name" } } },
        response: { status: 201, schema: one("app") },
        async handle(ctx) {
            const body = await ctx.json();
            if (body.name !== undefined && typeof body.name !== "string") throw invalid(`name must be a string, e.g. {"name": "myapp"}, or left out for a generated one`);
            const name = (body.name as string | undefined) ?? ctx.deps.randomName();
            await callVerb(ctx.deps, ctx.principal, appsCreate, "", [name]);
            await ctx.deps.accounts.setOwner(name, ctx.principal.user);
            await ctx.deps.accounts.audit({ user: ctx.principal.user, via: ctx.principal.via, app: name, action: "apps:create", detail: `created ${name}` });
            return { status: 201, body: await appReply(ctx, name) };
        },
    },
    {
        method: "GET",
        path: "/apps/{app}",
        access: "read",
        summary: "An app's details.",
        response: { status: 200, schema: one("app") },
        async handle(ctx) {
            return { status: 200, body: await appReply(ctx, ctx.params.app) };
        },
    },
    {
        method: "DELETE",
        path: "/apps/{app}",
        access: "own",
        summary: "Destroy an app, its releases, database (after a final backup) and cache, as apps:destroy.",
        response: { status: 200, schema: one("app") },
        async handle(ctx) {
            const app = ctx.params.app;
            const before = await appReply(ctx, app);
            await callVerb(ctx.deps, ctx.principal, appsDestroy, app, [], { confirm: app });
            await ctx.audit("destroy", `destroyed ${app}`);
            await ctx.deps.accounts.forgetApp(app);
            return { status: 200, body: before };
        },
    },
];

/** The body of a config-vars PATCH: strings set, nulls unset; anything else is refused before anything changes. */
function configPatch(body: Record<string, unknown>): { set: Record<string, string>; unset: string[] } {
    const entries = Object.entries(body);
    if (entries.length === 0) throw invalid(`Send at least one config var, e.g. {"FOO": "bar"} to set FOO or {"FOO": null} to unset it.`);
    const bad = entries.find(([, v]) => v !== null && typeof v !== "string");
    if (bad) throw invalid(`${bad[0]} must be a string (to set it) or null (to unset it), not ${JSON.stringify(bad[1])}.`);
    const sets = entries.filter(([, v]) => typeof v === "string").map(([k, v]) => `${k}=${v as string}`);
    const unset = entries.filter(([, v]) => v === null).map(([k]) => k);
    return { set: sets.length ? parseAssignments(sets) : {}, unset: unset.length ? parseKeys(unset) : [] };
}

function configDescription(set: string[], unset: string[]): string {
    if (unset.length === 0) return describeChange("Set", set);
    if (set.length === 0) return describeChange("Remove", unset);
    return `${describeChange("Set", set)}, ${describeChange("Remove", unset).replace(/^Remove/, "remove")}`;
}

const configVars: Route[] = [
    {
        method: "GET",
        path: "/apps/{app}/config-vars",
        access: "read",
        summary: "An app's config vars.",
        response: { status: 200, schema: one("config_vars") },
        async handle(ctx) {
            return { status: 200, body: await ctx.deps.store.getConfig(ctx.params.app) };
        },
    },
    {
        method: "PATCH",
        path: "/apps/{app}/config-vars",
        access: "operate",
        summary: "Set config vars (string values) and unset them (null) in one new release, as config:set and config:unset.",
        body: { type: "object", additionalProperties: { type: "string", nullable: true } },
        response: { status: 200, schema: one("config_vars") },
        async handle(ctx) {
            const app = ctx.params.app;
            const { set, unset } = configPatch(await ctx.json());
            const cur = await ctx.deps.store.getConfig(app);
            const present = unset.filter((k) => k in cur);
            const setKeys = Object.keys(set);
            if (setKeys.length === 0 && present.length === 0) return { status: 200, body: cur }; // Heroku's: unsetting what is not set changes nothing
            const vctx = apiContext(ctx.deps, ctx.principal);
            await changeConfig(vctx, app, (c) => withUnset(withSet(c, set), present), configDescription(setKeys, present));
            if (setKeys.includes(MAINTENANCE_PAGE_URL) || present.includes(MAINTENANCE_PAGE_URL)) await pageUrlChanged(vctx, app);
            if (setKeys.length) await ctx.audit("config:set", `set ${setKeys.join(", ")}`);
            if (present.length) await ctx.audit("config:unset", `unset ${present.join(", ")}`);
            return { status: 200, body: await ctx.deps.store.getConfig(app) };
        },
    },
];

interface FormationUpdate {
    type: string;
    quantity: number;
    size?: string;
}

function formationUpdate(u: unknown, where: string): FormationUpdate {
    if (typeof u !== "object" || u === null || Array.isArray(u)) throw invalid(`${where} must be an object, e.g. {"type": "web", "quantity": 2}`);
    const { type, quantity, size } = u as Record<string, unknown>;
    if (typeof type !== "string" || !/^[\w-]+$/.test(type)) throw invalid(`${where}.type must be a process type of the Procfile, e.g. "web"`);
    if (typeof quantity !== "number" || !Number.isInteger(quantity) || quantity < 0) throw invalid(`${where}.quantity must be a whole number of dynos, 0 or more (0 stops them)`);
    if (size !== undefined && (typeof size !== "string" || !/^[\w-]+$/.test(size))) throw invalid(`${where}.size must be a dyno size name, e.g. "standard-1X"`);
    return { type, quantity, ...(size !== undefined ? { size: size as string } : {}) };
}

/** ps:scale with `type=N[:size]` for each update: the same checks, lock, fleet call and undo as the verb. */
async function scale(ctx: RouteContext, updates: FormationUpdate[]): Promise<Reply> {
    const app = ctx.params.app;
    const args = updates.map((u) => `${u.type}=${u.quantity}${u.size ? `:${u.size}` : ""}`);
    await callVerb(ctx.deps, ctx.principal, psScale, app, args);
    await ctx.audit("scale", args.join(" "));
    const types = new Set(updates.map((u) => u.type));
    const release = await ctx.deps.store.currentRelease(app);
    const all = formationJson(app, await ctx.deps.store.getFormation(app), release?.processTypes ?? {});
    return { status: 200, body: all.filter((f) => types.has(f.type)) };
}

const formation: Route[] = [
    {
        method: "GET",
        path: "/apps/{app}/formation",
        access: "read",
        summary: "An app's process types and how many dynos of each run.",
        response: { status: 200, schema: listOf("formation"), rangeFields: ["type"] },
        async handle(ctx) {
            const app = ctx.params.app;
            const release = await ctx.deps.store.currentRelease(app);
            const list = formationJson(app, await ctx.deps.store.getFormation(app), release?.processTypes ?? {});
            return listReply(ctx, list, ["type"], (f) => f.type, (f) => f);
        },
    },
    {
        method: "PATCH",
        path: "/apps/{app}/formation",
        access: "operate",
        summary: "Scale several process types at once, as ps:scale; all or none are applied.",
        body: { type: "object", required: ["updates"], properties: { updates: { type: "array", minItems: 1, items: { type: "object", required: ["type", "quantity"], properties: { type: { type: "string" }, quantity: { type: "integer", minimum: 0 }, size: { type: "string" } } } } } },
        response: { status: 200, schema: listOf("formation") },
        async handle(ctx) {
            const { updates } = await ctx.json();
            if (!Array.isArray(updates) || updates.length === 0) throw invalid(`Send {"updates": [{"type": "web", "quantity": 2}]}: updates must be a list of at least one process type`);
            return scale(ctx, updates.map((u, i) => formationUpdate(u, `updates[${i}]`)));
        },
    },
    {
        method: "PATCH",
        path: "/apps/{app}/formation/{type}",
        access: "operate",
        summary: "Scale one process type, as ps:scale TYPE=N.",
        body: { type: "object", required: ["quantity"], properties: { quantity: { type: "integer", minimum: 0 }, size: { type: "string" } } },
        response: { status: 200, schema: listOf("formation") },
        async handle(ctx) {
            const body = await ctx.json();
            return scale(ctx, [formationUpdate({ ...body, type: ctx.params.type }, "body")]);
        },
    },
];

const dynos: Route[] = [
    {
        method: "GET",
        path: "/apps/{app}/dynos",
        access: "read",
        summary: "An app's dynos: state, release, size and host of each.",
        response: { status: 200, schema: listOf("dyno"), rangeFields: ["name"] },
        async handle(ctx) {
            const app = ctx.params.app;
            return listReply(ctx, await ctx.deps.fleet.dynos(app), ["name"], (d) => d.name, (d) => dynoJson(app, d));
        },
    },
    {
        method: "DELETE",
        path: "/apps/{app}/dynos",
        access: "operate",
        summary: "Restart all of an app's dynos, as ps:restart.",
        response: { status: 202, schema: { type: "object" } },
        async handle(ctx) {
            await callVerb(ctx.deps, ctx.principal, psRestart, ctx.params.app);
            await ctx.audit("restart", "all dynos");
            return { status: 202, body: {} };
        },
    },
    {
        method: "DELETE",
        path: "/apps/{app}/dynos/{dyno}",
        access: "operate",
        summary: "Restart one dyno (web.1) or every dyno of a type (web), as ps:restart.",
        response: { status: 202, schema: { type: "object" } },
        async handle(ctx) {
            await callVerb(ctx.deps, ctx.principal, psRestart, ctx.params.app, [ctx.params.dyno]);
            await ctx.audit("restart", ctx.params.dyno);
            return { status: 202, body: {} };
        },
    },
    {
        method: "POST",
        path: "/apps/{app}/dynos",
        access: "operate",
        summary: "Run a one-off dyno detached (its output goes nowhere but its exit; attach is not offered).",
        body: { type: "object", required: ["command"], properties: { command: { type: "string" }, attach: { type: "boolean", enum: [false] } } },
        response: { status: 201, schema: one("dyno") },
        async handle(ctx) {
            const app = ctx.params.app;
            const body = await ctx.json();
            if (typeof body.command !== "string" || body.command.trim() === "") throw invalid(`command must be the command line to run, e.g. {"command": "rake db:migrate"}`);
            if (body.attach === true) throw invalid(`attach is not offered by the API: use "dynoform run" over SSH for an attached one-off dyno, or leave attach out`);
            const command = body.command;
            const release = await ctx.deps.store.currentRelease(app);
            if (!release) throw invalid(`${app} has no deployed code to run: deploy first (git push or POST /apps/${app}/builds)`);
            const name = await runDetached(ctx, app, release, command);
            await ctx.audit("run", `${name}: ${command}`);
            const now = (ctx.deps.now ?? (() => new Date()))();
            return { status: 201, body: dynoJson(app, { name, type: "run", state: "up", command, release: release.version, since: now, size: DEFAULT_SIZE }) };
        },
    },
];

/** Starts the one-off and answers once it is up (its name known); it runs on after the answer. */
function runDetached(ctx: RouteContext, app: string, release: Release, command: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const discard = () => undefined;
        ctx.deps.fleet.runOneOff(app, release, command, { stdout: discard, stderr: discard, onStart: resolve }).then(({ dyno }) => resolve(dyno), reject);
    });
}

/** "v3", "3" or 3: a release's version. */
function versionOf(v: unknown): number {
    const m = /^v?(\d+)$/.exec(typeof v === "number" ? String(v) : typeof v === "string" ? v : "");
    if (!m || Number(m[1]) < 1) throw invalid(`release must name a release by its version, e.g. {"release": 3} or {"release": "v3"} (GET /apps/{app}/releases lists them)`);
    return Number(m[1]);
}

const releases: Route[] = [
    {
        method: "GET",
        path: "/apps/{app}/releases",
        access: "read",
        summary: "An app's releases (never their config vars).",
        response: { status: 200, schema: listOf("release"), rangeFields: ["version"] },
        async handle(ctx) {
            const app = ctx.params.app;
            const current = (await ctx.deps.store.currentRelease(app))?.version;
            return listReply(ctx, await ctx.deps.store.listReleases(app), ["version"], (r) => r.version, (r) => releaseJson(app, r, current));
        },
    },
    {
        method: "GET",
        path: "/apps/{app}/releases/{version}",
        access: "read",
        summary: "One release of an app.",
        response: { status: 200, schema: one("release") },
        async handle(ctx) {
            const app = ctx.params.app;
            const r = await ctx.deps.store.getRelease(app, versionOf(ctx.params.version));
            if (!r) throw new ApiError("not_found", `Couldn't find that release: ${ctx.params.version} of ${app}. GET /apps/${app}/releases lists them.`);
            return { status: 200, body: releaseJson(app, r, (await ctx.deps.store.currentRelease(app))?.version) };
        },
    },
    {
        method: "POST",
        path: "/apps/{app}/releases",
        access: "operate",
        summary: "Roll back to an earlier release's code and config vars (a new release), as rollback vN.",
        body: { type: "object", required: ["release"], properties: { release: { oneOf: [{ type: "integer" }, { type: "string" }] } } },
        response: { status: 201, schema: one("release") },
        async handle(ctx) {
            const app = ctx.params.app;
            const version = versionOf((await ctx.json()).release);
            await callVerb(ctx.deps, ctx.principal, rollback, app, [`v${version}`]);
            const current = await ctx.deps.store.currentRelease(app);
            await ctx.audit("rollback", `rolled back to v${version}${current ? `, now v${current.version}` : ""}`);
            return { status: 201, body: current ? releaseJson(app, current, current.version) : null };
        },
    },
];

async function domainList(ctx: RouteContext, app: string) {
    const list = await ctx.deps.store.getDomains(app);
    const target = list.find((d) => d.kind === "default")?.hostname;
    return list.map((d) => domainJson(app, d, target));
}

const domains: Route[] = [
    {
        method: "GET",
        path: "/apps/{app}/domains",
        access: "read",
        summary: "An app's domains: its own (kind heroku) and custom ones with their CNAME target.",
        response: { status: 200, schema: listOf("domain"), rangeFields: ["hostname"] },
        async handle(ctx) {
            return listReply(ctx, await domainList(ctx, ctx.params.app), ["hostname"], (d) => d.hostname, (d) => d);
        },
    },
    {
        method: "POST",
        path: "/apps/{app}/domains",
        access: "operate",
        summary: "Add a custom domain, as domains:add.",
        body: { type: "object", required: ["hostname"], properties: { hostname: { type: "string" } } },
        response: { status: 201, schema: one("domain") },
        async handle(ctx) {
            const app = ctx.params.app;
            const { hostname } = await ctx.json();
            if (typeof hostname !== "string" || hostname === "") throw invalid(`hostname must be the domain to add, e.g. {"hostname": "www.example.com"}`);
            await callVerb(ctx.deps, ctx.principal, domainsAdd, app, [hostname]);
            await ctx.audit("domains:add", hostname);
            const host = hostname.toLowerCase().replace(/\.$/, "");
            return { status: 201, body: (await domainList(ctx, app)).find((d) => d.hostname === host) };
        },
    },
    {
        method: "DELETE",
        path: "/apps/{app}/domains/{hostname}",
        access: "operate",
        summary: "Remove a custom domain, as domains:remove.",
        response: { status: 200, schema: one("domain") },
        async handle(ctx) {
            const app = ctx.params.app;
            const host = ctx.params.hostname.toLowerCase().replace(/\.$/, "");
            const before = (await domainList(ctx, app)).find((d) => d.hostname === host);
            await callVerb(ctx.deps, ctx.principal, domainsRemove, app, [host]);
            await ctx.audit("domains:remove", host);
            return { status: 200, body: before };
        },
    },
];

export const APP_ROUTES: Route[] = [...apps, ...configVars, ...formation, ...dynos, ...releases, ...domains];
