// Putting a release's dynos on the dyno hosts: the preboot rollout of a new release, scaling, and
// the polling until the dynos are up.
//
// A rollout places the formation (placement.ts: sticky, spread), tells the routers the old and the
// new hosts, PUTs each host's share of desired state (the agent replaces every changed dyno in place:
// the old instance serves until the new one is up and registered), polls until every dyno of the new
// release is up (web: registered) and the old instances are gone, then clears the hosts left without
// dynos and tells the routers only the new hosts. On failure it puts the previous release back (its
// dynos never stopped serving).
//
// Every host the routers are told of is first cleared of a destroyed app of the same name
// (destroyed_apps.ts): a router accepts a host's registrations for the apps placed on it, so the old
// incarnation's dynos there must be gone before it hears of the host.
import { AgentAppStatus, AgentClient } from "./agent_client";
import { hostLabel } from "./api_request";
import { AppStore, Formation, Release } from "./app_store";
import { BuildLog } from "./build_log";
import { DestroyedApps } from "./destroyed_apps";
import { FleetError } from "./fleet";
import { DrainedHosts } from "./drained_hosts";
import { byHost, onDrained, Placement, place, placeable } from "./placement";
import { PlacementStore } from "./placement_store";
import { RouterClient } from "./router_client";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a rollout waits for its dynos beyond the agent's boot timeout (R10) before it gives up. */
const UP_GRACE_MS = 15_000;
/** How much longer old instances may take to drain before the rollout stops waiting for them. */
const DRAIN_MS = 35_000;

/** What a change of placement touches; rollout.ts and reconcile.ts share them (remote_fleet.ts makes them). */
export interface PlacementParts {
    store: AppStore;
    agents: AgentClient;
    routers: RouterClient;
    destroyed: DestroyedApps;
    placements: PlacementStore;
    drained: DrainedHosts;
}

export interface Move {
    /** Where the app's dynos are now (undefined: nowhere yet). */
    from: Placement | undefined;
    to: Placement;
    /** The dyno hosts that answer. */
    alive: string[];
}

export class Rollout {
    constructor(
        private readonly parts: PlacementParts,
        /** R10 at the agent; the rollout gives up a little after. */
        private readonly bootTimeoutMs: number,
    ) {}

    /** Preboot rollout of `release` (Fleet.rollout). */
    async rollout(app: string, release: Release, formation: Formation, log: BuildLog): Promise<void> {
        const alive = await this.parts.agents.requireAlive();
        const targets = await this.targets(alive);
        const saved = await this.parts.placements.get(app);
        const placement = place(formation, targets, saved);
        const previous = await this.parts.store.currentRelease(app);
        const previousFormation = await this.parts.store.getFormation(app);
        const say = (l: string) => log.info(l);
        try {
            const empty = await this.move(app, release, formation, { from: saved, to: placement, alive }, log);
            await this.waitUp(app, release.version, placement, true);
            await this.parts.placements.save(app, placement);
            await this.parts.agents.removeFrom(empty.filter((h) => saved && Object.values(saved).includes(h)), app);
            await this.parts.routers.tellPlacement(app, [placement], say);
        } catch (err) {
            // Put the previous release back: its instances kept serving; the new ones are dropped.
            if (previous && previous.version !== release.version) {
                const back = place(previousFormation, targets, saved ?? place(previousFormation, targets));
                await this.move(app, previous, previousFormation, { from: placement, to: back, alive }).catch(() => undefined);
            } else {
                await this.parts.agents.removeFrom(alive, app).catch(() => undefined);
            }
            throw err instanceof FleetError ? err : new FleetError((err as Error).message);
        }
    }

    /** Start/stop dynos so their count matches `formation` (Fleet.scale); waits (bounded) until they are up. */
    async scale(app: string, release: Release, formation: Formation): Promise<void> {
        const alive = await this.parts.agents.requireAlive();
        const saved = await this.parts.placements.get(app);
        const placement = place(formation, await this.targets(alive), saved);
        const empty = await this.move(app, release, formation, { from: saved, to: placement, alive });
        await this.parts.placements.save(app, placement);
        await this.parts.agents.removeFrom(empty, app);
        await this.parts.routers.tellPlacement(app, [placement]);
        // Heroku answers at once; we wait (bounded) so `ps` right after shows the new dynos up.
        await this.waitUp(app, release.version, placement, false).catch(() => undefined);
    }

    /** The live hosts dynos may go to: the undrained ones; none is an error naming the fix. */
    async targets(alive: string[]): Promise<string[]> {
        const targets = placeable(alive, await this.parts.drained.all());
        if (targets.length === 0) {
            throw new FleetError(`every dyno host that answers is drained (${alive.map(hostLabel).join(", ")}): run "dynoform hosts:undrain HOST" for one of them`);
        }
        return targets;
    }

