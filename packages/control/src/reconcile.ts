// The placement loop (`dynoform-control serve` runs a pass every few seconds): keeps the dyno hosts
// and the routers as the control role's state says.
//
// One pass: list the agents that answer and the apps each runs; remove destroyed apps from the
// hosts their tombstones name; remove apps the store does not know (after a grace period); for every
// placed app, move dynos off hosts that do not answer or are drained (hosts:drain: the replacements
// boot before the drained host's dynos stop) and clear it from answering hosts that should not run it; send a router that lost an app's placement or route (a restart, a new edge host, a
// toggle it missed) the saved one again.
//
// Each input is read once per pass: the agents' listings, the tombstones, the store's apps, each
// saved placement, each router's placements. Where a pass acts on an app it takes the app's lock
// and reads what it changes again under it (a deploy or destroy may have run meanwhile).
import { hostLabel } from "./api_request";
import { appNameProblem } from "./app_store";
import { onDrained, Placement, place, placeable, samePlacement } from "./placement";
import { PlacementParts, Rollout } from "./rollout";
import { placementHosts } from "./router_client";
import { routeBody, routeKey, routeState } from "./app_route";
import { Tombstone } from "./tombstones";

type Log = (line: string) => void;

/** How long a pass waits for an app's lock before it leaves the app to the next pass. */
const LOCK_WAIT = { timeoutMs: 500 };

export class Reconciler {
    /** `<agent> <app>` → when a pass first saw an app the store does not know there. */
    private readonly unknownSince = new Map<string, number>();

    constructor(
        private readonly parts: PlacementParts,
        private readonly rollout: Rollout,
        /**
         * How long an app the store does not know (and no tombstone names) may stay on an agent: an
         * app being created is never on an agent before it is in the store, so this only covers apps
         * destroyed before tombstones and lost state.
         */
        private readonly unknownAppGraceMs = 60_000,
    ) {}

    async pass(log: Log = () => undefined): Promise<void> {
        const alive = await this.parts.agents.alive();
        if (alive.length === 0) return;
        const listed = new Map(await Promise.all(alive.map(async (h) => [h, await this.parts.agents.apps(h)] as const)));
        const tombstones = await this.parts.destroyed.tombstones.all();
        await this.clearTombstones(alive, tombstones, log);
        // Read after the agents were listed: an app created meanwhile is known here, never "unknown".
        const known = await this.parts.store.listApps();
        await this.removeUnknown(alive, listed, new Set(known), tombstones, log);
        const drained = await this.parts.drained.all();
        const placed = new Map<string, Placement>();
        for (const app of known) {
            const saved = await this.parts.placements.get(app);
            if (saved) placed.set(app, (await this.reschedule(app, saved, { alive, drained }, listed, log)) ?? saved);
        }
        await this.syncRouters(known, placed, log);
    }

    /** Each tombstone's hosts that answer lose the app; hosts no longer configured are struck off. */
    private async clearTombstones(alive: string[], tombstones: Map<string, Tombstone>, log: Log): Promise<void> {
        for (const [app, t] of tombstones) {
            const unconfigured = t.hosts.filter((h) => !this.parts.agents.urls.includes(h));
            const due = t.hosts.filter((h) => alive.includes(h));
            if (unconfigured.length === 0 && due.length === 0) continue;
            try {
                await this.parts.store.withAppLock(
                    app,
                    "remove destroyed app",
                    async () => {
                        if (due.length) log(`${app}: removing the destroyed app from ${due.map(hostLabel).join(", ")}`);
                        for (const failure of await this.parts.destroyed.clear(app, due, unconfigured)) log(`${app}: ${failure}`);
                    },
                    LOCK_WAIT,
                );
            } catch (err) {
                log(`${app}: removing the destroyed app skipped: ${(err as Error).message}`);
            }
        }
    }

    /**
     * Apps an agent runs that the store does not know and no tombstone names (destroyed before
     * tombstones, or state lost): removed once seen for `unknownAppGraceMs`, after checking again
     * under the app's lock that it was not created meanwhile.
     */
    private async removeUnknown(alive: string[], listed: Map<string, Set<string>>, known: Set<string>, tombstones: Map<string, Tombstone>, log: Log): Promise<void> {
        const now = this.parts.store.clock().getTime();
        const seen = new Set<string>();
        for (const h of alive) {
            for (const app of listed.get(h) ?? []) {
                if (known.has(app) || tombstones.get(app)?.hosts.includes(h)) continue;
                const key = `${h} ${app}`;
                seen.add(key);
                const since = this.unknownSince.get(key) ?? now;
                this.unknownSince.set(key, since);
                if (now - since < this.unknownAppGraceMs) continue;
                const remove = async () => {
                    if (await this.parts.store.getApp(app)) return; // created since the listing
                    log(`${app}: not an app of this control role: removing it from ${hostLabel(h)}`);
                    await this.parts.agents.remove(h, app);
                    this.unknownSince.delete(key);
                };
                try {
                    // A name the store refuses can never be created here, so it needs no lock.
                    if (appNameProblem(app)) await remove();
                    else await this.parts.store.withAppLock(app, "remove unknown app", remove, LOCK_WAIT);
                } catch (err) {
                    log(`${app}: removing the unknown app from ${hostLabel(h)} skipped: ${(err as Error).message}`);
                }
            }
        }
        for (const key of [...this.unknownSince.keys()]) if (!seen.has(key)) this.unknownSince.delete(key);
    }

