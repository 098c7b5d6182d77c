// Loopback ports for tests' own servers.
import * as net from "net";

/** A port the kernel just gave out and took back (from the ephemeral range). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

function bindable(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}

/**
 * The first of `count` consecutive free ports, below the ephemeral range: the kernel never hands
 * these to other tests' connections or `freePort()` calls between our check and the bind.
 */
export async function freePortRun(count: number): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
        const first = 20_000 + Math.floor(Math.random() * (10_000 - count));
        const checks = await Promise.all(Array.from({ length: count }, (_, i) => bindable(first + i)));
        if (checks.every(Boolean)) return first;
    }
    throw new Error(`no run of ${count} free ports found in 20000-29999`);
}