    /**
     * Moves the app's dynos off drained hosts without a failed request: the replacements start on
     * undrained hosts and pass their boot check (web: registered with every router) before the old
     * ones are stopped (they drain their in-flight requests as in a rollout). The caller holds the
     * app's lock. Returns the dynos moved (none: nothing to do). If a replacement fails to boot, the
     * old dynos keep serving and the placement is put back.
     */
    async evacuate(app: string, log: (line: string) => void = () => undefined): Promise<string[]> {
        const saved = await this.parts.placements.get(app);
        const drained = await this.parts.drained.all();
        if (!saved || onDrained(saved, drained).length === 0) return [];
        const release = await this.parts.store.currentRelease(app);
        if (!release) return [];
        const formation = await this.parts.store.getFormation(app);
        const alive = await this.parts.agents.requireAlive();
        const to = place(formation, placeable(alive, drained), saved);
        const moved = Object.keys(to).filter((d) => to[d] !== saved[d]);
        log(`${app}: moving ${moved.map((d) => `${d} (${hostLabel(saved[d] ?? "")} → ${hostLabel(to[d])})`).join(", ")}`);
        try {
            await this.move(app, release, formation, { from: saved, to, alive });
            await this.waitUp(app, release.version, to, false);
        } catch (err) {
            await this.move(app, release, formation, { from: to, to: saved, alive }).catch(() => undefined);
            const added = alive.filter((h) => Object.values(to).includes(h) && !Object.values(saved).includes(h));
            await this.parts.agents.removeFrom(added, app).catch(() => undefined);
            await this.parts.routers.tellPlacement(app, [saved]).catch(() => undefined);
            throw new FleetError(`${app}: the replacements did not come up, its dynos stay where they were: ${(err as Error).message}`, err instanceof FleetError ? err.tail : []);
        }
        await this.parts.placements.save(app, to);
        const holders = new Set(Object.values(to));
        const left = alive.filter((h) => !holders.has(h) && Object.values(saved).includes(h));
        await this.parts.agents.removeFrom(left, app);
        await this.parts.routers.tellPlacement(app, [to]);
        return moved;
    }

    /**
     * The first step of every change of placement: the hosts of `from` and `to` are cleared of a
     * destroyed app of this name, the routers told of them, then each live host is PUT its share
     * of `to`. Returns the live hosts left without dynos (the caller clears them, then tells the
     * routers only `to`).
     */
    async move(app: string, release: Release, formation: Formation, m: Move, log?: BuildLog): Promise<string[]> {
        const hosts = [...new Set([...Object.values(m.from ?? {}), ...Object.values(m.to)])];
        await this.parts.destroyed.clearOrThrow(app, hosts);
        await this.parts.routers.tellPlacement(app, [m.from, m.to], log && ((l) => log.info(l)));
        const shares = byHost(m.to, m.alive);
        const withDynos = m.alive.filter((h) => shares[h].length > 0);
        await Promise.all(
            withDynos.map(async (h) => {
                log?.info(`${hostLabel(h)}: ${shares[h].join(", ")}`);
                try {
                    await this.parts.agents.put(h, app, release, formation, shares[h]);
                } catch (err) {
                    throw new FleetError(`dyno host ${hostLabel(h)} refused release v${release.version}: ${(err as Error).message}`);
                }
            }),
        );
        return m.alive.filter((h) => shares[h].length === 0);
    }

    /** Poll until every placed dyno of `version` is up (web: registered) and, with `requireDrained`, old instances are gone. */
    async waitUp(app: string, version: number, placement: Placement, requireDrained: boolean): Promise<void> {
        const deadlineMs = this.bootTimeoutMs + UP_GRACE_MS;
        const shares = byHost(placement, [...new Set(Object.values(placement))]);
        const drainUntil = Date.now() + deadlineMs + DRAIN_MS;
        const deadline = Date.now() + deadlineMs;
        for (;;) {
            let allUp = true;
            let drained = true;
            for (const [host, names] of Object.entries(shares)) {
                const status: AgentAppStatus | undefined = await this.parts.agents.status(host, app).catch(() => undefined);
                if (!status) {
                    allUp = false;
                    continue;
                }
                if (status.lastError) throw new FleetError(`dyno host ${hostLabel(host)}: ${status.lastError}`);
                if (status.retiring.length > 0) drained = false;
                for (const name of names) {
                    const d = status.dynos.find((x) => x.name === name);
                    if (!d || d.release !== version) {
                        allUp = false;
                        continue;
                    }
                    const exit = d.lastExit;
                    if (d.state === "crashed" || (d.crashes ?? 0) > 0 || (exit && (exit.reason === "R10" || exit.reason === "crash" || exit.reason === "launch-failed"))) {
                        const tail = await this.parts.agents.logLines(host, app, new URLSearchParams({ lines: "15", dyno: name }), 5000);
                        const why =
                            exit?.reason === "R10"
                                ? `${name} failed to bind to $PORT within ${Math.round(this.bootTimeoutMs / 1000)} seconds of launch (Error R10 Boot timeout)`
                                : exit?.reason === "launch-failed"
                                  ? `${name} could not be launched`
                                  : `${name} crashed at start (exited with status ${exit?.status ?? "?"})`;
                        throw new FleetError(why, tail);
                    }
                    if (d.state !== "up" || (d.type === "web" && !d.registered)) allUp = false;
                }
            }
            if (allUp && (!requireDrained || drained || Date.now() > drainUntil)) return;
            if (!allUp && Date.now() > deadline) {
                throw new FleetError(`dynos of v${version} were not up within ${Math.round(deadlineMs / 1000)} s`);
            }
            await sleep(400);
        }
    }
}
