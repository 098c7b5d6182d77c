import * as http from "http";
import * as net from "net";
import type { Client } from "ssh2";
import { connectWithRetries, openSession, SshSession } from "../../components/remote/ssh";
import type { SshConnection } from "../../components/remote/connection";
import { sshConnections } from "./pulumi";
import { LAB_STACK } from "./lab_stack";

/** Commands on the lab stack's hosts over SSH (pinned keys from the stack's `ssh` output). */
export class LabShell {
    private connections?: Record<string, SshConnection>;
    private readonly sessions = new Map<string, SshSession>();
    /** One SSH client and one local listener per forward (closed with the shell). */
    private readonly forwards: { client: Client; server: net.Server; sockets: Set<net.Socket> }[] = [];

    /** Runs `command` on `host` (with `stdin` fed to it, for what must not be in a command line). */
    async on(host: string, command: string, stdin?: string): Promise<string> {
        return (await this.withSession(host, (s) => s.run(command, stdin !== undefined ? { stdin } : undefined))).stdout.trim();
    }

    async exec(host: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
        return this.withSession(host, (s) => s.exec(command));
    }

    /** A cached session; one lost on the way (seen once in CI: an ssh2 keepalive timeout on a loaded
     * machine) is opened again and the command run once more. */
    private async withSession<T>(host: string, work: (s: SshSession) => Promise<T>): Promise<T> {
        try {
            return await work(await this.session(host));
        } catch (err) {
            if (!/connection lost|cannot start/.test((err as Error).message)) throw err;
            console.warn(`${(err as Error).message}: reconnecting once`);
            this.sessions.get(host)?.close();
            this.sessions.delete(host);
            return work(await this.session(host));
        }
    }

    /** Forget connections (a host was recreated with a new key). */
    reset(): void {
        this.close();
        this.connections = undefined;
    }

    close(): void {
        for (const s of this.sessions.values()) s.close();
        this.sessions.clear();
        for (const f of this.forwards.splice(0)) {
            for (const socket of f.sockets) socket.destroy();
            f.server.close();
            f.client.end();
        }
    }

    /**
     * `host:port` on this machine's loopback that leads to `port` on the host's private address
     * through its sshd (`ssh -L`): the host firewall keeps internal ports from this machine, which
     * reaches the lab from its gateway, outside the private subnet. The connection arrives from
     * the host itself.
     */
    async forward(host: string, port: number): Promise<string> {
        const c = await this.connection(host);
        const client = await connectWithRetries(c, { timeoutMs: 30_000 });
        client.on("error", () => undefined); // a lost client fails its forwarded connections, not the test process
        const sockets = new Set<net.Socket>();
        const server = net.createServer((socket) => {
            sockets.add(socket);
            socket.on("close", () => sockets.delete(socket));
            socket.on("error", () => undefined);
            client.forwardOut("127.0.0.1", socket.remotePort ?? 0, c.host, port, (err, stream) => {
                if (err) return void socket.destroy();
                stream.on("error", () => socket.destroy());
                socket.pipe(stream).pipe(socket);
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        this.forwards.push({ client, server, sockets });
        return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    }

    /** `http://<private address>:<port>` of a stack host (an agent's or router's URL) as a forwarded local URL. */
    async forwardUrl(url: string): Promise<string> {
        const u = new URL(url);
        const host = Object.values(await this.stackConnections()).find((c) => c.host === u.hostname);
        if (!host) throw new Error(`${url}: no host of stack ${LAB_STACK} has the address ${u.hostname}`);
        return `${u.protocol}//${await this.forward(host.name, Number(u.port))}`;
    }

    private async session(host: string): Promise<SshSession> {
        let session = this.sessions.get(host);
        if (!session) {
            session = await openSession(await this.connection(host), { timeoutMs: 30_000 });
            this.sessions.set(host, session);
        }
        return session;
    }

    private async stackConnections(): Promise<Record<string, SshConnection>> {
        this.connections ??= await sshConnections(LAB_STACK);
        return this.connections;
    }

    private async connection(host: string): Promise<SshConnection> {
        const c = (await this.stackConnections())[host];
        if (!c) throw new Error(`no host ${host} in stack ${LAB_STACK}`);
        return c;
    }
}

export interface HttpAnswer {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: string;
}

export function httpGet(address: string, hostHeader: string, urlPath = "/", extraHeaders: Record<string, string> = {}): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: address, port: 80, path: urlPath, headers: { Host: hostHeader, ...extraHeaders }, timeout: 15_000, agent: false }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        });
        req.on("timeout", () => req.destroy(new Error(`GET http://${hostHeader}${urlPath} via ${address}: timeout`)));
        req.on("error", reject);
    });
}

export function tcpConnects(host: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ host, port, timeout: 3000 });
        socket.on("connect", () => {
            socket.destroy();
            resolve(true);
        });
        socket.on("timeout", () => {
            socket.destroy();
            resolve(false);
        });
        socket.on("error", () => resolve(false));
    });
}

/**
 * Requests to `host` through the edge at `address` in a loop (4 clients) until stopped: counts
 * answers that are not 200 or lack `marker()` (the pushed code's), with a few samples of them.
 */
export function loadThroughEdge(address: string, host: string, marker?: () => string) {
    let running = true;
    const stats = { total: 0, failed: 0, samples: [] as string[] };
    const client = async () => {
        while (running) {
            try {
                const r = await httpGet(address, host);
                stats.total++;
                const m = marker?.();
                if (r.status !== 200 || (m && !r.body.includes(m))) {
                    stats.failed++;
                    if (stats.samples.length < 5) stats.samples.push(`${r.status} ${r.body.slice(0, 200)}`);
                }
            } catch (err) {
                stats.total++;
                stats.failed++;
                if (stats.samples.length < 5) stats.samples.push(String(err));
            }
        }
    };
    const clients = Array.from({ length: 4 }, client);
    return {
        stats,
        stop: async () => {
            running = false;
            await Promise.all(clients);
            return stats;
        },
    };
}
