// The live log view: the app's recent lines, then new ones as they come, as server-sent events
// (text/event-stream; the browser's EventSource reconnects by itself). The lines come from the
// `logs` verb run with --tail, so they are the CLI's: the log router's stream where there is
// one, else the agents' buffers.
import type { ServerResponse } from "node:http";
import { logs } from "../cli/dynos";
import { runVerb, VerbDeps } from "./verb_runner";

/** A comment line keeps idle proxies from closing the stream, and finds browsers that left. */
export const KEEPALIVE_MS = 20_000;

/** One SSE event; a line holding CR or LF is sent as several data lines (the browser joins them with LF). */
export function sseEvent(data: string, event?: string): string {
    return `${event ? `event: ${event}\n` : ""}${data
        .split(/\r\n|\r|\n/)
        .map((l) => `data: ${l}\n`)
        .join("")}\n`;
}

class StreamClosed extends Error {}

/**
 * Streams until the browser leaves or the source ends (then an `end` event saying why). Settles as
 * soon as the browser leaves; the verb's read of the source stops at its next line (the log
 * clients take no abort signal).
 */
export async function streamLogs(deps: VerbDeps, user: string, app: string, res: ServerResponse): Promise<void> {
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store", "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff" });
    res.write(": stream open\n\n");
    let closed = false;
    const left = new Promise<void>((resolve) =>
        res.on("close", () => {
            closed = true;
            resolve();
        }),
    );
    const keepalive = setInterval(() => res.write(": keepalive\n\n"), KEEPALIVE_MS);
    const output = {
        out: (line: string) => {
            if (closed) throw new StreamClosed();
            res.write(sseEvent(line));
        },
        drained: () => (closed || !res.writableNeedDrain ? Promise.resolve() : new Promise<void>((r) => res.once("drain", () => r()).once("close", () => r()))),
    };
    const read = runVerb(deps, user, logs, app, [], { tail: true, num: "100" }, output).then(
        (outcome) => {
            if (!closed) res.write(sseEvent(outcome.ok ? "The log stream ended" : outcome.lines.join(" "), "end"));
        },
        (err: unknown) => {
            if (!(err instanceof StreamClosed) && !closed) res.write(sseEvent(`The log stream failed: ${(err as Error).message}`, "end"));
        },
    );
    try {
        await Promise.race([read, left]);
    } finally {
        clearInterval(keepalive);
        res.end();
    }
}
