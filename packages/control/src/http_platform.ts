// The real Platform: dynoform-agent control APIs on the dyno hosts, dynoform-router control APIs
// on the edge hosts, add-ons on the data host: each app's Memcached and PostgreSQL database through
// the data host's `dynoform-addons` forced command (SSH with the add-ons key; passwords on stdin,
// never in argv). See README "Wiring".
//
// Placement (placement.ts) is kept per app in <state>/placement/<app>.json. A rollout PUTs each
// host's desired state (the agent replaces every changed dyno in place, preboot style: the old
// instance serves until the new one is up and registered), polls until every dyno of the new
// release is up and registered and the old instances are gone, and on failure puts the previous
// release back (its dynos never stopped serving). `reconcile()` (run by `dynoform-control serve`)
// moves dynos off dyno hosts that stop answering and clears hosts that come back: of a destroyed
// app (tombstones.ts) at once, of an app the store does not know after `unknownAppGraceMs`, of an
// app placed elsewhere once it is placed.
//
// Routers accept a dyno host's registration only for apps placed on that host: every change of
// placement reaches the routers (PUT /v1/apps/:app/placement) before agents start dynos on a new
// host, and reconcile() sends it again to a router that lost it. Each agent has its own token.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import type { AppStatus as AgentAppStatus, DesiredState, OneOffRequest, SlugRef } from "@dynoform/contract";
import { AppStore, appNameProblem, Domain, Formation, Release } from "./app_store";
import { readJson, writeJsonAtomic } from "./atomic_file";
import { BuildLog } from "./build_log";
import { byHost, Placement, place, samePlacement } from "./placement";
import { ADDON_KINDS, AddonKind, DynoState, DynoStateName, LogsOptions, OneOffIo, Platform, PlatformError } from "./platform";
import { agentSlugRef } from "./slug_access";
import { Tombstones } from "./tombstones";

export interface HttpPlatformConfig {
    /** Agent control API base URLs (http://10.0.0.21:5100). */
    agents: string[];
    /** Each agent's own token, by its URL: one agent's token does not drive another. */
    agentTokens?: Record<string, string>;
    /** One token for every agent without an entry in agentTokens (single-host setups, tests). */
    agentToken?: string;
    /** Router control API base URLs (http://10.0.0.10:8081). */
    routers: string[];
    /** The control role's token on the routers (routes, domains, placements). */
    routerToken: string;
    /** The data host's add-on provisioning (per-app Memcached and PostgreSQL): SSH to its forced command dynoform-addons. */
    addons?: AddonsSshConfig;
    /** Where bare repos live (removed with the app). */
    reposDir?: string;
    /** R10 at the agent is 60 s; the rollout gives up a little after. */
    bootTimeoutMs?: number;
    /** The slug server as agents reach it: <slugBaseUrl>/<app>/<sha256>.tgz (http://10.0.0.1:5080/slugs). */
    slugBaseUrl: string;
    /** Signs each slug's token (slug_access.ts); without it agents get no token and the slug server refuses them. */
    slugSigningKey?: string;
    /** The ssh client (default: ssh on PATH). */
    ssh?: string;
    /**
     * How long an app the store does not know (and no tombstone names) may stay on an agent before
     * the placement loop removes it (default 60 s): an app being created is never on an agent before
     * it is in the store, so this only covers apps destroyed before tombstones and lost state.
     */
    unknownAppGraceMs?: number;
}

export interface AddonsSshConfig {
    /** The data host's private address. */
    host: string;
    port?: number;
    /** root: the key's authorized_keys line there forces dynoform-addons and nothing else. */
    user?: string;
    /** The add-ons private key (root-only file). */
    keyFile: string;
    /** The data host's pinned host key; any other key is refused. */
    knownHostsFile: string;
}

/** The ssh arguments for one dynoform-addons call: key file, pinned host key, no prompts, no user config. */
export function addonsSshArgs(a: AddonsSshConfig, words: string[]): string[] {
    return [
        "-F", "/dev/null",
        "-i", a.keyFile,
        "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes",
        "-o", `UserKnownHostsFile=${a.knownHostsFile}`,
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "ConnectTimeout=10",
        "-p", String(a.port ?? 22),
        "-l", a.user ?? "root",
        a.host,
        ...words,
    ];
}

/** The config vars a dynoform-addons call printed (KEY=value lines); other lines are ignored. */
export function parseAddonVars(stdout: string, keys: string[]): Record<string, string> {
    const vars: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
        const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
        if (m && keys.includes(m[1])) vars[m[1]] = m[2];
    }
    return vars;
}

interface SavedPlacement {
    release: number;
    placement: Placement;
}

