// Stand-ins for the dyno hosts' agents (and the plumbing of the JSON servers that stand in for
// agents and routers) in the tests that drive the real RemoteFleet over HTTP.
import * as http from "node:http";

/** One request to a jsonServer: its body parsed as JSON (`{}` when empty), and `json` to answer. */
export interface JsonRequest {
    req: http.IncomingMessage;
    res: http.ServerResponse;
    url: string;
    body: Record<string, unknown>;
    json(o: unknown, status?: number): void;
}

/** An HTTP server that reads each request's JSON body before `handle` sees it: RemoteFleet sends
 * agents and routers JSON and reads JSON back. */
export function jsonServer(handle: (r: JsonRequest) => void): http.Server {
    return http.createServer((req, res) => {
        let text = "";
        req.on("data", (d) => (text += d));
        req.on("end", (): void => {
            const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            const json = (o: unknown, status = 200): void => void res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(o));
            handle({ req, res, url: req.url ?? "", body, json });
        });
    });
}

/** Listens on a free port of `host`; the server's base URL. */
export const listen = (s: http.Server, host = "127.0.0.1"): Promise<string> =>
    new Promise<string>((r) => s.listen(0, host, () => r(`http://${host}:${(s.address() as { port: number }).port}`)));

/** Closes the server with its keep-alive connections, which would otherwise hold the close up. */
export const close = (s: http.Server): Promise<void> => {
    s.closeAllConnections();
    return new Promise<void>((r) => s.close(() => r()));
};

/** An agent's answer to GET /v1/apps/<app> with every dyno of the desired state up. */
export function allUp(app: string, release: number, dynos: string[]): Record<string, unknown> {
    const up = dynos.map((name) => ({ name, type: name.split(".")[0], state: "up", release, command: "x", size: "standard-1x", registered: true }));
    return { app, release, dynos: up, retiring: [], lastError: null };
}

export interface Seen {
    method: string;
    url: string;
    body: Record<string, unknown>;
}

export interface AgentApp {
    release: number;
    dynos: string[];
    env: Record<string, string>;
}

/** A dyno host's agent: keeps each app's desired state, reports its dynos up at once and runs every
 * one-off to exit 0; while `down` it answers 503 to everything and records nothing. Each request it
 * records also goes to `journal` (shared with other fakes: the order across hosts), named `name`. */
export class FakeAgent {
    readonly seen: Seen[] = [];
    readonly apps = new Map<string, AgentApp>();
    down = false;
    /** DELETE answers 500 (an app that will not go). */
    failDelete = false;
    constructor(
        readonly name = "agent",
        private readonly journal: string[] = [],
    ) {}
    readonly server = jsonServer(({ req, res, url, body, json }) => {
        if (this.down) return void res.writeHead(503).end();
        this.seen.push({ method: req.method ?? "", url, body });
        this.journal.push(`${this.name} ${req.method} ${url}`);
        const app = /^\/v1\/apps\/([a-z0-9-]+)/.exec(url)?.[1];
        if (url === "/health") return json({ ok: true });
        if (url === "/v1/apps") return json({ apps: [...this.apps.keys()] });
        if (app && req.method === "PUT") {
            this.apps.set(app, { release: body.release as number, dynos: body.dynos as string[], env: body.env as Record<string, string> });
            return json({ app });
        }
        // A one-off needs no desired state on the host.
        if (app && req.method === "POST" && url.endsWith("/run")) {
            res.writeHead(200, { "content-type": "application/x-ndjson" });
            return void res.end('{"dyno":"run.1","state":"up"}\n{"dyno":"run.1","exit":0}\n');
        }
        const a = app ? this.apps.get(app) : undefined;
        if (app && !a) return json({ error: "no such app" }, 404);
        if (app && a && req.method === "DELETE") {
            if (this.failDelete) return json({ error: "could not stop the dynos" }, 500);
            this.apps.delete(app);
            return json({ app, deleted: true });
        }
        if (app && a && req.method === "GET" && url === `/v1/apps/${app}`) return json(allUp(app, a.release, a.dynos));
        json({ error: "not here" }, 404);
    });

    /** The requests for one app, as "METHOD" words, in order. */
    callsFor(app: string): string[] {
        return this.seen.filter((s) => s.url === `/v1/apps/${app}`).map((s) => s.method);
    }
}
