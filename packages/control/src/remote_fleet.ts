// The real Fleet: the dyno hosts' agents (agent_client.ts), the edge hosts' routers
// (router_client.ts) and the data host's add-ons (addons_client.ts), composed. Rollouts and scaling
// are rollout.ts, the placement loop is reconcile.ts, destroyed apps' hosts are destroyed_apps.ts;
// what is left here is each verb's one straight chain of calls.
import { AddonsClient, AddonsSshConfig } from "./addons_client";
import { Databases } from "./databases";
import { AgentClient, AgentCredentials } from "./agent_client";
import { hostLabel } from "./api_request";
import { AppStore, Formation, Release } from "./app_store";
import { AppRouteState, routeBody } from "./app_route";
import { BuildLog } from "./build_log";
import { EdgeCaches, VarnishEdgeCaches } from "./cache_purge";
import { DestroyedApps } from "./destroyed_apps";
import { DrainedHosts } from "./drained_hosts";
import { AddonKind, DynoStatus, Fleet, FleetError, HostStatus, LogsOptions, OneOffIo } from "./fleet";
import { UserError } from "./errors";
import { LogRouterClient } from "./log_router_client";
import { PlacementStore } from "./placement_store";
import { Reconciler } from "./reconcile";
import { RouterClient } from "./router_client";
import { Rollout } from "./rollout";
import { Tombstones } from "./tombstones";

export interface RemoteFleetConfig extends AgentCredentials {
    /** Router control API base URLs (http://10.0.0.10:8081). */
    routers: string[];
    /** The control role's token on the routers (routes, domains, placements). */
    routerToken: string;
    /** The data host's add-on provisioning (per-app Memcached and PostgreSQL): SSH to its forced command dynoform-addons. */
    addons?: AddonsSshConfig;
    /** R10 at the agent is 60 s; the rollout gives up a little after. */
    bootTimeoutMs?: number;
    /** The slug server as agents reach it: <slugBaseUrl>/<app>/<sha256>.tgz (http://10.0.0.1:5080/slugs). */
    slugBaseUrl: string;
    /** Signs each slug's token (slug_access.ts); without it agents get no token and the slug server refuses them. */
    slugSigningKey?: string;
    /** The ssh client (default: ssh on PATH). */
    ssh?: string;
    /**
     * How long an app the store does not know (and no tombstone names) may stay on an agent before
     * the placement loop removes it (default 60 s).
     */
    unknownAppGraceMs?: number;
    /** Every edge's Varnish (http://10.0.0.10:6081): cached pages are banned there after each release and by cache:purge. */
    edgeCaches?: string[];
    /** The token the edges' VCL takes for a BAN. */
    edgeCacheToken?: string;
    /** The log router (http://10.0.0.2:8093): `logs` and drains read it, the control role's lines go to it. */
    logRouterUrl?: string;
    /** The control role's token on the log router. */
    logRouterToken?: string;
}

export class RemoteFleet implements Fleet {
    readonly tombstones: Tombstones;
    readonly logRouter?: LogRouterClient;
    private readonly agents: AgentClient;
    private readonly routers: RouterClient;
    private readonly addons: AddonsClient;
    readonly databases?: Databases;
    readonly edgeCaches?: EdgeCaches;
    private readonly destroyed: DestroyedApps;
    private readonly placements: PlacementStore;
    private readonly drained: DrainedHosts;
    private readonly rollouts: Rollout;
    private readonly reconciler: Reconciler;