class HttpError extends Error {
    constructor(readonly status: number, message: string) {
        super(message);
    }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hostLabel(url: string): string {
    try {
        return new URL(url).hostname;
    } catch {
        return url;
    }
}

export class HttpPlatform implements Platform {
    private readonly bootTimeoutMs: number;
    readonly cfg: HttpPlatformConfig;
    readonly tombstones: Tombstones;
    /** `<agent> <app>` → when the placement loop first saw an app the store does not know there. */
    private readonly unknownSince = new Map<string, number>();

    constructor(readonly store: AppStore, cfg: HttpPlatformConfig) {
        // Base URLs without a trailing slash, once: every request is `${base}${path}`.
        const base = (url: string) => url.replace(/\/+$/, "");
        const agentTokens = Object.fromEntries(Object.entries(cfg.agentTokens ?? {}).map(([url, token]) => [base(url), token]));
        this.cfg = { ...cfg, agents: cfg.agents.map(base), routers: cfg.routers.map(base), agentTokens };
        for (const url of this.cfg.agents) {
            if (!agentTokens[url] && !cfg.agentToken) throw new Error(`control config: no token for agent ${url} (agentTokens)`);
        }
        this.bootTimeoutMs = cfg.bootTimeoutMs ?? 60_000;
        this.tombstones = new Tombstones(path.join(store.root, "tombstones"), store.clock);
    }

    /** The token of the agent at `url` (each dyno host's agent has its own). */
    private agentToken(url: string): string {
        return this.cfg.agentTokens?.[url] ?? this.cfg.agentToken ?? "";
    }

    // ---- HTTP ----

    private async call<T>(base: string, token: string, method: string, p: string, body?: unknown, timeoutMs = 15_000): Promise<T> {
        let res: Response;
        try {
            res = await fetch(base + p, {
                method,
                headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
                ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
                signal: AbortSignal.timeout(timeoutMs),
            });
        } catch (err) {
            throw new HttpError(0, `${method} ${base}${p}: ${(err as Error).message}`);
        }
        const text = await res.text();
        let parsed: unknown = undefined;
        try {
            parsed = text ? JSON.parse(text) : undefined;
        } catch {
            parsed = text;
        }
        if (!res.ok) {
            const msg = (parsed as { error?: string })?.error ?? text;
            throw new HttpError(res.status, `${method} ${hostLabel(base)}${p}: ${res.status} ${msg}`);
        }
        return parsed as T;
    }

    private agent<T>(url: string, method: string, p: string, body?: unknown, timeoutMs?: number): Promise<T> {
        return this.call<T>(url, this.agentToken(url), method, p, body, timeoutMs);
    }

    /** Agents that answer /health within 2 s (tried twice), in config order. */
    aliveAgents(): Promise<string[]> {
        return this.alive(this.cfg.agents);
    }

    private async alive(agents: string[]): Promise<string[]> {
        const ok = await Promise.all(
            agents.map(async (url) => {
                for (let i = 0; i < 2; i++) {
                    try {
                        const res = await fetch(url + "/health", { signal: AbortSignal.timeout(2000) });
                        if (res.ok) return true;
                    } catch {
                        /* retry once */
                    }
                }
                return false;
            }),
        );
        return agents.filter((_, i) => ok[i]);
    }

    private async appStatus(url: string, app: string): Promise<AgentAppStatus | undefined> {
        try {
            return await this.agent<AgentAppStatus>(url, "GET", `/v1/apps/${app}`, undefined, 5000);
        } catch (err) {
            if (err instanceof HttpError && err.status === 404) return undefined;
            throw err;
        }
    }

    // ---- placement state ----

    private placementFile(app: string): string {
        return path.join(this.store.root, "placement", `${app}.json`);
    }

    async savedPlacement(app: string): Promise<SavedPlacement | undefined> {
        return readJson<SavedPlacement>(this.placementFile(app));
    }

    private async savePlacement(app: string, saved: SavedPlacement): Promise<void> {
        await fs.promises.mkdir(path.dirname(this.placementFile(app)), { recursive: true, mode: 0o700 });
        await writeJsonAtomic(this.placementFile(app), saved);
    }

    // ---- desired state ----

    /** Where and with which token an agent fetches the app's slug: made now, from (app, sha256), for old releases too. */
    private agentSlug(app: string, slug: NonNullable<Release["slug"]>): SlugRef {
        return agentSlugRef({ baseUrl: this.cfg.slugBaseUrl, ...(this.cfg.slugSigningKey ? { signingKey: this.cfg.slugSigningKey } : {}) }, app, slug);
    }

