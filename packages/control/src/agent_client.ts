// Every call the control role makes to the dyno hosts' agents (dynoform-agent's control API), each
// through `request()` with that agent's own token: one agent's token drives no other. What an agent
// is sent of a release (desired state, a one-off) is made here too, slug URL and token included.
//
//   GET    /health                              alive?
//   GET    /v1/apps                             the apps the agent runs
//   GET    /v1/apps/:app                        their dynos' status
//   PUT    /v1/apps/:app                        desired state
//   DELETE /v1/apps/:app                        stop and forget the app
//   POST   /v1/apps/:app/restart                restart dynos
//   GET    /v1/apps/:app/logs                   log lines (tail=1: a stream)
//   POST   /v1/apps/:app/run                    a one-off dyno; NDJSON events until it exits
//   POST   /v1/apps/:app/run/:dyno/stdin        the one-off's stdin, streamed
import type { AppStatus as AgentAppStatus, DesiredState, OneOffEvent, OneOffRequest, SlugRef } from "@dynoform/contract";
import { Formation, Release } from "./app_store";
import { apiJson, apiRequest, ApiRequest, baseUrl, bodyLines, HttpError, hostLabel } from "./api_request";
import { DynoStateName, DynoStatus, FleetError, OneOffIo } from "./fleet";
import { agentSlugRef, SlugAccess } from "./slug_access";

export type { AgentAppStatus };

export interface AgentCredentials {
    /** Agent control API base URLs (http://10.0.0.21:5100). */
    agents: string[];
    /** Each agent's own token, by its URL: one agent's token does not drive another. */
    agentTokens?: Record<string, string>;
    /** One token for every agent without an entry in agentTokens (single-host setups, tests). */
    agentToken?: string;
}

export class AgentClient {
    /** The configured agents' base URLs, in config order. */
    readonly urls: string[];
    private readonly tokens: Map<string, string>;

    constructor(
        cfg: AgentCredentials,
        private readonly slugs: SlugAccess,
    ) {
        this.urls = cfg.agents.map(baseUrl);
        const own = new Map(Object.entries(cfg.agentTokens ?? {}).map(([url, token]) => [baseUrl(url), token]));
        this.tokens = new Map(this.urls.map((url) => [url, own.get(url) ?? cfg.agentToken ?? ""]));
        for (const url of this.urls) {
            if (!this.tokens.get(url)) throw new Error(`control config: no token for agent ${url} (agentTokens)`);
        }
    }

    /** The one way to an agent: its URL, its own token. */
    private request(agent: string, p: string, req: ApiRequest = {}): Promise<Response> {
        return apiRequest(agent, this.tokens.get(agent) ?? "", p, req);
    }

    private json<T>(agent: string, p: string, req: ApiRequest = {}): Promise<T> {
        return apiJson<T>(agent, this.tokens.get(agent) ?? "", p, req);
    }

    /** Those of `agents` that answer /health within 2 s (tried twice), in their order. */
    async alive(agents: string[] = this.urls): Promise<string[]> {
        const ok = await Promise.all(
            agents.map(async (url) => {
                for (let i = 0; i < 2; i++) {
                    const res = await this.request(url, "/health", { timeoutMs: 2000 }).catch(() => undefined);
                    if (res?.ok) return true;
                }
                return false;
            }),
        );
        return agents.filter((_, i) => ok[i]);
    }

    /** `alive()` of every configured agent, where none answering is an error: dynos would have nowhere to go. */
    async requireAlive(): Promise<string[]> {
        const alive = await this.alive();
        if (alive.length === 0) throw new FleetError("no dyno host answers: check dynoform-agent on the dyno hosts");
        return alive;
    }

    /** The apps the agent runs; none when it does not say. */
    async apps(agent: string): Promise<Set<string>> {
        const res = await this.json<{ apps: string[] }>(agent, "/v1/apps", { timeoutMs: 5000 }).catch(() => undefined);
        return new Set(res?.apps ?? []);
    }

