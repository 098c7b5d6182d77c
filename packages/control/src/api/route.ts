// One endpoint of the API: its method and path, what the caller needs on the app, what it takes and
// returns (the OpenAPI document is made from these, openapi.ts), and its handler.
import type * as http from "node:http";
import type { Permission, Principal } from "../accounts/principal";
import type { ApiDeps } from "./api_deps";
import type { BuildRegistry } from "./build_registry";
import { paginate, parseRange } from "./range";
import type { UrlSigner } from "./signed_url";

/** A JSON Schema (the OpenAPI 3.0 subset), as written in the route table. */
export type Schema = Record<string, unknown>;

/**
 * Who may call: a Permission on the path's {app}; "signed-in": any valid token (GET /apps, POST
 * /apps); "public": anyone (the OpenAPI document); "signed-url": a URL this server signed (streams).
 */
export type Access = Permission | "signed-in" | "public" | "signed-url";

export interface Reply {
    status: number;
    body?: unknown;
    headers?: Record<string, string>;
}

export interface RouteContext {
    req: http.IncomingMessage;
    res: http.ServerResponse;
    deps: ApiDeps;
    /** Set for every access but "public" and "signed-url". */
    principal: Principal;
    params: Record<string, string>;
    url: URL;
    signer: UrlSigner;
    builds: BuildRegistry;
    /** The body as a JSON object (400 when it is not one). */
    json(): Promise<Record<string, unknown>>;
    /** Records the change (Accounts.audit) as the caller's, on the path's app. */
    audit(action: string, detail: string): Promise<void>;
    /** Where the caller reached this server (https://api.<domain> behind the edge): signed URLs start with it. */
    baseUrl(): string;
}

export interface Route {
    method: "GET" | "POST" | "PATCH" | "DELETE";
    /** e.g. "/apps/{app}/formation/{type}": each {name} matches one path segment. */
    path: string;
    access: Access;
    summary: string;
    /** The JSON body it takes (none: no body). */
    body?: Schema;
    /** What a success answers: its status and schema; `rangeFields` marks a paginated list. */
    response: { status: number; schema?: Schema; rangeFields?: string[]; contentType?: string };
    /** A Reply, or undefined when the handler wrote the response itself (streams). */
    handle(ctx: RouteContext): Promise<Reply | undefined>;
}

/** A list answer: the page the Range header asks for (206 and Next-Range when more follow). */
export function listReply<T>(ctx: RouteContext, items: T[], fields: string[], key: (item: T, field: string) => string | number, shape: (item: T) => unknown): Reply {
    const range = parseRange(header(ctx.req, "range"), fields);
    const { page, nextRange } = paginate(items, range, key);
    return { status: nextRange ? 206 : 200, body: page.map(shape), ...(nextRange ? { headers: { "Next-Range": nextRange } } : {}) };
}

export function header(req: http.IncomingMessage, name: string): string | undefined {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
}