    private desiredBody(app: string, release: Release, formation: Formation, dynos: string[]): DesiredState {
        const processTypes = Object.fromEntries(Object.entries(release.processTypes).filter(([t]) => t !== "release"));
        const size = Object.fromEntries(Object.entries(formation).map(([t, f]) => [t, f.size]));
        return {
            release: release.version,
            ...(release.slug ? { slug: this.agentSlug(app, release.slug) } : {}),
            env: release.config,
            processTypes,
            dynos,
            size,
        };
    }

    /**
     * Tells every router which dyno hosts may register the app's dynos: the hosts of `placements`
     * together (before dynos start: the old and the new hosts, since old instances keep renewing
     * until they are replaced; after: only the new). A router accepts a dyno host's registration
     * only for an app placed on that host. Best effort: a router that does not answer now gets it
     * from reconcile() when it is back.
     */
    private async tellRouters(app: string, placements: (Placement | undefined)[], log?: BuildLog): Promise<void> {
        const hosts = [...new Set(placements.flatMap((p) => Object.values(p ?? {})).map(hostLabel))].sort();
        await Promise.all(
            this.cfg.routers.map((r) =>
                this.call(r, this.cfg.routerToken, "PUT", `/v1/apps/${app}/placement`, { hosts }, 10_000).catch((err) => {
                    log?.info(`router ${hostLabel(r)} did not take the placement (it gets it again within seconds): ${(err as Error).message}`);
                }),
            ),
        );
    }

    /** Routers whose placement of an app differs from the saved one (a restarted or new router) get it again. */
    private async syncRouterPlacements(log: (line: string) => void): Promise<void> {
        const known = await Promise.all(
            this.cfg.routers.map((r) =>
                this.call<{ apps: { name: string; placement?: string[] }[] }>(r, this.cfg.routerToken, "GET", "/v1/apps", undefined, 5000)
                    .then((res) => new Map(res.apps.map((a) => [a.name, (a.placement ?? []).join(",")])))
                    .catch(() => undefined),
            ),
        );
        for (const app of await this.store.listApps()) {
            const saved = await this.savedPlacement(app);
            if (!saved) continue;
            const want = [...new Set(Object.values(saved.placement).map(hostLabel))].sort().join(",");
            if (known.every((k) => !k || k.get(app) === want)) continue;
            await this.store
                .withAppLock(app, "placement", async () => this.tellRouters(app, [(await this.savedPlacement(app))?.placement]), { timeoutMs: 500 })
                .catch((err) => log(`${app}: placement not sent to routers: ${(err as Error).message}`));
        }
    }

    /** PUT each live host's share; hosts that hold none of the app's dynos lose it (after, if `later`). */
    private async apply(app: string, release: Release, formation: Formation, placement: Placement, alive: string[], log?: BuildLog): Promise<string[]> {
        const shares = byHost(placement, alive);
        const withDynos = alive.filter((h) => shares[h].length > 0);
        // A host that missed the destroy of an earlier app of this name still runs its dynos: they
        // go before this incarnation's arrive, so the agent never adopts (or replaces in place) them.
        const stale = await this.clearDestroyed(app, withDynos);
        if (stale.length) throw new PlatformError(`a destroyed app named ${app} could not be removed first: ${stale.join("; ")}`);
        await Promise.all(
            withDynos.map(async (h) => {
                log?.info(`${hostLabel(h)}: ${shares[h].join(", ")}`);
                try {
                    await this.agent(h, "PUT", `/v1/apps/${app}`, this.desiredBody(app, release, formation, shares[h]), 120_000);
                } catch (err) {
                    throw new PlatformError(`dyno host ${hostLabel(h)} refused release v${release.version}: ${(err as Error).message}`);
                }
            }),
        );
        return alive.filter((h) => shares[h].length === 0);
    }

    /**
     * DELETE the app on those of `hosts` its tombstone names (they may run a destroyed incarnation)
     * and strike the ones that did off it. Returns the failures, one message per host.
     */
    private async clearDestroyed(app: string, hosts: string[]): Promise<string[]> {
        const pending = await this.tombstones.pending(app);
        const due = hosts.filter((h) => pending.has(h));
        if (due.length === 0) return [];
        const done: string[] = [];
        const failed: string[] = [];
        await Promise.all(
            due.map(async (h) => {
                try {
                    await this.removeFrom(app, [h]);
                    done.push(h);
                } catch (err) {
                    failed.push((err as Error).message);
                }
            }),
        );
        await this.tombstones.clear(app, done);
        return failed;
    }

