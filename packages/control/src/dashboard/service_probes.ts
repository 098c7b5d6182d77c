// The platform's services as the platform page lists them: each answers its health URL or not.
// The control role knows their addresses (control.json: routers, agents, the log router).

export interface ServiceStatus {
    /** "dynoform-router", "dynoform-agent", "dynoform-logplex" */
    name: string;
    where: string;
    state: "up" | "down";
    detail?: string;
}

export interface ServiceProbe {
    name: string;
    /** A URL that answers 2xx when the service is up, e.g. http://10.0.0.10:8081/health */
    url: string;
}

/** fetch says only "fetch failed": the socket's own error (ECONNREFUSED, EHOSTUNREACH) says why. */
function whyDown(err: unknown, timeoutMs: number): string {
    if ((err as Error).name === "TimeoutError") return `no answer in ${timeoutMs} ms`;
    const code = (err as { cause?: { code?: string } }).cause?.code;
    return code === "ECONNREFUSED" ? "connection refused" : code ? `cannot connect (${code})` : (err as Error).message;
}

/** Every probe at once, each with its own deadline: one dead host never holds the page back. */
export function httpServiceProbes(probes: ServiceProbe[], timeoutMs = 2000): () => Promise<ServiceStatus[]> {
    return () =>
        Promise.all(
            probes.map(async (p): Promise<ServiceStatus> => {
                const where = new URL(p.url).host;
                try {
                    const res = await fetch(p.url, { signal: AbortSignal.timeout(timeoutMs) });
                    await res.body?.cancel();
                    return res.ok ? { name: p.name, where, state: "up" } : { name: p.name, where, state: "down", detail: `answered ${res.status}` };
                } catch (err) {
                    return { name: p.name, where, state: "down", detail: whyDown(err, timeoutMs) };
                }
            }),
        );
}