    constructor(
        private readonly store: AppStore,
        readonly cfg: RemoteFleetConfig,
    ) {
        this.agents = new AgentClient(cfg, { baseUrl: cfg.slugBaseUrl, ...(cfg.slugSigningKey ? { signingKey: cfg.slugSigningKey } : {}) });
        this.routers = new RouterClient(cfg.routers, cfg.routerToken);
        if (cfg.logRouterUrl && cfg.logRouterToken) this.logRouter = new LogRouterClient({ url: cfg.logRouterUrl, token: cfg.logRouterToken });
        this.addons = new AddonsClient(cfg.addons, cfg.ssh);
        if (cfg.addons) this.databases = this.addons;
        if (cfg.edgeCaches?.length && cfg.edgeCacheToken) this.edgeCaches = new VarnishEdgeCaches(cfg.edgeCaches, cfg.edgeCacheToken);
        this.tombstones = new Tombstones(store.paths, store.clock);
        this.destroyed = new DestroyedApps(this.tombstones, this.agents);
        this.placements = new PlacementStore(store.paths);
        this.drained = new DrainedHosts(store.paths, store.clock);
        const parts = { store, agents: this.agents, routers: this.routers, destroyed: this.destroyed, placements: this.placements, drained: this.drained };
        this.rollouts = new Rollout(parts, cfg.bootTimeoutMs ?? 60_000);
        this.reconciler = new Reconciler(parts, this.rollouts, cfg.unknownAppGraceMs);
    }

    /** One pass of the placement loop (reconcile.ts). */
    reconcile(log?: (line: string) => void): Promise<void> {
        return this.reconciler.pass(log);
    }

    rollout(app: string, release: Release, formation: Formation, log: BuildLog): Promise<void> {
        return this.rollouts.rollout(app, release, formation, log);
    }

    scale(app: string, release: Release, formation: Formation): Promise<void> {
        return this.rollouts.scale(app, release, formation);
    }

    /** The answering hosts that run this app and no destroyed one of its name. */
    private async servingHosts(app: string): Promise<string[]> {
        return this.destroyed.serving(app, await this.agents.alive());
    }

    async restart(app: string, target?: string): Promise<void> {
        const hosts = await this.servingHosts(app);
        await Promise.all(hosts.map((h) => this.agents.restart(h, app, target)));
    }

    async dynos(app: string): Promise<DynoStatus[]> {
        const hosts = await this.servingHosts(app);
        const dynos = (await Promise.all(hosts.map((h) => this.agents.dynos(h, app)))).flat();
        return dynos.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
    }

    /**
     * On a host of the app's placement (else any serving one), cleared of a destroyed app of the name
     * first; a host that does not run the app is told of it, with no dynos, to run its one-offs.
     */
    async runOneOff(app: string, release: Release, command: string, io: OneOffIo, type: "run" | "release" = "run"): Promise<{ dyno: string; exitCode: number }> {
        const alive = await this.agents.requireAlive();
        const holders = new Set(Object.values((await this.placements.get(app)) ?? {}));
        const serving = await this.destroyed.serving(app, alive);
        const drained = await this.drained.all();
        const undrained = (hosts: string[]) => (hosts.some((h) => !drained.has(h)) ? hosts.filter((h) => !drained.has(h)) : hosts);
        const pool = undrained(serving.length > 0 ? serving : alive);
        const host = pool.find((h) => holders.has(h)) ?? pool[Math.floor(Math.random() * pool.length)];
        await this.destroyed.clearOrThrow(app, [host]);
        if (!(await this.agents.status(host, app).catch(() => undefined))) {
            await this.agents.put(host, app, release, {}, []).catch((err) => {
                throw new FleetError(`could not prepare ${app} on ${hostLabel(host)}: ${(err as Error).message}`);
            });
        }
        return this.agents.runOneOff(host, app, release, command, io, type);
    }

    /**
     * Without a log router (the `logs` verb reads it when there is one): the backlog of every serving
     * host's agent in time order, then (tail) their streams; `out` may return a promise (the
     * caller's output is full): no more is read until it settles.
     */
    async logs(app: string, opts: LogsOptions, out: (line: string) => void | Promise<void>): Promise<void> {
        const hosts = await this.servingHosts(app);
        const q = new URLSearchParams({ lines: String(opts.num) });
        if (opts.dyno) q.set("dyno", opts.dyno);
        if (opts.source) q.set("source", opts.source === "dynoform" ? "heroku" : opts.source);
        const backlog = (await Promise.all(hosts.map((h) => this.agents.logLines(h, app, q, 10_000)))).flat().sort();
        for (const l of backlog.slice(-opts.num)) await out(l);
        if (!opts.tail) return;
        q.set("lines", "0");
        q.set("tail", "1");
        await Promise.all(hosts.map((h) => this.agents.tailLogs(h, app, q, out)));
    }