    /** The app's dynos there; undefined where the agent does not run the app. */
    async status(agent: string, app: string): Promise<AgentAppStatus | undefined> {
        try {
            return await this.json<AgentAppStatus>(agent, `/v1/apps/${app}`, { timeoutMs: 5000 });
        } catch (err) {
            if (err instanceof HttpError && err.status === 404) return undefined;
            throw err;
        }
    }

    /** The app's dynos there, as `ps` shows them; none when the agent does not answer or run it. */
    async dynos(agent: string, app: string): Promise<DynoStatus[]> {
        const status = await this.status(agent, app).catch(() => undefined);
        if (!status) return [];
        const host = hostLabel(agent);
        const dynos = status.dynos.map((d): DynoStatus => {
            const state: DynoStateName = (["starting", "up", "crashed", "down"] as const).includes(d.state as "up") ? (d.state as DynoStateName) : d.state === "stopping" ? "down" : "idle";
            return { name: d.name, type: d.type, state, command: d.command, release: d.release, since: new Date(d.upAt ?? d.startedAt ?? Date.now()), size: d.size, host };
        });
        const oneOffs = (status.oneOffs ?? []).map((o): DynoStatus => ({ name: o.name, type: "run", state: "up", command: o.command, release: status.release, since: new Date(o.startedAt), size: "standard-1x", host }));
        return [...dynos, ...oneOffs];
    }

    /** Desired state: `release`'s dynos `dynos` (none: the app is declared, for its one-offs). */
    async put(agent: string, app: string, release: Release, formation: Formation, dynos: string[]): Promise<void> {
        const processTypes = Object.fromEntries(Object.entries(release.processTypes).filter(([t]) => t !== "release"));
        const size = Object.fromEntries(Object.entries(formation).map(([t, f]) => [t, f.size]));
        const desired: DesiredState = { release: release.version, slug: this.slug(app, release), env: release.config, processTypes, dynos, size };
        await this.json(agent, `/v1/apps/${app}`, { method: "PUT", json: desired, timeoutMs: 120_000 });
    }

    /** The app stops and is forgotten there; an agent that does not run it has nothing to do. */
    async remove(agent: string, app: string): Promise<void> {
        try {
            await this.json(agent, `/v1/apps/${app}`, { method: "DELETE", timeoutMs: 60_000 });
        } catch (err) {
            if (!(err instanceof HttpError && err.status === 404)) throw err;
        }
    }

    /** `remove` on each of `agents` at once; the first failure rejects at once (the other DELETEs go on). */
    async removeFrom(agents: string[], app: string): Promise<void> {
        await Promise.all(agents.map((h) => this.remove(h, app)));
    }

    /** Restart all of the app's dynos there, those of a type, or one; an agent that does not run it has nothing to do. */
    async restart(agent: string, app: string, target?: string): Promise<void> {
        try {
            await this.json(agent, `/v1/apps/${app}/restart`, { method: "POST", json: target ? { dyno: target } : {}, timeoutMs: 120_000 });
        } catch (err) {
            if (!(err instanceof HttpError && err.status === 404)) throw new FleetError((err as Error).message);
        }
    }

    /** The app's last log lines there (of one dyno with `dyno` in `query`); none from an agent that does not give them. */
    async logLines(agent: string, app: string, query: URLSearchParams, timeoutMs: number): Promise<string[]> {
        try {
            const res = await this.request(agent, `/v1/apps/${app}/logs?${query}`, { timeoutMs });
            if (!res.ok) return [];
            return (await res.text()).split("\n").filter((l) => l.trim() !== "");
        } catch {
            return []; // a silent host has no lines to give
        }
    }

    /** The app's log stream there, each line to `out` (awaited: no more is read until it settles), until it ends. */
    async tailLogs(agent: string, app: string, query: URLSearchParams, out: (line: string) => void | Promise<void>): Promise<void> {
        try {
            const res = await this.request(agent, `/v1/apps/${app}/logs?${query}`);
            if (!res.ok) return;
            for await (const l of bodyLines(res)) await out(l);
        } catch {
            /* host went away */
        }
    }

