// Every call the control role makes to the edge hosts' routers (dynoform-router's control API), each
// through `request()` with the control role's token, which only it holds.
//
//   GET    /v1/apps                  every app with its route and placement (the placement loop's check)
//   PUT    /v1/apps/:app             the app's route: custom domains, maintenance mode (app_route.ts)
//   PUT    /v1/apps/:app/placement   the dyno hosts that may register the app's dynos
//   DELETE /v1/apps/:app             the app's route and placement (apps:destroy)
//
// A router accepts a dyno host's registration only for an app placed on that host, so every change
// of placement reaches the routers before agents start dynos on a new host (rollout.ts).
import type { AppRouteBody, PlacementBody } from "@dynoform/contract";
import { apiJson, ApiRequest, baseUrl, HttpError, hostLabel } from "./api_request";
import { FleetError } from "./fleet";
import { Placement } from "./placement";
import { routeKey } from "./app_route";

/** One app as one router holds it. */
export interface RouterView {
    placement: string;
    route: string;
}

/** The routers' view of placements: the sorted, distinct host names of the agents in them. */
export function placementHosts(placements: (Placement | undefined)[]): string[] {
    return [...new Set(placements.flatMap((p) => Object.values(p ?? {})).map(hostLabel))].sort();
}

export class RouterClient {
    /** Router control API base URLs (http://10.0.0.10:8081). */
    readonly urls: string[];

    constructor(
        urls: string[],
        private readonly token: string,
    ) {
        this.urls = urls.map(baseUrl);
    }

    /** The one way to a router. */
    private request<T>(router: string, p: string, req: ApiRequest = {}): Promise<T> {
        return apiJson<T>(router, this.token, p, req);
    }

    /**
     * Tells every router which dyno hosts may register the app's dynos: the hosts of `placements`
     * together (before dynos start: the old and the new hosts, since old instances keep renewing
     * until they are replaced; after: only the new). Best effort: a router that does not answer now
     * gets it from the placement loop when it is back (`log` says so).
     */
    async tellPlacement(app: string, placements: (Placement | undefined)[], log?: (line: string) => void): Promise<void> {
        const hosts = placementHosts(placements);
        await Promise.all(
            this.urls.map((r) =>
                this.request(r, `/v1/apps/${app}/placement`, { method: "PUT", json: { hosts } satisfies PlacementBody, timeoutMs: 10_000 }).catch((err) => {
                    log?.(`router ${hostLabel(r)} did not take the placement (it gets it again within seconds): ${(err as Error).message}`);
                }),
            ),
        );
    }

    /**
     * What each router holds of every app: its placement (hosts joined by ",") and its route
     * (routeKey, app_route.ts; "" where the router has no route for it, only dynos or a placement);
     * undefined for a router that does not answer.
     */
    views(): Promise<(Map<string, RouterView> | undefined)[]> {
        return Promise.all(
            this.urls.map((r) =>
                this.request<{ apps: (AppRouteBody & { name: string; configured?: boolean; placement?: string[] })[] }>(r, "/v1/apps", { timeoutMs: 5000 })
                    .then((res) => new Map(res.apps.map((a) => [a.name, { placement: (a.placement ?? []).join(","), route: a.configured === false ? "" : routeKey(a) }])))
                    .catch(() => undefined),
            ),
        );
    }

    /** The app's route (custom domains, maintenance mode), on every router. */
    async setRoute(app: string, route: AppRouteBody): Promise<void> {
        await Promise.all(
            this.urls.map((r) =>
                this.request(r, `/v1/apps/${app}`, { method: "PUT", json: route }).catch((err) => {
                    throw new FleetError(`router ${hostLabel(r)}: ${(err as Error).message}`);
                }),
            ),
        );
    }

    /** The app's route and placement go, on every router (one that never had them has nothing to do). */
    async removeApp(app: string): Promise<void> {
        await Promise.all(
            this.urls.map((r) =>
                this.request(r, `/v1/apps/${app}`, { method: "DELETE" }).catch((err) => {
                    if (!(err instanceof HttpError && err.status === 404)) throw new FleetError((err as Error).message);
                }),
            ),
        );
    }
}
