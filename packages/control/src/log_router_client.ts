// The control role's side of the log router (packages/logplex): an app's recent lines and live
// tail (`logs`), its drains (`drains`, `drains:add`, `drains:remove`), forgetting a destroyed app,
// and the control role's own lines in the app's stream (`app[api]`: releases, config, scaling,
// builds) through a LogSender. Every call uses the control token (control.json logRouterToken).
import type { DrainInfo, LogSource } from "@dynoform/contract";
import { LogSender } from "@dynoform/logplex/sender";
import { apiJson, apiRequest, baseUrl, bodyLines, HttpError } from "./api_request";
import type { LogsOptions } from "./fleet";

export interface LogRouterAccess {
    /** http://<control host's private address>:8093 */
    url: string;
    token: string;
}

/** The log router's query for `logs` (Heroku's -s/-d; "router" and "dynoform" are this platform's older names). */
export function logQuery(opts: LogsOptions): URLSearchParams {
    const q = new URLSearchParams({ num: String(opts.num) });
    if (opts.tail) q.set("tail", "1");
    const source = opts.source === "dynoform" ? "heroku" : opts.source;
    if (source === "router") {
        q.set("source", "heroku");
        q.set("dyno", "router");
    } else if (source) q.set("source", source);
    if (opts.dyno) q.set("dyno", opts.dyno);
    return q;
}

export class LogRouterClient {
    private readonly base: string;
    private sender: LogSender | undefined;

    constructor(private readonly access: LogRouterAccess) {
        this.base = baseUrl(access.url);
    }

    /** Recent lines in time order, then (tail) live ones; `out` may return a promise to pause the stream. */
    async logs(app: string, opts: LogsOptions, out: (line: string) => void | Promise<void>): Promise<void> {
        const p = `/v1/apps/${encodeURIComponent(app)}/logs?${logQuery(opts)}`;
        const res = await apiRequest(this.base, this.access.token, p, { ...(opts.tail ? {} : { timeoutMs: 30_000 }), ...(opts.signal ? { signal: opts.signal } : {}) });
        if (!res.ok) throw new HttpError(res.status, `the log router refused logs: ${res.status} ${await errorOf(res)}`);
        for await (const line of bodyLines(res)) await out(line);
    }

    drains(app: string): Promise<DrainInfo[]> {
        return apiJson<DrainInfo[]>(this.base, this.access.token, `/v1/apps/${encodeURIComponent(app)}/drains`);
    }

    /** The log router tries the drain first: an unreachable one, a bad scheme or certificate is an HttpError 422 saying why. */
    addDrain(app: string, url: string, ca?: string): Promise<DrainInfo> {
        return apiJson<DrainInfo>(this.base, this.access.token, `/v1/apps/${encodeURIComponent(app)}/drains`, { method: "POST", json: { url, ...(ca ? { ca } : {}) }, timeoutMs: 20_000 });
    }

    /** `drain`: its URL or token; HttpError 404 when the app has no such drain. */
    async removeDrain(app: string, drain: string): Promise<void> {
        await apiJson(this.base, this.access.token, `/v1/apps/${encodeURIComponent(app)}/drains?drain=${encodeURIComponent(drain)}`, { method: "DELETE" });
    }

    /** apps:destroy: the app's stored lines and drains go. */
    async forget(app: string): Promise<void> {
        await apiJson(this.base, this.access.token, `/v1/apps/${encodeURIComponent(app)}`, { method: "DELETE" });
    }

    /** One line of the control role in the app's stream (`app[api]: Release v3 created by user x`); never blocks. */
    api(app: string, msg: string, source: LogSource = "app"): void {
        this.sender ??= new LogSender({ url: this.access.url, token: this.access.token, flushMs: 5, onError: () => undefined });
        this.sender.send(app, source, "api", msg);
    }

    /** Waits (at most timeoutMs) until the log router took the lines `api` sent: a CLI run ends right after its verb. */
    async flushed(timeoutMs = 3000): Promise<void> {
        if (!this.sender) return;
        await this.sender.flushed(timeoutMs);
        this.sender.close();
        this.sender = undefined;
    }
}

async function errorOf(res: Response): Promise<string> {
    const text = await res.text();
    try {
        return (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
        return text;
    }
}