    /**
     * Where a host of the app's placement does not answer, or an answering host not in it runs the
     * app: place its dynos on the live hosts and clear the others. Returns the placement it leaves
     * (undefined where it left the app alone).
     */
    private async reschedule(app: string, saved: Placement, hosts: { alive: string[]; drained: Set<string> }, listed: Map<string, Set<string>>, log: Log): Promise<Placement | undefined> {
        const { alive, drained } = hosts;
        const stale = alive.filter((h) => listed.get(h)?.has(app) && !Object.values(saved).includes(h));
        const dead = Object.values(saved).some((h) => !alive.includes(h));
        const onDrainedHost = onDrained(saved, drained).length > 0;
        const targets = placeable(alive, drained);
        if ((!dead && stale.length === 0 && !onDrainedHost) || targets.length === 0) return undefined;
        try {
            return await this.parts.store.withAppLock(
                app,
                "reschedule",
                async () => {
                    const release = await this.parts.store.currentRelease(app);
                    if (!release) return undefined;
                    const formation = await this.parts.store.getFormation(app);
                    // Dynos on a live drained host (placed there by a deploy that raced hosts:drain):
                    // replaced without a failed request first.
                    await this.rollout.evacuate(app, log);
                    const fresh = (await this.parts.placements.get(app)) ?? saved;
                    const placement = place(formation, targets, fresh);
                    if (!samePlacement(placement, fresh)) {
                        const moved = Object.keys(placement).filter((d) => placement[d] !== fresh[d]);
                        log(`${app}: moving ${moved.join(", ")} off unreachable hosts`);
                        await this.rollout.move(app, release, formation, { from: fresh, to: placement, alive });
                        await this.parts.placements.save(app, placement);
                    }
                    const holders = new Set(Object.values(placement));
                    const clear = alive.filter((h) => listed.get(h)?.has(app) && !holders.has(h));
                    if (clear.length) {
                        log(`${app}: clearing ${clear.map(hostLabel).join(", ")}`);
                        await this.parts.agents.removeFrom(clear, app);
                    }
                    await this.parts.routers.tellPlacement(app, [placement]);
                    return placement;
                },
                LOCK_WAIT,
            );
        } catch (err) {
            log(`${app}: reschedule skipped: ${(err as Error).message}`);
            return undefined;
        }
    }

    /**
     * Routers whose placement or route of an app differs from the saved one (a restarted or new
     * router, a maintenance toggle it missed) get it again, under the app's lock. Saved placements
     * name only hosts cleared of destroyed apps when they were placed (rollout.ts), so this needs no
     * clearing first.
     */
    private async syncRouters(known: string[], placed: Map<string, Placement>, log: Log): Promise<void> {
        const routers = await this.parts.routers.views();
        for (const app of known) {
            const placement = placed.get(app);
            const wantPlacement = placement && placementHosts([placement]).join(",");
            const state = await routeState(this.parts.store, app).catch(() => undefined);
            if (!state) continue; // destroyed meanwhile
            const wantRoute = routeKey(routeBody(state));
            const placementOff = wantPlacement !== undefined && routers.some((r) => r && r.get(app)?.placement !== wantPlacement);
            const routeOff = routers.some((r) => r && (r.get(app)?.route ?? "") !== wantRoute);
            if (!placementOff && !routeOff) continue;
            await this.parts.store
                .withAppLock(
                    app,
                    "routes",
                    async () => {
                        if (routeOff) await this.parts.routers.setRoute(app, routeBody(await routeState(this.parts.store, app)));
                        const fresh = await this.parts.placements.get(app);
                        if (placementOff && fresh) await this.parts.routers.tellPlacement(app, [fresh]);
                    },
                    LOCK_WAIT,
                )
                .catch((err) => log(`${app}: route or placement not sent to routers: ${(err as Error).message}`));
        }
    }
}