    /** `alive` without the hosts that may still run a destroyed app of this name (their dynos are not this app's). */
    private async servingHosts(app: string, alive: string[]): Promise<string[]> {
        const pending = await this.tombstones.pending(app);
        return alive.filter((h) => !pending.has(h));
    }

    private async removeFrom(app: string, hosts: string[]): Promise<void> {
        await Promise.all(
            hosts.map(async (h) => {
                try {
                    await this.agent(h, "DELETE", `/v1/apps/${app}`, undefined, 60_000);
                } catch (err) {
                    if (!(err instanceof HttpError && err.status === 404)) throw err;
                }
            }),
        );
    }

    private async lastLines(host: string, app: string, dyno: string, n = 15): Promise<string[]> {
        try {
            const res = await fetch(`${host}/v1/apps/${app}/logs?lines=${n}&dyno=${dyno}`, {
                headers: { authorization: `Bearer ${this.agentToken(host)}` },
                signal: AbortSignal.timeout(5000),
            });
            return (await res.text()).split("\n").filter((l) => l.trim() !== "");
        } catch {
            return [];
        }
    }

    /** Poll until every placed dyno of `version` is up (web: registered) and old instances are gone. */
    private async waitUp(app: string, version: number, placement: Placement, deadlineMs: number, requireDrained: boolean): Promise<void> {
        const shares = byHost(placement, [...new Set(Object.values(placement))]);
        const drainUntil = Date.now() + deadlineMs + 35_000;
        const deadline = Date.now() + deadlineMs;
        let upSince: number | undefined;
        for (;;) {
            let allUp = true;
            let drained = true;
            for (const [host, names] of Object.entries(shares)) {
                let status: AgentAppStatus | undefined;
                try {
                    status = await this.appStatus(host, app);
                } catch {
                    allUp = false;
                    continue;
                }
                if (!status) {
                    allUp = false;
                    continue;
                }
                if (status.lastError) throw new PlatformError(`dyno host ${hostLabel(host)}: ${status.lastError}`);
                if (status.retiring.length > 0) drained = false;
                for (const name of names) {
                    const d = status.dynos.find((x) => x.name === name);
                    if (!d || d.release !== version) {
                        allUp = false;
                        continue;
                    }
                    const exit = d.lastExit;
                    if (d.state === "crashed" || (d.crashes ?? 0) > 0 || (exit && (exit.reason === "R10" || exit.reason === "crash" || exit.reason === "launch-failed"))) {
                        const tail = await this.lastLines(host, app, name);
                        const why =
                            exit?.reason === "R10"
                                ? `${name} failed to bind to $PORT within ${Math.round(this.bootTimeoutMs / 1000)} seconds of launch (Error R10 Boot timeout)`
                                : exit?.reason === "launch-failed"
                                  ? `${name} could not be launched`
                                  : `${name} crashed at start (exited with status ${exit?.status ?? "?"})`;
                        throw new PlatformError(why, tail);
                    }
                    if (d.state !== "up" || (d.type === "web" && !d.registered)) allUp = false;
                }
            }
            if (allUp) {
                upSince ??= Date.now();
                if (!requireDrained || drained || Date.now() > drainUntil) return;
            }
            if (!allUp && Date.now() > deadline) {
                throw new PlatformError(`dynos of v${version} were not up within ${Math.round(deadlineMs / 1000)} s`);
            }
            await sleep(400);
        }
    }

    // ---- Platform ----

    async rollout(app: string, release: Release, formation: Formation, log: BuildLog): Promise<void> {
        const alive = await this.aliveAgents();
        if (alive.length === 0) throw new PlatformError("no dyno host answers: check dynoform-agent on the dyno hosts");
        const saved = await this.savedPlacement(app);
        const placement = place(formation, alive, saved?.placement);
        const previous = await this.store.currentRelease(app);
        const previousFormation = await this.store.getFormation(app);
        try {
            await this.tellRouters(app, [saved?.placement, placement], log);
            const empty = await this.apply(app, release, formation, placement, alive, log);
            await this.waitUp(app, release.version, placement, this.bootTimeoutMs + 15_000, true);
            await this.savePlacement(app, { release: release.version, placement });
            await this.removeFrom(app, empty.filter((h) => saved && Object.values(saved.placement).includes(h)));
            await this.tellRouters(app, [placement], log);
        } catch (err) {
            // Put the previous release back: its instances kept serving; the new ones are dropped.
            if (previous?.slug && previous.version !== release.version) {
                const back = saved?.placement ?? place(previousFormation, alive);
                await this.tellRouters(app, [back, placement]);
                await this.apply(app, previous, previousFormation, place(previousFormation, alive, back), alive).catch(() => undefined);
            } else {
                await this.removeFrom(app, alive).catch(() => undefined);
            }
            throw err instanceof PlatformError ? err : new PlatformError((err as Error).message);
        }
    }

