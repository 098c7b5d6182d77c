// Banning an app's cached pages in every edge's Varnish (templates/varnish/default.vcl's
// dynoform_ban): after each release that becomes current (releases.ts) and by hand (cache:purge).
// Varnish keeps each object under the Host it was asked for, so a ban goes once per hostname of the
// app (its <app>.<domain> and its custom domains), to every edge at once. An edge that does not
// answer is named in the result, never thrown: a release is out whether or not a cache heard of it.
import * as http from "node:http";
import { Domain } from "./app_store";

/** The app's config var that turns the ban after each release off (Heroku's style: DYNOFORM_CACHE_PURGE_ON_RELEASE=false). */
export const CACHE_PURGE_ON_RELEASE = "DYNOFORM_CACHE_PURGE_ON_RELEASE";
/** The VCL compares it with the token rendered into the VCL file. */
export const PURGE_TOKEN_HEADER = "X-Dynoform-Purge-Token";
/** Only the objects of this URL path (every query string of it); none: every object of the Host. */
export const PURGE_PATH_HEADER = "X-Dynoform-Purge-Path";

const TIMEOUT_MS = 5000;

export interface EdgeCacheFailure {
    /** The edge's Varnish as control reaches it (address:port). */
    edge: string;
    reason: string;
}

export interface EdgeCaches {
    /** Bans the objects cached for `hostnames` (only `path`'s, when given) on every edge; returns the edges that could not. */
    purge(hostnames: string[], path?: string): Promise<EdgeCacheFailure[]>;
}

/** Whether a release bans the app's cached pages: on unless the config var says false (or 0, off, no). */
export function purgeOnRelease(config: Record<string, string>): boolean {
    const value = config[CACHE_PURGE_ON_RELEASE];
    return value === undefined || !/^(false|0|off|no)$/i.test(value.trim());
}

/** Why `path` cannot be purged (undefined: it can). It goes into Varnish's ban expression as one word. */
export function purgePathProblem(path: string): string | undefined {
    if (/^\/[^\s"\\?#]*$/.test(path)) return undefined;
    return `${JSON.stringify(path)} is not a URL path: give one such as /about (it starts with /, without a query string: every query string of the path is purged)`;
}

/** The hostnames Varnish stores the app's pages under. */
export function cacheHostnames(domains: Domain[]): string[] {
    return domains.map((d) => d.hostname);
}

/** The warning a release prints for an edge that kept its cache. */
export function purgeFailureWarning(f: EdgeCacheFailure, app: string): string {
    return `Warning: the cache of edge ${f.edge} could not be purged (${f.reason}): it may serve ${app}'s old pages until they expire; run "dynoform cache:purge -a ${app}" once the edge is back`;
}

/** One BAN for one hostname to one Varnish; resolves when Varnish said 200. */
function ban(baseUrl: string, token: string, hostname: string, path: string | undefined, timeoutMs: number): Promise<void> {
    const url = new URL(baseUrl);
    const headers: Record<string, string> = { Host: hostname, [PURGE_TOKEN_HEADER]: token, "Content-Length": "0" };
    if (path !== undefined) headers[PURGE_PATH_HEADER] = path;
    return new Promise((resolve, reject) => {
        const req = http.request({ host: url.hostname, port: url.port || 80, method: "BAN", path: "/", headers, timeout: timeoutMs }, (res) => {
            res.resume();
            res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`Varnish answered ${res.statusCode} ${res.statusMessage ?? ""}`.trim()))));
        });
        req.on("timeout", () => req.destroy(new Error(`no answer in ${timeoutMs / 1000} s`)));
        req.on("error", reject);
        req.end();
    });
}

/** The edges' Varnishes as control.json lists them (http://<private address>:<port>), with the purge token. */
export class VarnishEdgeCaches implements EdgeCaches {
    constructor(
        private readonly urls: string[],
        private readonly token: string,
        private readonly timeoutMs = TIMEOUT_MS,
    ) {}

    async purge(hostnames: string[], path?: string): Promise<EdgeCacheFailure[]> {
        const outcomes = await Promise.all(
            this.urls.map(async (url): Promise<EdgeCacheFailure | undefined> => {
                try {
                    for (const hostname of hostnames) await ban(url, this.token, hostname, path, this.timeoutMs);
                    return undefined;
                } catch (err) {
                    return { edge: new URL(url).host, reason: (err as Error).message };
                }
            }),
        );
        return outcomes.filter((o): o is EdgeCacheFailure => o !== undefined);
    }
}
