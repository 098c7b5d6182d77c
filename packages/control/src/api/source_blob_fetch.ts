// Fetching a build's source_blob.url from the control host without letting the URL reach inside
// (public_addresses.ts says what inside is). Each hop is checked before anything connects: http or
// https only, no user name or password, the host resolved once and every address it gave checked;
// the connection then goes only to the checked addresses (the request's lookup answers with them,
// never asking DNS again), so a name that resolves elsewhere the second time (DNS rebinding) cannot
// lead it inside. Redirects are followed by hand, each hop checked the same way, at most
// MAX_REDIRECTS; the whole fetch has one deadline and one size limit.
import dns from "node:dns";
import * as http from "node:http";
import * as https from "node:https";
import net from "node:net";
import { PublicAddresses } from "./public_addresses";
import { saveLimited, tooLarge } from "./save_limited";

export const MAX_REDIRECTS = 5;
const REDIRECTS = [301, 302, 303, 307, 308];

export interface ResolvedAddress {
    address: string;
    family: number;
}
/** Every address of a host name (dns.lookup's, /etc/hosts included). */
export type Resolve = (host: string) => Promise<ResolvedAddress[]>;

export interface SourcePolicy {
    addresses: PublicAddresses;
    /** Default: the system's resolver (getaddrinfo). */
    resolve?: Resolve;
}

export const PUBLIC_ONLY: SourcePolicy = { addresses: new PublicAddresses() };

const systemResolve: Resolve = (host) => dns.promises.lookup(host, { all: true, verbatim: true });

/** A URL refused by the policy: its message says why, for the API's caller. */
export class SourceUrlError extends Error {
    override readonly name = "SourceUrlError";
}

/** A URL that passed the checks, with the only addresses its connection may go to. */
export interface SourceTarget {
    url: URL;
    host: string;
    addresses: ResolvedAddress[];
}

/** What a URL is shown as: no query (a signed URL's signature), no user name or password. */
export function shownUrl(url: URL): string {
    return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Checks `raw` and resolves its host; throws SourceUrlError saying why it may not be fetched. */
export async function checkSourceUrl(raw: string, policy: SourcePolicy): Promise<SourceTarget> {
    let url: URL;
    try {
        url = new URL(raw);
    } catch {
        throw new SourceUrlError(`${JSON.stringify(raw.slice(0, 100))} is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new SourceUrlError(`${url.protocol.slice(0, -1)} URLs are not fetched, only http or https`);
    if (url.username || url.password) throw new SourceUrlError(`the URL holds a user name or password, which would be kept and shown with the build: use a URL whose query carries the access (a signed URL)`);
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const family = net.isIP(host);
    if (family !== 0) {
        const why = policy.addresses.refusal(host);
        if (why) throw new SourceUrlError(why);
        return { url, host, addresses: [{ address: host, family }] };
    }
    let found: ResolvedAddress[];
    try {
        found = await (policy.resolve ?? systemResolve)(host);
    } catch (err) {
        throw new SourceUrlError(`${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check the URL's host name`);
    }
    const addresses = found.filter((a) => policy.addresses.kind(a.address) === undefined);
    if (addresses.length === 0) throw new SourceUrlError(`${host} resolves to ${found.map((a) => `${a.address}, ${policy.addresses.kind(a.address)}`).join("; ") || "no address"}`);
    return { url, host, addresses };
}

/** A GET connected only to `target.addresses` (TLS still checks the certificate against the host name). */
function get(target: SourceTarget, signal: AbortSignal): Promise<http.IncomingMessage> {
    const pinned = target.addresses;
    const lookup = ((_host: string, options: dns.LookupOptions, callback: (err: Error | null, address: string | ResolvedAddress[], family?: number) => void) => {
        if (options.all) callback(null, pinned);
        else callback(null, pinned[0].address, pinned[0].family);
    }) as unknown as net.LookupFunction;
    const client = target.url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
        const req = client.request(target.url, { method: "GET", agent: false, lookup, signal, headers: { "User-Agent": "dynoform-builds", Accept: "*/*" } }, resolve);
        req.on("error", reject);
        req.end();
    });
}

export interface FetchOptions {
    /** Largest tarball, in bytes. */
    limit: number;
    /** For the whole fetch: every hop, and the body. */
    timeoutMs: number;
    policy: SourcePolicy;
}

/** Fetches `raw` into `file` (following redirects, each hop checked); throws saying why it could not. */
export async function fetchSourceBlob(raw: string, file: string, opts: FetchOptions): Promise<void> {
    const signal = AbortSignal.timeout(opts.timeoutMs);
    let url = raw;
    try {
        for (let hop = 0; ; hop++) {
            const target = await checkSourceUrl(url, opts.policy).catch((err: Error) => {
                throw hop === 0 ? err : new SourceUrlError(`${shownUrl(new URL(raw))} redirected to ${safeShown(url)}: ${err.message}`);
            });
            const res = await get(target, signal);
            const location = res.headers.location;
            if (REDIRECTS.includes(res.statusCode ?? 0) && location) {
                res.destroy();
                if (hop === MAX_REDIRECTS) throw new Error(`${shownUrl(new URL(raw))} led through more than ${MAX_REDIRECTS} redirects: give the tarball's own URL`);
                url = nextUrl(location, target.url);
                continue;
            }
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) {
                res.destroy();
                throw new Error(`GET ${shownUrl(target.url)} answered ${status}: check that the URL serves the tarball (signed URLs expire)`);
            }
            if (Number(res.headers["content-length"]) > opts.limit) {
                res.destroy();
                throw tooLarge(opts.limit);
            }
            await saveLimited(res, file, opts.limit);
            return;
        }
    } catch (err) {
        if (signal.aborted) throw new Error(`${shownUrl(new URL(raw))} did not send the tarball within ${opts.timeoutMs / 1000} s: check that it answers, or upload the tarball instead`);
        throw err;
    }
}

/** Where a redirect leads: its Location, relative to the URL that answered it. */
function nextUrl(location: string, from: URL): string {
    try {
        return new URL(location, from).href;
    } catch {
        throw new Error(`${shownUrl(from)} redirected to ${JSON.stringify(location.slice(0, 100))}, which is not a URL: give the tarball's own URL`);
    }
}

/** A redirect's Location as shown: a URL that does not parse is shown cut short. */
function safeShown(url: string): string {
    try {
        return shownUrl(new URL(url));
    } catch {
        return JSON.stringify(url.slice(0, 100));
    }
}