    /**
     * A one-off dyno of `release` there: its output to `io` as it comes, `io.stdin` streamed to it
     * once it is up, until it exits. The release phase's runs for up to 15 minutes.
     */
    async runOneOff(agent: string, app: string, release: Release, command: string, io: OneOffIo, type: "run" | "release"): Promise<{ dyno: string; exitCode: number }> {
        const where = hostLabel(agent);
        const body: OneOffRequest = { command, env: release.config, slug: this.slug(app, release), stdin: !!io.stdin, ...(type === "release" ? { timeoutMs: 15 * 60_000 } : {}) };
        let res: Response;
        try {
            res = await this.request(agent, `/v1/apps/${app}/run`, { method: "POST", json: body });
        } catch (err) {
            throw new FleetError(`one-off dyno on ${where}: ${(err as Error).message}`);
        }
        if (!res.ok || !res.body) throw new FleetError(`one-off dyno on ${where}: ${res.status} ${await res.text()}`);
        let dyno: string = type;
        let exitCode: number | undefined;
        let stdin: { stop(): void } | undefined;
        try {
            for await (const line of bodyLines(res)) {
                if (!line.trim()) continue;
                const e = JSON.parse(line) as OneOffEvent;
                if ("state" in e) {
                    dyno = e.dyno;
                    io.onStart?.(e.dyno);
                    if (io.stdin) stdin = this.attachStdin(agent, `/v1/apps/${app}/run/${encodeURIComponent(e.dyno)}/stdin`, io.stdin);
                } else if ("stream" in e) (e.stream === "stdout" ? io.stdout : io.stderr)(e.data);
                else if ("exit" in e) exitCode = e.exit;
            }
        } finally {
            stdin?.stop(); // the process is gone: what is still typed goes nowhere
        }
        if (exitCode === undefined) throw new FleetError(`one-off dyno ${dyno} on ${where}: connection ended without an exit status`);
        return { dyno, exitCode };
    }

    /** Streams `input` to a one-off dyno's stdin until it ends or `stop()`; `input` stays the caller's (paused, not closed). */
    private attachStdin(agent: string, p: string, input: NodeJS.ReadableStream): { stop(): void } {
        const abort = new AbortController();
        const body = streamOf(input);
        this.request(agent, p, { method: "POST", stream: body.stream, signal: abort.signal })
            .then((res) => res.body?.cancel())
            .catch(() => body.detach()); // the dyno ended first: nothing more to deliver
        return {
            stop() {
                body.detach();
                abort.abort();
            },
        };
    }

    /** Where and with which token an agent fetches the release's slug: made now, from (app, sha256), for old releases too. */
    private slug(app: string, release: Release): SlugRef {
        return agentSlugRef(this.slugs, app, release.slug);
    }
}

/**
 * `input` as a request body, read only as fast as the request takes it. `detach()` (or the request
 * giving up on it) lets go of `input` and pauses it; it is never closed here.
 */
function streamOf(input: NodeJS.ReadableStream): { stream: ReadableStream<Uint8Array>; detach(): void } {
    let detach = (): void => undefined;
    const stream = new ReadableStream<Uint8Array>({
        start(controller) {
            const onData = (d: string | Buffer) => {
                controller.enqueue(typeof d === "string" ? Buffer.from(d) : d);
                if ((controller.desiredSize ?? 0) <= 0) input.pause();
            };
            const onEnd = () => {
                detach();
                controller.close();
            };
            const onError = (err: Error) => {
                detach();
                controller.error(err);
            };
            detach = () => {
                input.off("data", onData).off("end", onEnd).off("error", onError);
                input.pause();
            };
            if ((input as { readableEnded?: boolean }).readableEnded) return controller.close();
            input.on("data", onData).on("end", onEnd).on("error", onError);
        },
        pull() {
            input.resume();
        },
        cancel() {
            detach();
        },
    });
    return { stream, detach: () => detach() };
}
