// Failed sign-ins per client: tokens are long and random, but nothing should be free to guess at
// full speed. The client is the address the edge's nginx saw (the last X-Forwarded-For entry, which
// nginx appends), else the connection's own.
import type { IncomingMessage } from "node:http";

export const MAX_FAILURES = 10;
export const WINDOW_MS = 60_000;

export function clientAddress(req: IncomingMessage): string {
    const forwarded = req.headers["x-forwarded-for"];
    const last = (Array.isArray(forwarded) ? forwarded.join(",") : (forwarded ?? "")).split(",").map((s) => s.trim()).filter(Boolean).at(-1);
    return last ?? req.socket.remoteAddress ?? "unknown";
}

export class SignInLimiter {
    private readonly failures = new Map<string, number[]>();

    constructor(private readonly now: () => Date) {}

    /** Seconds until `client` may try again; 0 when it may now. */
    retryAfter(client: string): number {
        const recent = this.recent(client);
        if (recent.length < MAX_FAILURES) return 0;
        return Math.max(1, Math.ceil((recent[0] + WINDOW_MS - this.now().getTime()) / 1000));
    }

    failed(client: string): void {
        if (this.failures.size > 10_000) this.failures.clear(); // a flood of addresses never grows memory without bound
        this.failures.set(client, [...this.recent(client), this.now().getTime()]);
    }

    private recent(client: string): number[] {
        const since = this.now().getTime() - WINDOW_MS;
        return (this.failures.get(client) ?? []).filter((t) => t > since);
    }
}
