// One HTTP request to a control API of the platform (an agent's, a router's): the caller's bearer
// token, an optional deadline, JSON in and out, and errors that name the call. agent_client.ts and
// router_client.ts make every request through here.
export class HttpError extends Error {
    /** `status` 0: no answer (refused, reset, timed out). */
    constructor(readonly status: number, message: string) {
        super(message);
    }
}

/** The host of a base URL, for messages and for the routers' placements (http://10.0.0.21:5100 → 10.0.0.21). */
export function hostLabel(url: string): string {
    try {
        return new URL(url).hostname;
    } catch {
        return url;
    }
}

/** A base URL without a trailing slash: every request is `${base}${path}`. */
export function baseUrl(url: string): string {
    return url.replace(/\/+$/, "");
}

export interface ApiRequest {
    method?: string;
    /** Sent as JSON. */
    json?: unknown;
    /** Sent as it is read (application/octet-stream). */
    stream?: ReadableStream<Uint8Array>;
    /** No deadline without one: streams (logs --tail, one-off output) last as long as they last. */
    timeoutMs?: number;
    signal?: AbortSignal;
}

/** The response, whatever its status; a request that got none throws HttpError 0. */
export async function apiRequest(base: string, token: string, p: string, req: ApiRequest = {}): Promise<Response> {
    const method = req.method ?? "GET";
    const signals = [req.signal, req.timeoutMs !== undefined ? AbortSignal.timeout(req.timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
    const init: RequestInit & { duplex?: "half" } = {
        method,
        headers: {
            authorization: `Bearer ${token}`,
            ...(req.json !== undefined ? { "content-type": "application/json" } : {}),
            ...(req.stream ? { "content-type": "application/octet-stream" } : {}),
        },
        ...(req.json !== undefined ? { body: JSON.stringify(req.json) } : {}),
        // A streamed body goes out while the answer is awaited.
        ...(req.stream ? { body: req.stream, duplex: "half" as const } : {}),
        ...(signals.length ? { signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals) } : {}),
    };
    // A service restarting (a token rotation, an upgrade) refuses or resets for a moment: a change
    // that may be sent twice goes again, a few times, while its deadline allows.
    const again = RESENDABLE.has(method) && req.stream === undefined;
    for (let attempt = 0; ; attempt++) {
        try {
            return await fetch(base + p, init);
        } catch (err) {
            const wait = again ? RESEND_WAITS_MS[attempt] : undefined;
            if (wait !== undefined && !init.signal?.aborted) await new Promise((r) => setTimeout(r, wait));
            if (wait === undefined || init.signal?.aborted) throw new HttpError(0, `${method} ${base}${p}: ${(err as Error).message}`);
        }
    }
}

/** Changes that state what the control host wants (sending one twice does no harm). Reads are not
 * resent: a probe of a host that is down must say so at once. */
const RESENDABLE = new Set(["PUT", "DELETE"]);
/** Waits before each resend after no answer (1.75 s in all: a restarted service listens again by then). */
const RESEND_WAITS_MS = [250, 500, 1000];

/** The JSON answer of a request that must succeed (15 s unless told); any other status throws HttpError with the API's `error`. */
export async function apiJson<T>(base: string, token: string, p: string, req: ApiRequest = {}): Promise<T> {
    const method = req.method ?? "GET";
    const res = await apiRequest(base, token, p, { timeoutMs: 15_000, ...req });
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

/** A response body's lines, as they arrive (a line is whole before it is given; empty lines are skipped). */
export async function* bodyLines(res: Response): AsyncGenerator<string> {
    if (!res.body) return;
    let buf = "";
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        const lines = buf.split("\n");
        buf = lines.pop() ?? "";
        for (const l of lines) if (l !== "") yield l;
    }
    if (buf !== "") yield buf;
}
