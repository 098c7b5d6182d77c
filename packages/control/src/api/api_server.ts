// The API's HTTP server (run by `dynoform-control serve` on apiListen, behind the edge's nginx at
// api.<domain>): for each request, the route; the caller (Authorization: Bearer, Accounts); its
// allowance (rate_limit.ts); its permission on the path's app; then the handler. Every failure is
// a JSON error with an id (api_error.ts).
import { createHash, randomUUID } from "node:crypto";
import * as http from "node:http";
import type { Principal } from "../accounts/principal";
import { appNameProblem } from "../app_store";
import type { ApiDeps } from "./api_deps";
import { ApiError, notFoundApp, sendError, sendJson, toApiError } from "./api_error";
import { BuildRegistry } from "./build_registry";
import { RateLimiter } from "./rate_limit";
import { readJsonObject } from "./request_body";
import { header, Route, RouteContext } from "./route";
import { apiRoutes, compileRoutes } from "./routes";
import { UrlSigner } from "./signed_url";

const ANONYMOUS: Principal = { user: "anonymous", admin: false, via: "token" };

function bearer(req: http.IncomingMessage): string {
    const m = /^bearer +(\S+)\s*$/i.exec(header(req, "authorization") ?? "");
    if (!m) throw new ApiError("unauthorized", "Send Authorization: Bearer <token>: make a token with dynoform authorizations:create.");
    return m[1];
}

/** Heroku's media type asks for a version: only 3 is served. Plain JSON or anything else is taken. */
function checkAccept(req: http.IncomingMessage): void {
    const m = /application\/vnd\.heroku\+json\s*;\s*version=([^,;\s]+)/i.exec(header(req, "accept") ?? "");
    if (m && m[1] !== "3") throw new ApiError("not_acceptable", `API version ${m[1]} is not served: send Accept: application/vnd.heroku+json; version=3`);
}

function baseUrlOf(req: http.IncomingMessage): string {
    const proto = header(req, "x-forwarded-proto") ?? ("encrypted" in req.socket ? "https" : "http");
    return `${proto === "https" ? "https" : "http"}://${header(req, "host") ?? "localhost"}`;
}

const FORBIDDEN: Record<string, string> = {
    read: "You do not have access to the app {app}: its owner can grant it with dynoform access:add.",
    operate: "You do not have access to the app {app}: its owner can grant it with dynoform access:add.",
    own: "Only the owner of {app} or an administrator may do this.",
};

interface Server {
    routes: Route[];
    match: ReturnType<typeof compileRoutes>;
    limiter: RateLimiter;
    signer: UrlSigner;
    builds: BuildRegistry;
}

/** The caller, its allowance and its permission on the path's app; undefined for public and signed URLs. */
async function authorize(deps: ApiDeps, s: Server, route: Route, params: Record<string, string>, req: http.IncomingMessage, res: http.ServerResponse): Promise<Principal> {
    if (route.access === "public") return ANONYMOUS;
    if (route.access === "signed-url") {
        if (!s.signer.verify(req.url ?? "")) throw new ApiError("forbidden", "This URL has expired or was not made by this server: ask for a new one (POST /apps/{app}/log-sessions, or GET the build).");
        return ANONYMOUS;
    }
    const token = bearer(req);
    const principal = await deps.accounts.principalForToken(token);
    if (!principal) throw new ApiError("unauthorized", "Invalid credentials provided: the token is unknown, revoked or expired. Make a new one with dynoform authorizations:create.");
    const { allowed, remaining } = s.limiter.take(createHash("sha256").update(token).digest("hex"));
    res.setHeader("RateLimit-Remaining", String(remaining));
    if (!allowed) throw new ApiError("rate_limit", "Your token reached the API rate limit of 4500 requests an hour: wait a few minutes before making new requests.");
    if (route.access === "signed-in" || params.app === undefined) return principal;
    const app = params.app;
    if (appNameProblem(app) || !(await deps.store.getApp(app))) throw notFoundApp(app);
    if (!(await deps.accounts.can(principal, app, route.access))) throw new ApiError("forbidden", FORBIDDEN[route.access].replace("{app}", app));
    return principal;
}

async function handle(deps: ApiDeps, s: Server, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.setHeader("Request-Id", randomUUID());
    const url = new URL(req.url ?? "/", "http://api.invalid");
    const method = req.method ?? "GET";
    const found = s.match(method, url.pathname.replace(/\/+$/, "") || "/");
    if (!found) throw new ApiError("not_found", `There is no ${method} ${url.pathname}: GET /openapi.json lists the endpoints.`);
    if ("allowed" in found) {
        res.setHeader("Allow", found.allowed.join(", "));
        throw new ApiError("method_not_allowed", `${method} is not offered on ${url.pathname}: use ${found.allowed.join(" or ")}.`);
    }
    const { route, params } = found;
    checkAccept(req);
    const principal = await authorize(deps, s, route, params, req, res);
    const ctx: RouteContext = {
        req,
        res,
        deps,
        principal,
        params,
        url,
        signer: s.signer,
        builds: s.builds,
        json: () => readJsonObject(req),
        baseUrl: () => baseUrlOf(req),
        audit: async (action, detail) => {
            await deps.accounts.audit({ user: principal.user, via: principal.via, ...(params.app ? { app: params.app } : {}), action, detail }).catch((err: Error) => deps.log?.(`api: the audit entry "${action} ${detail}" on ${params.app ?? "-"} by ${principal.user} was not recorded: ${err.message}`));
        },
    };
    const reply = await route.handle(ctx);
    if (!reply) return;
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    sendJson(res, reply.status, reply.body ?? null);
}

export interface ApiServer extends http.Server {
    readonly routes: Route[];
}

export function createApiServer(deps: ApiDeps): ApiServer {
    const routes = apiRoutes();
    const s: Server = { routes, match: compileRoutes(routes), limiter: new RateLimiter(deps.requestsPerHour), signer: new UrlSigner(), builds: new BuildRegistry(deps.now) };
    const server = http.createServer((req, res) => {
        if (deps.dashboard && /^dashboard\./i.test(req.headers.host ?? "")) return deps.dashboard(req, res);
        handle(deps, s, req, res).catch((err: unknown) => {
            const apiErr = toApiError(err);
            if (apiErr.status >= 500) deps.log?.(`api: ${req.method} ${req.url?.split("?")[0]}: ${(err as Error).stack ?? err}`);
            sendError(res, apiErr);
            // What the client sent beyond a refused body is not read: the connection ends with this answer.
            if (!req.complete) res.once("finish", () => req.destroy());
        });
    });
    return Object.assign(server, { routes });
}
