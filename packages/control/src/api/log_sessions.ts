// POST /apps/{app}/log-sessions answers a logplex_url, as Heroku's: a URL signed by this server,
// valid for a few minutes, that streams the app's lines (recent ones, then live with tail) from the
// log router, or the agents' buffers where there is none (the `logs` verb's two sources).
import type { LogsOptions } from "../fleet";
import { ApiError } from "./api_error";
import type { Route, RouteContext } from "./route";
import { one } from "./shapes";

/** How long a logplex_url may be opened after it is made; a stream opened in time runs on. */
export const LOG_SESSION_TTL_MS = 5 * 60_000;

const SOURCES = ["app", "heroku", "router", "dynoform"];

function logOptions(body: Record<string, unknown>): LogsOptions {
    const { lines, tail, dyno, source } = body;
    if (lines !== undefined && (typeof lines !== "number" || !Number.isInteger(lines) || lines < 1 || lines > 1500)) throw new ApiError("invalid_params", "lines must be a number of lines from 1 to 1500, e.g. 200");
    if (tail !== undefined && typeof tail !== "boolean") throw new ApiError("invalid_params", "tail must be true (keep streaming new lines) or false");
    if (dyno !== undefined && (typeof dyno !== "string" || !/^[\w-]+(\.\d+)?$/.test(dyno))) throw new ApiError("invalid_params", `dyno must be a process type or dyno, e.g. "web" or "web.1"`);
    if (source !== undefined && (typeof source !== "string" || !SOURCES.includes(source))) throw new ApiError("invalid_params", `source must be "app" (your dynos' output) or "heroku" (the platform's lines)`);
    return { num: (lines as number | undefined) ?? 100, tail: tail === true, ...(dyno ? { dyno: dyno as string } : {}), ...(source ? { source: source as string } : {}) };
}

function optionsFromQuery(q: URLSearchParams): LogsOptions {
    return { num: Number(q.get("num") ?? 100), tail: q.get("tail") === "1", ...(q.get("dyno") ? { dyno: q.get("dyno")! } : {}), ...(q.get("source") ? { source: q.get("source")! } : {}) };
}

async function streamLogs(ctx: RouteContext): Promise<undefined> {
    const app = ctx.params.app;
    const opts = optionsFromQuery(ctx.url.searchParams);
    const { fleet } = ctx.deps;
    const read = fleet.logRouter ? fleet.logRouter.logs.bind(fleet.logRouter) : fleet.logs.bind(fleet);
    const { res } = ctx;
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" });
    res.flushHeaders();
    let closed = false;
    const reader = new AbortController();
    res.once("close", () => {
        closed = true;
        reader.abort();
    });
    try {
        await read(app, { ...opts, signal: reader.signal }, async (line) => {
            if (closed) throw new Error("the client went away");
            // A slow reader holds the stream back instead of our memory.
            if (!res.write(line + "\n")) await new Promise((r) => res.once("drain", r));
        });
    } catch (err) {
        if (!closed) res.write(`dynoform: the log stream ended: ${(err as Error).message}\n`);
    }
    res.end();
    return undefined;
}

export const LOG_ROUTES: Route[] = [
    {
        method: "POST",
        path: "/apps/{app}/log-sessions",
        access: "read",
        summary: "A logplex_url streaming the app's log lines (recent ones; with tail, then live ones), valid for 5 minutes.",
        body: { type: "object", properties: { lines: { type: "integer", minimum: 1, maximum: 1500 }, tail: { type: "boolean" }, dyno: { type: "string" }, source: { type: "string", enum: ["app", "heroku"] } } },
        response: { status: 201, schema: one("log_session") },
        async handle(ctx) {
            const opts = logOptions(await ctx.json());
            const q = new URLSearchParams({ num: String(opts.num), ...(opts.tail ? { tail: "1" } : {}), ...(opts.dyno ? { dyno: opts.dyno } : {}), ...(opts.source ? { source: opts.source } : {}) });
            const url = ctx.baseUrl() + ctx.signer.sign(`/log-streams/${ctx.params.app}?${q}`, LOG_SESSION_TTL_MS);
            const now = (ctx.deps.now ?? (() => new Date()))();
            return { status: 201, body: { id: url.slice(-16), logplex_url: url, created_at: now.toISOString() } };
        },
    },
    {
        method: "GET",
        path: "/log-streams/{app}",
        access: "signed-url",
        summary: "The stream a logplex_url names: text/plain lines (no token; the URL is signed).",
        response: { status: 200, contentType: "text/plain" },
        handle: streamLogs,
    },
];