    provisionAddons(app: string, kinds?: AddonKind[]): Promise<Record<string, string>> {
        return this.addons.provision(app, kinds);
    }

    deprovisionAddons(app: string): Promise<void> {
        return this.addons.deprovision(app);
    }

    /**
     * Every agent may run the app until it says otherwise: the tombstone names them all before any
     * DELETE (a crash midway leaves it whole), and each agent that removed the app is struck off.
     * Hosts that are down or fail stay on it for the placement loop, so the destroy goes on.
     */
    async stopAll(app: string): Promise<void> {
        await this.destroyed.record(app);
        await this.destroyed.clear(app, await this.agents.alive());
        await this.routers.removeApp(app);
        await this.placements.remove(app);
    }

    async routesChanged(app: string, route: AppRouteState): Promise<void> {
        // apps:create of a destroyed app's name: a host that came back since still runs the old
        // incarnation's dynos, registered under this name. Best effort: the placement loop retries.
        const pending = [...(await this.tombstones.pending(app))].filter((h) => this.agents.urls.includes(h));
        if (pending.length) await this.destroyed.clear(app, await this.agents.alive(pending));
        await this.routers.setRoute(app, routeBody(route));
    }

    /** The agent URL of HOST (its private address, or the URL itself); an unknown one names the hosts there are. */
    private agentUrl(host: string): string {
        const url = this.agents.urls.find((u) => u === host || hostLabel(u) === host.replace(/^\[|\]$/g, "").toLowerCase());
        if (!url) throw new UserError(`${host} is not a dyno host of this platform: run "dynoform hosts" to list them (${this.agents.urls.map(hostLabel).join(", ")})`);
        return url;
    }

    async hosts(): Promise<HostStatus[]> {
        const [alive, drained] = [new Set(await this.agents.alive()), await this.drained.all()];
        const count = new Map<string, number>();
        for (const app of await this.store.listApps()) {
            for (const h of Object.values((await this.placements.get(app)) ?? {})) count.set(h, (count.get(h) ?? 0) + 1);
        }
        return Promise.all(
            this.agents.urls.map(async (u) => {
                const since = drained.has(u) ? await this.drained.since(u) : undefined;
                return { host: hostLabel(u), state: alive.has(u) ? "up" : "down", ...(since ? { drainedSince: since } : {}), dynos: count.get(u) ?? 0 } satisfies HostStatus;
            }),
        );
    }

    async drainHost(host: string, log: (line: string) => void): Promise<{ moved: number; failed: string[] }> {
        const url = this.agentUrl(host);
        await this.store.withHostsLock(`hosts:drain ${host}`, async () => {
            const others = (await this.agents.alive()).filter((h) => h !== url);
            const drained = await this.drained.all();
            if (!drained.has(url) && others.every((h) => drained.has(h))) {
                throw new UserError(`${hostLabel(url)} is the last undrained dyno host that answers: its dynos would have nowhere to go. Undrain or add another dyno host first`);
            }
            await this.drained.drain(url);
        });
        let moved = 0;
        const failed: string[] = [];
        for (const app of await this.store.listApps()) {
            try {
                moved += (await this.store.withAppLock(app, `hosts:drain ${host}`, () => this.rollouts.evacuate(app, log))).length;
            } catch (err) {
                failed.push(app);
                log(`${app}: not moved: ${(err as Error).message}`);
            }
        }
        return { moved, failed };
    }

    async undrainHost(host: string): Promise<void> {
        const url = this.agentUrl(host);
        await this.store.withHostsLock(`hosts:undrain ${host}`, () => this.drained.undrain(url));
    }
}
