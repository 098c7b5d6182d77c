// The route table: every endpoint of the API, the one list the server dispatches on and the
// OpenAPI document is made from.
import { ApiError } from "./api_error";
import { APP_ROUTES } from "./app_routes";
import { buildRoutes } from "./builds";
import { LOG_ROUTES } from "./log_sessions";
import { openApiDocument } from "./openapi";
import type { Route } from "./route";

export const API_VERSION = "3";

function openApiRoute(all: () => Route[]): Route {
    return {
        method: "GET",
        path: "/openapi.json",
        access: "public",
        summary: "This document.",
        response: { status: 200, schema: { type: "object" } },
        async handle() {
            return { status: 200, body: openApiDocument(all(), API_VERSION) };
        },
    };
}

export function apiRoutes(): Route[] {
    const routes: Route[] = [...APP_ROUTES, ...LOG_ROUTES, ...buildRoutes()];
    routes.push(openApiRoute(() => routes));
    return routes;
}

function decodeSegment(v: string): string {
    try {
        return decodeURIComponent(v);
    } catch {
        throw new ApiError("bad_request", `The path segment "${v}" is not valid percent-encoding: encode it with encodeURIComponent.`);
    }
}

export interface RouteMatch {
    route: Route;
    params: Record<string, string>;
}

/** Each route's path as a pattern: {name} is one segment, percent-decoded. */
export function compileRoutes(routes: Route[]): (method: string, pathname: string) => RouteMatch | { allowed: string[] } | undefined {
    const compiled = routes.map((route) => ({ route, re: new RegExp(`^${route.path.replace(/\{(\w+)\}/g, "(?<$1>[^/]+)")}$`) }));
    return (method, pathname) => {
        const allowed: string[] = [];
        for (const { route, re } of compiled) {
            const m = re.exec(pathname);
            if (!m) continue;
            if (route.method !== method) {
                allowed.push(route.method);
                continue;
            }
            const params: Record<string, string> = {};
            for (const [k, v] of Object.entries(m.groups ?? {})) params[k] = decodeSegment(v);
            return { route, params };
        }
        return allowed.length ? { allowed } : undefined;
    };
}
