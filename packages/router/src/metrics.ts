// Prometheus text metrics. Each worker keeps its own counters; the primary asks every worker for a
// snapshot on GET /metrics and merges them.
import type { ErrorCode } from "./error_pages";

export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

export interface MetricsSnapshot {
  /** key: `${app}\t${code}\t${status}` */
  requests: Record<string, number>;
  /** per app: bucket counts (same order as LATENCY_BUCKETS_MS, then +Inf), sum ms, count */
  latency: Record<string, { buckets: number[]; sum: number; count: number }>;
  queueDepth: Record<string, number>;
  /** key: `${app}\t${dyno}` */
  inflight: Record<string, number>;
  quarantined: Record<string, number>;
}

export const emptySnapshot = (): MetricsSnapshot => ({ requests: {}, latency: {}, queueDepth: {}, inflight: {}, quarantined: {} });

export class Metrics {
  private requests = new Map<string, number>();
  private latency = new Map<string, { buckets: number[]; sum: number; count: number }>();

  /** Plain successes (no code) counted per app and status without building a key each time. */
  private plain = new Map<string, Map<number, number>>();

  /** One answered request; `code` is undefined when it was not a failure. */
  observe(app: string, code: ErrorCode | undefined, status: number, ms: number): void {
    if (code === undefined) {
      let byStatus = this.plain.get(app);
      if (!byStatus) this.plain.set(app, (byStatus = new Map()));
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    } else {
      const k = `${app}\t${code}\t${status}`;
      this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
    }
    let h = this.latency.get(app);
    if (!h) { h = { buckets: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0), sum: 0, count: 0 }; this.latency.set(app, h); }
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]) i++;
    h.buckets[i]++;
    h.sum += ms;
    h.count++;
  }

  snapshot(gauges: Pick<MetricsSnapshot, "queueDepth" | "inflight" | "quarantined">): MetricsSnapshot {
    const requests = Object.fromEntries(this.requests);
    for (const [app, byStatus] of this.plain) for (const [status, n] of byStatus) requests[`${app}\t\t${status}`] = n;
    return {
      requests,
      latency: Object.fromEntries([...this.latency].map(([k, v]) => [k, { buckets: [...v.buckets], sum: v.sum, count: v.count }])),
      ...gauges,
    };
  }
}

export function mergeSnapshots(all: MetricsSnapshot[]): MetricsSnapshot {
  const out = emptySnapshot();
  const add = (dst: Record<string, number>, src: Record<string, number>) => {
    for (const [k, v] of Object.entries(src)) dst[k] = (dst[k] ?? 0) + v;
  };
  for (const s of all) {
    add(out.requests, s.requests);
    add(out.queueDepth, s.queueDepth);
    add(out.inflight, s.inflight);
    add(out.quarantined, s.quarantined);
    for (const [app, h] of Object.entries(s.latency)) {
      const d = (out.latency[app] ??= { buckets: new Array(h.buckets.length).fill(0), sum: 0, count: 0 });
      h.buckets.forEach((c, i) => (d.buckets[i] += c));
      d.sum += h.sum;
      d.count += h.count;
    }
  }
  return out;
}

const label = (v: string) => '"' + v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") + '"';

export function renderPrometheus(s: MetricsSnapshot, extra: { apps: number; dynos: number; workers: number; gossipRejected?: Record<string, number> }): string {
  const L: string[] = [];
  L.push("# HELP dynoform_router_requests_total Requests answered, by app, Heroku error code (\"\" = none) and status.");
  L.push("# TYPE dynoform_router_requests_total counter");
  for (const [k, v] of Object.entries(s.requests)) {
    const [app, code, status] = k.split("\t");
    L.push(`dynoform_router_requests_total{app=${label(app)},code=${label(code)},status=${label(status)}} ${v}`);
  }
  L.push("# HELP dynoform_router_request_duration_seconds Time from request arrival to response end.");
  L.push("# TYPE dynoform_router_request_duration_seconds histogram");
  for (const [app, h] of Object.entries(s.latency)) {
    let cum = 0;
    LATENCY_BUCKETS_MS.forEach((b, i) => {
      cum += h.buckets[i];
      L.push(`dynoform_router_request_duration_seconds_bucket{app=${label(app)},le="${b / 1000}"} ${cum}`);
    });
    cum += h.buckets[LATENCY_BUCKETS_MS.length];
    L.push(`dynoform_router_request_duration_seconds_bucket{app=${label(app)},le="+Inf"} ${cum}`);
    L.push(`dynoform_router_request_duration_seconds_sum{app=${label(app)}} ${h.sum / 1000}`);
    L.push(`dynoform_router_request_duration_seconds_count{app=${label(app)}} ${h.count}`);
  }
  L.push("# HELP dynoform_router_queue_depth Requests waiting for a dyno, by app (all workers).");
  L.push("# TYPE dynoform_router_queue_depth gauge");
  for (const [app, v] of Object.entries(s.queueDepth)) L.push(`dynoform_router_queue_depth{app=${label(app)}} ${v}`);
  L.push("# HELP dynoform_router_dyno_inflight Requests in flight to a dyno (all workers).");
  L.push("# TYPE dynoform_router_dyno_inflight gauge");
  for (const [k, v] of Object.entries(s.inflight)) {
    const [app, dyno] = k.split("\t");
    L.push(`dynoform_router_dyno_inflight{app=${label(app)},dyno=${label(dyno)}} ${v}`);
  }
  L.push("# HELP dynoform_router_dyno_quarantined Workers that currently quarantine a dyno after a failed connect.");
  L.push("# TYPE dynoform_router_dyno_quarantined gauge");
  for (const [k, v] of Object.entries(s.quarantined)) {
    const [app, dyno] = k.split("\t");
    L.push(`dynoform_router_dyno_quarantined{app=${label(app)},dyno=${label(dyno)}} ${v}`);
  }
  L.push("# TYPE dynoform_router_apps gauge", `dynoform_router_apps ${extra.apps}`);
  L.push("# TYPE dynoform_router_dynos gauge", `dynoform_router_dynos ${extra.dynos}`);
  L.push("# TYPE dynoform_router_workers gauge", `dynoform_router_workers ${extra.workers}`);
  if (extra.gossipRejected) {
    L.push("# HELP dynoform_router_gossip_rejected_total Load gossip datagrams ignored: forged (bad HMAC), stale (timestamp off by more than the allowed skew), replayed.");
    L.push("# TYPE dynoform_router_gossip_rejected_total counter");
    for (const [reason, n] of Object.entries(extra.gossipRejected)) L.push(`dynoform_router_gossip_rejected_total{reason=${label(reason)}} ${n}`);
  }
  return L.join("\n") + "\n";
}
