// The last hour of the routers' counters, sampled every 15 s in the dashboard's process, and what
// the charts draw from it: requests/s, answers by status class and latency (p50, p95) per app.
// Counters only grow, except when a router restarts: a counter that went down counts from zero.
import type { AppCounters, MetricsSource, RouterCounters } from "./router_metrics";

export const HISTORY_MS = 3600_000;
export const SAMPLE_INTERVAL_MS = 15_000;

export const STATUS_CLASSES = ["2xx", "3xx", "4xx", "5xx"] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** One interval between two samples, for one app, over every router. */
export interface MetricsPoint {
    /** The interval's end (unix ms). */
    at: number;
    rps: number;
    statuses: Record<StatusClass, number>;
    /** Milliseconds; undefined when no request ended in the interval. */
    p50?: number;
    p95?: number;
}

interface Snapshot {
    at: number;
    routers: Record<string, RouterCounters | undefined>;
}

/** The platform's load now, per app: from the newest interval and the routers' gauges. */
export interface AppLoad {
    app: string;
    rps: number;
    inflight: number;
    queued: number;
}

function countOf(statuses: Record<string, number>): number {
    return Object.values(statuses).reduce((a, b) => a + b, 0);
}

function total(c: AppCounters | undefined): number {
    return countOf(c?.statuses ?? {});
}

function statusClass(status: string): StatusClass | undefined {
    const c = `${status.charAt(0)}xx`;
    return (STATUS_CLASSES as readonly string[]).includes(c) ? (c as StatusClass) : undefined;
}

/** Counts in the interval: the difference, or all of `cur` when the router restarted meanwhile. */
function since(prev: AppCounters | undefined, cur: AppCounters | undefined): AppCounters | undefined {
    if (!cur) return undefined;
    if (!prev || total(cur) < total(prev)) return cur;
    const statuses: Record<string, number> = {};
    for (const [s, n] of Object.entries(cur.statuses)) statuses[s] = n - (prev.statuses[s] ?? 0);
    const sameBounds = prev.bounds.length === cur.bounds.length;
    const cumulative = cur.cumulative.map((n, i) => n - (sameBounds ? prev.cumulative[i] : 0));
    return { ...cur, statuses, cumulative };
}

/** The q-quantile of a cumulative histogram, interpolated within its bucket (Prometheus' histogram_quantile). */
export function quantile(q: number, bounds: number[], cumulative: number[]): number | undefined {
    const count = cumulative[cumulative.length - 1] ?? 0;
    if (count <= 0) return undefined;
    const rank = q * count;
    for (let i = 0; i < bounds.length; i++) {
        if (cumulative[i] < rank) continue;
        const lower = i === 0 ? 0 : bounds[i - 1];
        if (bounds[i] === Infinity) return lower;
        const below = i === 0 ? 0 : cumulative[i - 1];
        const inBucket = cumulative[i] - below;
        return inBucket <= 0 ? bounds[i] : lower + ((bounds[i] - lower) * (rank - below)) / inBucket;
    }
    return undefined;
}

function addInto(sum: { statuses: Record<string, number>; bounds: number[]; cumulative: number[] }, d: AppCounters): void {
    for (const [s, n] of Object.entries(d.statuses)) sum.statuses[s] = (sum.statuses[s] ?? 0) + n;
    if (sum.bounds.length === 0) sum.bounds = [...d.bounds];
    if (sum.bounds.length === d.bounds.length) d.cumulative.forEach((n, i) => (sum.cumulative[i] = (sum.cumulative[i] ?? 0) + n));
}

export class MetricsHistory {
    private snapshots: Snapshot[] = [];

    constructor(
        private readonly source: MetricsSource,
        private readonly now: () => Date = () => new Date(),
    ) {}

    /** Takes one sample of every router; forgets those older than an hour. */
    async sample(): Promise<void> {
        const routers = await this.source.scrape();
        const at = this.now().getTime();
        this.snapshots.push({ at, routers });
        this.snapshots = this.snapshots.filter((s) => s.at >= at - HISTORY_MS - SAMPLE_INTERVAL_MS);
    }

    /** Samples every `intervalMs` until the returned function is called. */
    start(intervalMs = SAMPLE_INTERVAL_MS): () => void {
        const tick = () => void this.sample().catch(() => undefined);
        tick();
        const timer = setInterval(tick, intervalMs);
        timer.unref();
        return () => clearInterval(timer);
    }

    /** The app's last hour, one point per interval between samples. */
    series(app: string): MetricsPoint[] {
        const out: MetricsPoint[] = [];
        for (let i = 1; i < this.snapshots.length; i++) {
            const [prev, cur] = [this.snapshots[i - 1], this.snapshots[i]];
            const sum = { statuses: {} as Record<string, number>, bounds: [] as number[], cumulative: [] as number[] };
            for (const [router, counters] of Object.entries(cur.routers)) {
                const d = since(prev.routers[router]?.[app], counters?.[app]);
                if (d) addInto(sum, d);
            }
            const statuses = { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 };
            for (const [s, n] of Object.entries(sum.statuses)) {
                const c = statusClass(s);
                if (c) statuses[c] += n;
            }
            const seconds = Math.max(1, (cur.at - prev.at) / 1000);
            const p50 = quantile(0.5, sum.bounds, sum.cumulative);
            const p95 = quantile(0.95, sum.bounds, sum.cumulative);
            out.push({ at: cur.at, rps: countOf(sum.statuses) / seconds, statuses, ...(p50 !== undefined ? { p50 } : {}), ...(p95 !== undefined ? { p95 } : {}) });
        }
        return out;
    }

    /** Every app the routers count, busiest first. */
    load(): AppLoad[] {
        const last = this.snapshots[this.snapshots.length - 1];
        if (!last) return [];
        const apps = new Set(Object.values(last.routers).flatMap((r) => Object.keys(r ?? {})));
        return [...apps]
            .map((app) => {
                const counters = Object.values(last.routers).map((r) => r?.[app]);
                const point = this.series(app).at(-1);
                return { app, rps: point?.rps ?? 0, inflight: counters.reduce((a, c) => a + (c?.inflight ?? 0), 0), queued: counters.reduce((a, c) => a + (c?.queued ?? 0), 0) };
            })
            .sort((a, b) => b.rps - a.rps || a.app.localeCompare(b.app));
    }

    /** Routers that answered the newest sample, and those that did not. */
    routers(): { url: string; answered: boolean }[] {
        const last = this.snapshots[this.snapshots.length - 1];
        return Object.entries(last?.routers ?? {}).map(([url, c]) => ({ url, answered: c !== undefined }));
    }
}