    async scale(app: string, release: Release, formation: Formation): Promise<void> {
        const alive = await this.aliveAgents();
        if (alive.length === 0) throw new PlatformError("no dyno host answers: check dynoform-agent on the dyno hosts");
        const saved = await this.savedPlacement(app);
        const placement = place(formation, alive, saved?.placement);
        await this.tellRouters(app, [saved?.placement, placement]);
        const empty = await this.apply(app, release, formation, placement, alive);
        await this.savePlacement(app, { release: release.version, placement });
        await this.removeFrom(app, empty);
        await this.tellRouters(app, [placement]);
        // Heroku answers at once; we wait (bounded) so `ps` right after shows the new dynos up.
        await this.waitUp(app, release.version, placement, this.bootTimeoutMs + 15_000, false).catch(() => undefined);
    }

    async restart(app: string, target?: string): Promise<void> {
        const alive = await this.servingHosts(app, await this.aliveAgents());
        await Promise.all(
            alive.map(async (h) => {
                try {
                    await this.agent(h, "POST", `/v1/apps/${app}/restart`, target ? { dyno: target } : {}, 120_000);
                } catch (err) {
                    if (!(err instanceof HttpError && err.status === 404)) throw new PlatformError((err as Error).message);
                }
            }),
        );
    }

    async dynos(app: string): Promise<DynoState[]> {
        const alive = await this.servingHosts(app, await this.aliveAgents());
        const out: DynoState[] = [];
        await Promise.all(
            alive.map(async (h) => {
                const status = await this.appStatus(h, app).catch(() => undefined);
                if (!status) return;
                for (const d of status.dynos) {
                    const state: DynoStateName = (["starting", "up", "crashed", "down"] as const).includes(d.state as "up") ? (d.state as DynoStateName) : d.state === "stopping" ? "down" : "idle";
                    out.push({
                        name: d.name,
                        type: d.type,
                        state,
                        command: d.command,
                        release: d.release,
                        since: new Date(d.upAt ?? d.startedAt ?? Date.now()),
                        size: d.size,
                        host: hostLabel(h),
                    });
                }
                for (const o of status.oneOffs ?? []) {
                    out.push({ name: o.name, type: "run", state: "up", command: o.command, release: status.release, since: new Date(o.startedAt), size: "standard-1x", host: hostLabel(h) });
                }
            }),
        );
        return out.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
    }

    async runOneOff(app: string, release: Release, command: string, io: OneOffIo, type: "run" | "release" = "run"): Promise<{ dyno: string; exitCode: number }> {
        if (!release.slug) throw new PlatformError(`${app} has no slug to run`);
        const alive = await this.aliveAgents();
        if (alive.length === 0) throw new PlatformError("no dyno host answers: check dynoform-agent on the dyno hosts");
        const saved = await this.savedPlacement(app);
        const holders = new Set(Object.values(saved?.placement ?? {}));
        const serving = await this.servingHosts(app, alive);
        const pool = serving.length > 0 ? serving : alive;
        const host = pool.find((h) => holders.has(h)) ?? pool[Math.floor(Math.random() * pool.length)];
        const stale = await this.clearDestroyed(app, [host]);
        if (stale.length) throw new PlatformError(`a destroyed app named ${app} could not be removed first: ${stale.join("; ")}`);
        const status = await this.appStatus(host, app).catch(() => undefined);
        if (!status) {
            // The agent runs one-offs for apps it knows: declare the app with no dynos.
            await this.agent(host, "PUT", `/v1/apps/${app}`, this.desiredBody(app, release, {}, []), 120_000).catch((err) => {
                throw new PlatformError(`could not prepare ${app} on ${hostLabel(host)}: ${(err as Error).message}`);
            });
        }
        let res: Response;
        try {
            res = await fetch(`${host}/v1/apps/${app}/run`, {
                method: "POST",
                headers: { authorization: `Bearer ${this.agentToken(host)}`, "content-type": "application/json" },
                body: JSON.stringify({ command, env: release.config, slug: this.agentSlug(app, release.slug), stdin: !!io.stdin, ...(type === "release" ? { timeoutMs: 15 * 60_000 } : {}) } satisfies OneOffRequest),
            });
        } catch (err) {
            throw new PlatformError(`one-off dyno on ${hostLabel(host)}: ${(err as Error).message}`);
        }
        if (!res.ok || !res.body) throw new PlatformError(`one-off dyno on ${hostLabel(host)}: ${res.status} ${await res.text()}`);
        let dyno = type === "release" ? "release" : "run";
        let exitCode: number | undefined;
        let stdin: { stop(): void } | undefined;
        let buf = "";
        const decoder = new TextDecoder();
        const handle = (line: string) => {
            if (!line.trim()) return;
            const m = JSON.parse(line) as { dyno?: string; state?: string; stream?: string; data?: string; exit?: number };
            if (m.state === "up" && m.dyno) {
                dyno = m.dyno;
                io.onStart?.(m.dyno);
                if (io.stdin) stdin = pipeStdin(`${host}/v1/apps/${app}/run/${encodeURIComponent(m.dyno)}/stdin`, this.agentToken(host), io.stdin);
            } else if (m.stream === "stdout") io.stdout(m.data ?? "");
            else if (m.stream === "stderr") io.stderr(m.data ?? "");
            else if (m.exit !== undefined) exitCode = m.exit;
        };
        try {
            for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
                buf += decoder.decode(chunk, { stream: true });
                const lines = buf.split("\n");
                buf = lines.pop() ?? "";
                for (const l of lines) handle(l);
            }
            handle(buf);
        } finally {
            stdin?.stop(); // the process is gone: what is still typed goes nowhere
        }
        if (exitCode === undefined) throw new PlatformError(`one-off dyno ${dyno} on ${hostLabel(host)}: connection ended without an exit status`);
        return { dyno, exitCode };
    }

