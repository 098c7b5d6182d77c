// The routers' own counters, read from each router's GET /metrics (Prometheus text, served by its
// control API: packages/router/src/control_api.ts and metrics.ts). Only what the charts draw is
// kept: per app, answered requests by status, the latency histogram, in-flight and queued requests.

/** One app's counters at one router, as that router reported them (counters since it started). */
export interface AppCounters {
    /** status ("200") → requests answered. */
    statuses: Record<string, number>;
    /** The histogram's upper bounds in ms, ascending, Infinity last, and the cumulative counts. */
    bounds: number[];
    cumulative: number[];
    inflight: number;
    queued: number;
}

/** app → counters, from one router. */
export type RouterCounters = Record<string, AppCounters>;

export interface MetricsSource {
    /** router → its counters now; undefined for a router that did not answer. */
    scrape(): Promise<Record<string, RouterCounters | undefined>>;
}

interface Sample {
    name: string;
    labels: Record<string, string>;
    value: number;
}

const LINE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;

function unescapeLabel(v: string): string {
    return v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

function parseLine(line: string): Sample | undefined {
    if (line.startsWith("#")) return undefined;
    const m = LINE.exec(line);
    if (!m) return undefined;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]] = unescapeLabel(l[2]);
    const value = m[3] === "+Inf" ? Infinity : Number(m[3]);
    return Number.isNaN(value) ? undefined : { name: m[1], labels, value };
}

function appOf(out: RouterCounters, app: string): AppCounters {
    return (out[app] ??= { statuses: {}, bounds: [], cumulative: [], inflight: 0, queued: 0 });
}

/** The dynoform_router_* families the charts use; every other line is skipped. */
export function parseRouterMetrics(text: string): RouterCounters {
    const out: RouterCounters = {};
    const buckets = new Map<string, [number, number][]>();
    for (const line of text.split("\n")) {
        const s = parseLine(line);
        const app = s?.labels.app;
        if (!s || app === undefined) continue;
        if (s.name === "dynoform_router_requests_total") {
            const statuses = appOf(out, app).statuses;
            statuses[s.labels.status] = (statuses[s.labels.status] ?? 0) + s.value;
        } else if (s.name === "dynoform_router_request_duration_seconds_bucket") {
            const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le) * 1000;
            buckets.set(app, [...(buckets.get(app) ?? []), [le, s.value]]);
        } else if (s.name === "dynoform_router_dyno_inflight") appOf(out, app).inflight += s.value;
        else if (s.name === "dynoform_router_queue_depth") appOf(out, app).queued += s.value;
    }
    for (const [app, pairs] of buckets) {
        pairs.sort((a, b) => a[0] - b[0]);
        Object.assign(appOf(out, app), { bounds: pairs.map((p) => p[0]), cumulative: pairs.map((p) => p[1]) });
    }
    return out;
}

/** Each router's control API (http://10.0.0.10:8081): its /metrics needs no token. */
export function routerMetricsSource(routerUrls: string[], timeoutMs = 3000): MetricsSource {
    return {
        async scrape() {
            const entries = await Promise.all(
                routerUrls.map(async (url): Promise<[string, RouterCounters | undefined]> => {
                    try {
                        const res = await fetch(new URL("/metrics", url), { signal: AbortSignal.timeout(timeoutMs) });
                        return [url, res.ok ? parseRouterMetrics(await res.text()) : undefined];
                    } catch {
                        return [url, undefined];
                    }
                }),
            );
            return Object.fromEntries(entries);
        },
    };
}
