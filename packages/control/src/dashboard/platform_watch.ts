// What the dashboard watches of the platform, from the control config's fleet: the routers'
// metrics (sampled every 15 s for the charts and the load) and every service's health URL (the
// routers' and agents' control APIs, the log router), none of which needs a token.
import type { RemoteFleetConfig } from "../remote_fleet";
import { MetricsHistory } from "./metrics_history";
import { routerMetricsSource } from "./router_metrics";
import { httpServiceProbes, ServiceProbe, ServiceStatus } from "./service_probes";

export interface PlatformWatch {
    metrics?: MetricsHistory;
    services?: () => Promise<ServiceStatus[]>;
    /** Starts sampling the routers; returns what stops it. */
    start(): () => void;
}

function healthUrl(base: string): string {
    return new URL("/health", base).toString();
}

/** Nothing to watch without a fleet (no dyno hosts configured): the pages say so. */
export function platformWatch(fleet: RemoteFleetConfig | undefined, now: () => Date = () => new Date()): PlatformWatch {
    if (!fleet) return { start: () => () => undefined };
    const metrics = fleet.routers.length > 0 ? new MetricsHistory(routerMetricsSource(fleet.routers), now) : undefined;
    const probes: ServiceProbe[] = [
        ...fleet.routers.map((url) => ({ name: "dynoform-router", url: healthUrl(url) })),
        ...fleet.agents.map((url) => ({ name: "dynoform-agent", url: healthUrl(url) })),
        ...(fleet.logRouterUrl ? [{ name: "dynoform-logplex", url: healthUrl(fleet.logRouterUrl) }] : []),
    ];
    return {
        ...(metrics ? { metrics } : {}),
        services: httpServiceProbes(probes),
        start: () => metrics?.start() ?? (() => undefined),
    };
}