    /** `out` may return a promise (the caller's output is full): no more is read until it settles. */
    async logs(app: string, opts: LogsOptions, out: (line: string) => void | Promise<void>): Promise<void> {
        const alive = await this.servingHosts(app, await this.aliveAgents());
        const q = new URLSearchParams({ lines: String(opts.num) });
        if (opts.dyno) q.set("dyno", opts.dyno);
        if (opts.source) q.set("source", opts.source === "dynoform" ? "heroku" : opts.source);
        const backlog: string[] = [];
        await Promise.all(
            alive.map(async (h) => {
                try {
                    const res = await fetch(`${h}/v1/apps/${app}/logs?${q}`, { headers: { authorization: `Bearer ${this.agentToken(h)}` }, signal: AbortSignal.timeout(10_000) });
                    if (res.ok) backlog.push(...(await res.text()).split("\n").filter((l) => l !== ""));
                } catch {
                    /* a silent host has no lines to give */
                }
            }),
        );
        backlog.sort();
        for (const l of backlog.slice(-opts.num)) await out(l);
        if (!opts.tail) return;
        q.set("lines", "0");
        q.set("tail", "1");
        await Promise.all(
            alive.map(async (h) => {
                try {
                    const res = await fetch(`${h}/v1/apps/${app}/logs?${q}`, { headers: { authorization: `Bearer ${this.agentToken(h)}` } });
                    if (!res.ok || !res.body) return;
                    let buf = "";
                    const decoder = new TextDecoder();
                    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
                        buf += decoder.decode(chunk, { stream: true });
                        const lines = buf.split("\n");
                        buf = lines.pop() ?? "";
                        for (const l of lines) if (l !== "") await out(l);
                    }
                } catch {
                    /* host went away */
                }
            }),
        );
    }

    /** Runs `file args` with `stdin`; resolves stdout, rejects with `what: <stderr>` on failure. */
    private runChild(what: string, file: string, args: string[], stdin: string): Promise<string> {
        return new Promise((resolve, reject) => {
            const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            child.on("error", (e) => reject(new PlatformError(`${what}: ${e.message}`)));
            child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new PlatformError(`${what}: ${stderr.trim() || `${file} exited with ${code}`}`))));
            child.stdin.on("error", () => undefined); // a child that exits early: its exit code tells
            child.stdin.end(stdin);
        });
    }

    /** A dynoform-addons verb on the data host; secrets go on stdin. */
    private addons(words: string[], stdin = "", what = "Memcached add-on"): Promise<string> {
        const a = this.cfg.addons;
        if (!a) return Promise.reject(new PlatformError("no add-ons host configured"));
        return this.runChild(`${what} (data host ${a.host})`, this.cfg.ssh ?? "ssh", addonsSshArgs(a, words), stdin);
    }

    /**
     * The app's own Memcached and PostgreSQL database (or only `kinds`), made on the data host by
     * dynoform-addons; the passwords are made here and sent on stdin. A failure undoes what was made.
     */
    async provisionAddons(app: string, kinds: readonly AddonKind[] = ADDON_KINDS): Promise<Record<string, string>> {
        if (!this.cfg.addons) return {};
        const vars: Record<string, string> = {};
        const undo: (() => Promise<unknown>)[] = [];
        try {
            if (kinds.includes("memcache")) {
                const memcachePassword = randomBytes(24).toString("hex");
                const memcache = parseAddonVars(await this.addons(["memcache-create", app], `${memcachePassword}\n`), ["MEMCACHE_SERVERS", "MEMCACHE_USERNAME"]);
                undo.push(() => this.addons(["memcache-destroy", app]));
                if (!memcache.MEMCACHE_SERVERS || !memcache.MEMCACHE_USERNAME) throw new PlatformError("Memcached add-on: no MEMCACHE_SERVERS/MEMCACHE_USERNAME from the data host");
                Object.assign(vars, memcache, { MEMCACHE_PASSWORD: memcachePassword });
            }
            if (kinds.includes("postgresql")) {
                const pg = parseAddonVars(await this.addons(["pg-create", app], `${randomBytes(18).toString("hex")}\n`, "PostgreSQL add-on"), ["DATABASE_URL"]);
                undo.push(() => this.addons(["pg-destroy", app], "", "PostgreSQL add-on"));
                if (!pg.DATABASE_URL) throw new PlatformError("PostgreSQL add-on: no DATABASE_URL from the data host");
                vars.DATABASE_URL = pg.DATABASE_URL;
            }
            return vars;
        } catch (err) {
            for (const u of undo.reverse()) await u().catch(() => undefined);
            throw err;
        }
    }

    async deprovisionAddons(app: string): Promise<void> {
        if (!this.cfg.addons) return;
        await this.addons(["memcache-destroy", app]);
        await this.addons(["pg-destroy", app], "", "PostgreSQL add-on");
    }

    /**
     * Every agent may run the app until it says otherwise: the tombstone names them all before any
     * DELETE (a crash midway leaves it whole), and each agent that removed the app is struck off.
     * Hosts that are down or fail stay on it for the placement loop, so the destroy goes on.
     */
    async stopAll(app: string): Promise<void> {
        await this.tombstones.record(app, this.cfg.agents);
        await this.clearDestroyed(app, await this.aliveAgents());
        await Promise.all(
            this.cfg.routers.map((r) =>
                this.call(r, this.cfg.routerToken, "DELETE", `/v1/apps/${app}`).catch((err) => {
                    if (!(err instanceof HttpError && err.status === 404)) throw new PlatformError((err as Error).message);
                }),
            ),
        );
        await fs.promises.rm(this.placementFile(app), { force: true });
        if (this.cfg.reposDir) await fs.promises.rm(path.join(this.cfg.reposDir, `${app}.git`), { recursive: true, force: true });
    }

    async routesChanged(app: string, domains: Domain[]): Promise<void> {
        // apps:create of a destroyed app's name: a host that came back since still runs the old
        // incarnation's dynos, registered under this name. Best effort: the placement loop retries.
        const pending = [...(await this.tombstones.pending(app))].filter((h) => this.cfg.agents.includes(h));
        if (pending.length) await this.clearDestroyed(app, await this.alive(pending));
        const custom = domains.filter((d) => d.kind === "custom").map((d) => d.hostname);
        await Promise.all(
            this.cfg.routers.map((r) =>
                this.call(r, this.cfg.routerToken, "PUT", `/v1/apps/${app}`, { domains: custom }).catch((err) => {
                    throw new PlatformError(`router ${hostLabel(r)}: ${(err as Error).message}`);
                }),
            ),
        );
    }

    /**
     * One pass of the placement loop: remove destroyed apps from the hosts their tombstones name,
     * remove apps the store does not know (after a grace period), and for every app with a deployed
     * release move dynos off hosts that do not answer and clear it from answering hosts that should
     * not run it.
     */
    async reconcile(log: (line: string) => void = () => undefined): Promise<void> {
        const alive = await this.aliveAgents();
        if (alive.length === 0) return;
        const listed = new Map<string, Set<string>>();
        await Promise.all(
            alive.map(async (h) => {
                const res = await this.agent<{ apps: string[] }>(h, "GET", "/v1/apps", undefined, 5000).catch(() => undefined);
                listed.set(h, new Set(res?.apps ?? []));
            }),
        );
        await this.clearTombstones(alive, log);
        // Read after the agents were listed: an app created meanwhile is known here, never "unknown".
        const known = new Set(await this.store.listApps());
        await this.removeUnknown(alive, listed, known, log);
        for (const app of known) {
            const saved = await this.savedPlacement(app);
            if (!saved) continue;
            const stale = alive.filter((h) => listed.get(h)?.has(app) && !Object.values(saved.placement).includes(h));
            const dead = Object.values(saved.placement).some((h) => !alive.includes(h));
            if (!dead && stale.length === 0) continue;
            try {
                await this.store.withAppLock(
                    app,
                    "reschedule",
                    async () => {
                        const release = await this.store.currentRelease(app);
                        if (!release?.slug) return;
                        const formation = await this.store.getFormation(app);
                        const fresh = (await this.savedPlacement(app)) ?? saved;
                        const placement = place(formation, alive, fresh.placement);
                        if (!samePlacement(placement, fresh.placement)) {
                            const moved = Object.keys(placement).filter((d) => placement[d] !== fresh.placement[d]);
                            log(`${app}: moving ${moved.join(", ")} off unreachable hosts`);
                            await this.tellRouters(app, [fresh.placement, placement]);
                            await this.apply(app, release, formation, placement, alive);
                            await this.savePlacement(app, { release: release.version, placement });
                        }
                        const holders = new Set(Object.values(placement));
                        const clear = alive.filter((h) => listed.get(h)?.has(app) && !holders.has(h));
                        if (clear.length) {
                            log(`${app}: clearing ${clear.map(hostLabel).join(", ")}`);
                            await this.removeFrom(app, clear);
                        }
                        await this.tellRouters(app, [placement]);
                    },
                    { timeoutMs: 500 },
                );
            } catch (err) {
                log(`${app}: reschedule skipped: ${(err as Error).message}`);
            }
        }
        await this.syncRouterPlacements(log);
    }

    /** Each tombstone's hosts that answer lose the app; hosts no longer configured are struck off. */
    private async clearTombstones(alive: string[], log: (line: string) => void): Promise<void> {
        for (const app of await this.tombstones.list()) {
            const t = await this.tombstones.get(app);
            if (!t) continue;
            const unconfigured = t.hosts.filter((h) => !this.cfg.agents.includes(h));
            const due = t.hosts.filter((h) => alive.includes(h));
            if (unconfigured.length === 0 && due.length === 0) continue;
            try {
                await this.store.withAppLock(
                    app,
                    "remove destroyed app",
                    async () => {
                        await this.tombstones.clear(app, unconfigured);
                        if (due.length) log(`${app}: removing the destroyed app from ${due.map(hostLabel).join(", ")}`);
                        for (const failure of await this.clearDestroyed(app, due)) log(`${app}: ${failure}`);
                    },
                    { timeoutMs: 500 },
                );
            } catch (err) {
                log(`${app}: removing the destroyed app skipped: ${(err as Error).message}`);
            }
        }
    }

    /**
     * Apps an agent runs that the store does not know and no tombstone names (destroyed before
     * tombstones, or state lost): removed once seen for `unknownAppGraceMs`, after checking again
     * under the app's lock that it was not created meanwhile.
     */
    private async removeUnknown(alive: string[], listed: Map<string, Set<string>>, known: Set<string>, log: (line: string) => void): Promise<void> {
        const grace = this.cfg.unknownAppGraceMs ?? 60_000;
        const now = this.store.clock().getTime();
        const seen = new Set<string>();
        for (const h of alive) {
            for (const app of listed.get(h) ?? []) {
                if (known.has(app) || (await this.tombstones.pending(app)).has(h)) continue;
                const key = `${h} ${app}`;
                seen.add(key);
                const since = this.unknownSince.get(key) ?? now;
                this.unknownSince.set(key, since);
                if (now - since < grace) continue;
                const remove = async () => {
                    if (await this.store.getApp(app)) return; // created since the listing
                    log(`${app}: not an app of this control role: removing it from ${hostLabel(h)}`);
                    await this.removeFrom(app, [h]);
                    this.unknownSince.delete(key);
                };
                try {
                    // A name the store refuses can never be created here, so it needs no lock.
                    if (appNameProblem(app)) await remove();
                    else await this.store.withAppLock(app, "remove unknown app", remove, { timeoutMs: 500 });
                } catch (err) {
                    log(`${app}: removing the unknown app from ${hostLabel(h)} skipped: ${(err as Error).message}`);
                }
            }
        }
        for (const key of [...this.unknownSince.keys()]) if (!seen.has(key)) this.unknownSince.delete(key);
    }
}

/** Streams `input` into a one-off dyno's stdin (the agent's attach endpoint) until it ends or `stop()`. */
function pipeStdin(url: string, token: string, input: NodeJS.ReadableStream): { stop(): void } {
    const req = http.request(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" } });
    req.on("error", () => input.unpipe(req)); // the dyno ended first: nothing more to deliver
    req.on("response", (res) => res.resume());
    input.pipe(req);
    return {
        stop() {
            input.unpipe(req);
            input.pause();
            req.destroy();
        },
    };
}
