// An app's route as the routers take it (the contract's AppRouteBody), made from the control role's
// state: its custom domains, maintenance mode and its MAINTENANCE_PAGE_URL config var. Every change
// of one of them sends the whole route (a router's PUT replaces it), and the placement loop sends
// it again to a router whose route differs (reconcile.ts).
import { pageUrlProblem, type AppRouteBody } from "@dynoform/contract";
import { AppStore, Domain } from "./app_store";

/** Heroku's config var: the page shown (framed) while the app is in maintenance mode. */
export const MAINTENANCE_PAGE_URL = "MAINTENANCE_PAGE_URL";

/** What the routers know of an app beyond its placement. */
export interface AppRouteState {
    domains: Domain[];
    maintenance: boolean;
    /** A MAINTENANCE_PAGE_URL the routers take (one they would refuse is left out: the default page is shown). */
    maintenancePageUrl?: string;
}

/** Why the app's MAINTENANCE_PAGE_URL is not used (undefined: it is, or there is none). */
export function pageUrlWarning(config: Record<string, string>): string | undefined {
    const url = config[MAINTENANCE_PAGE_URL];
    if (url === undefined) return undefined;
    const problem = pageUrlProblem(url);
    return problem && `${problem}: the default maintenance page is shown until it is fixed (dynoform config:set ${MAINTENANCE_PAGE_URL}=...)`;
}

export async function routeState(store: AppStore, app: string): Promise<AppRouteState> {
    const [domains, maintenance, config] = [await store.getDomains(app), await store.getMaintenance(app), await store.getConfig(app)];
    const url = config[MAINTENANCE_PAGE_URL];
    return { domains, maintenance, ...(url !== undefined && !pageUrlProblem(url) ? { maintenancePageUrl: url } : {}) };
}

/** The router's body: custom domains only (the router adds `<app>.<platformDomain>` itself). */
export function routeBody(state: AppRouteState): AppRouteBody {
    return {
        domains: state.domains.filter((d) => d.kind === "custom").map((d) => d.hostname),
        ...(state.maintenance ? { maintenance: true } : {}),
        ...(state.maintenancePageUrl !== undefined ? { maintenancePageUrl: state.maintenancePageUrl } : {}),
    };
}

/** A route as a comparable string: what the router lists and what the state wants are the same route when these are equal. */
export function routeKey(route: { domains?: string[]; maintenance?: boolean; maintenancePageUrl?: string }): string {
    return JSON.stringify([[...(route.domains ?? [])].sort(), route.maintenance === true, route.maintenancePageUrl ?? ""]);
}
