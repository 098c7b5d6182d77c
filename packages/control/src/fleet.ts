// What the control role asks of the machines it drives: the dyno hosts' agents, the edge hosts'
// routers and the data host's add-ons. Verbs and deploys are written against this interface
// (`Fleet`), so they are tested with a fake one; remote_fleet.ts is the real one. ("Platform" is
// the Pulumi component that builds all of it, components/platform: another thing.)
import type { EdgeCaches } from "./cache_purge";
import type { LogRouterClient } from "./log_router_client";
import { BuildLog } from "./build_log";
import { Formation, Release } from "./app_store";
import { AppRouteState } from "./app_route";
import { Databases } from "./databases";

export type DynoStateName = "starting" | "up" | "crashed" | "down" | "idle";

/** One dyno as `ps` shows it. */
export interface DynoStatus {
    /** "web.1", "worker.2", "run.4821", "release.1" */
    name: string;
    type: string;
    state: DynoStateName;
    command: string;
    release: number;
    /** When the dyno entered its state. */
    since: Date;
    size: string;
    host?: string;
}

/** One dyno host as `hosts` shows it. */
export interface HostStatus {
    /** The host's private address (what hosts:drain takes). */
    host: string;
    state: "up" | "down";
    /** When hosts:drain marked it (undefined: not drained). */
    drainedSince?: string;
    /** Dynos placed on it (every app's). */
    dynos: number;
}

export interface OneOffIo {
    stdin?: NodeJS.ReadableStream;
    stdout: (chunk: string | Buffer) => void;
    stderr: (chunk: string | Buffer) => void;
    /** Called once the dyno is up, before any of its output. */
    onStart?: (dyno: string) => void;
}

export interface LogsOptions {
    tail: boolean;
    num: number;
    dyno?: string;
    source?: string;
    /** Ends a tail early: its reader went away (the API's log session). Where it is not honoured, the tail ends at the next line. */
    signal?: AbortSignal;
}

/** The add-ons every app gets (apps:create); `addons:create KIND` makes one for an existing app. */
export const ADDON_KINDS = ["memcache", "postgresql"] as const;
export type AddonKind = (typeof ADDON_KINDS)[number];

export class FleetError extends Error {
    constructor(message: string, readonly tail: string[] = []) {
        super(message);
        this.name = "FleetError";
    }
}

export interface Fleet {
    /** The log router (logs, drains, the control role's own `app[api]` lines); none when control.json names none. */
    readonly logRouter?: LogRouterClient;
    /**
     * Preboot rollout: start `release`'s dynos per `formation`, wait until each is up (web: bound
     * $PORT and registered with every router), then deregister, drain and stop the old ones.
     * On failure (boot timeout, crash at start) stop the new dynos, leave the old serving, and
     * throw FleetError with the reason and the failing dyno's last output lines.
     */
    rollout(app: string, release: Release, formation: Formation, log: BuildLog): Promise<void>;
    /** Start/stop dynos so their count matches `formation`, without restarting the others. */
    scale(app: string, release: Release, formation: Formation): Promise<void>;
    /** Restart all dynos, those of one type ("web"), or one dyno ("web.1"). */
    restart(app: string, target?: string): Promise<void>;
    dynos(app: string): Promise<DynoStatus[]>;
    /** A one-off dyno of `release` (type "run", or "release" for the release phase). */
    runOneOff(app: string, release: Release, command: string, io: OneOffIo, type?: "run" | "release"): Promise<{ dyno: string; exitCode: number }>;
    /** Lines in time order; `out` may return a promise (the caller's output is full) to pause the stream. */
    logs(app: string, opts: LogsOptions, out: (line: string) => void | Promise<void>): Promise<void>;
    /**
     * Create the app's add-ons (its own Memcached, PostgreSQL database + role), or only `kinds`, and
     * return the config vars to set (MEMCACHE_SERVERS/_USERNAME/_PASSWORD, DATABASE_URL).
     */
    provisionAddons(app: string, kinds?: AddonKind[]): Promise<Record<string, string>>;
    deprovisionAddons(app: string): Promise<void>;
    /** Stop every dyno of the app and forget its routes (apps:destroy). */
    stopAll(app: string): Promise<void>;
    /** Every dyno host, whether it answers and is drained, and how many dynos are placed on it. */
    hosts(): Promise<HostStatus[]>;
    /**
     * Marks the dyno host drained (placement gives it no dyno) and moves every app's dynos off it,
     * each replacement up before the dyno it replaces stops; `log` gets a line per app. Idempotent.
     */
    drainHost(host: string, log: (line: string) => void): Promise<{ moved: number; failed: string[] }>;
    /** Removes the drained mark: the host takes dynos again from the next rollout or scale. */
    undrainHost(host: string): Promise<void>;
    /** Tell every router the app's route: its hostnames, maintenance mode and page (app_route.ts). */
    routesChanged(app: string, route: AppRouteState): Promise<void>;
    /** The apps' PostgreSQL backups and credentials (pg:*); undefined without a data host. */
    readonly databases?: Databases;
    /** Every edge's Varnish (cache:purge, the ban after each release); undefined when control.json names none. */
    readonly edgeCaches?: EdgeCaches;
}

/**
 * The fleet of a control config that names no dyno hosts (no agents with tokens, no router token):
 * what needs hosts says so; listing, add-ons, destroying and routes have nothing to do.
 */
export function unconfiguredFleet(): Fleet {
    const no = (what: string) => async (): Promise<never> => {
        throw new FleetError(`${what} is not wired to the dyno hosts yet: the control config (/etc/dynoform/control.json) names no agents with their tokens and no router token`);
    };
    return {
        rollout: no("rollout"),
        scale: no("scaling"),
        restart: no("restart"),
        dynos: async () => [],
        runOneOff: no("run"),
        logs: no("logs"),
        provisionAddons: async () => ({}),
        deprovisionAddons: async () => undefined,
        stopAll: async () => undefined,
        routesChanged: async () => undefined,
        hosts: async () => [],
        drainHost: no("hosts:drain"),
        undrainHost: no("hosts:undrain"),
    };
}
