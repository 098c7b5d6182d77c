// Placement: which dyno host runs which dyno. Pure functions (unit-tested).
//
// - Dynos of one process type spread across the live hosts (at most ceil(n / hosts) per host).
// - Sticky: a dyno stays where it is while its host is alive and under that cap, so scaling and
//   rollouts do not move dynos needlessly (a rollout replaces each dyno in place, preboot style).
// - Dynos on a host that is not alive are placed on the live hosts with the fewest dynos.
// - A drained host (hosts:drain) is not placeable: it gets no dyno, and its dynos are placed elsewhere.
import { Formation } from "./app_store";

/** dyno name ("web.1") → host key (the agent URL). */
export type Placement = Record<string, string>;

export function place(formation: Formation, alive: string[], current: Placement = {}): Placement {
    const next: Placement = {};
    if (alive.length === 0) return next;
    const total = new Map(alive.map((h) => [h, 0]));
    for (const [type, f] of Object.entries(formation)) {
        if (type === "release" || f.quantity <= 0) continue;
        const cap = Math.ceil(f.quantity / alive.length);
        const perHost = new Map(alive.map((h) => [h, 0]));
        const names = Array.from({ length: f.quantity }, (_, i) => `${type}.${i + 1}`);
        const unplaced: string[] = [];
        for (const name of names) {
            const host = current[name];
            if (host !== undefined && perHost.has(host) && (perHost.get(host) ?? 0) < cap) {
                next[name] = host;
                perHost.set(host, (perHost.get(host) ?? 0) + 1);
                total.set(host, (total.get(host) ?? 0) + 1);
            } else {
                unplaced.push(name);
            }
        }
        for (const name of unplaced) {
            const host = [...alive].sort((a, b) => (perHost.get(a)! - perHost.get(b)!) || (total.get(a)! - total.get(b)!) || alive.indexOf(a) - alive.indexOf(b))[0];
            next[name] = host;
            perHost.set(host, perHost.get(host)! + 1);
            total.set(host, total.get(host)! + 1);
        }
    }
    return next;
}

/** The live hosts dynos may be placed on: those not drained, in their order. */
export function placeable(alive: string[], drained: ReadonlySet<string>): string[] {
    return alive.filter((h) => !drained.has(h));
}

/** The dynos of `placement` on a drained host. */
export function onDrained(placement: Placement, drained: ReadonlySet<string>): string[] {
    return Object.keys(placement).filter((d) => drained.has(placement[d]));
}

/** host → its dyno names, for every host in `hosts` (empty lists included). */
export function byHost(placement: Placement, hosts: string[]): Record<string, string[]> {
    const out: Record<string, string[]> = Object.fromEntries(hosts.map((h) => [h, [] as string[]]));
    for (const [dyno, host] of Object.entries(placement)) (out[host] ??= []).push(dyno);
    for (const list of Object.values(out)) list.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    return out;
}

export function samePlacement(a: Placement, b: Placement): boolean {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}
