import * as http from "http";
import * as net from "net";
import { openSession, SshSession } from "../../components/remote/ssh";
import type { SshConnection } from "../../components/remote/connection";
import { sshConnections } from "./pulumi";
import { LAB_STACK } from "./lab_stack";

/** Commands on the lab stack's hosts over SSH (pinned keys from the stack's `ssh` output). */
export class LabShell {
    private connections?: Record<string, SshConnection>;
    private readonly sessions = new Map<string, SshSession>();

    async on(host: string, command: string): Promise<string> {
        return (await this.withSession(host, (s) => s.run(command))).stdout.trim();
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
    }

    private async session(host: string): Promise<SshSession> {
        let session = this.sessions.get(host);
        if (!session) {
            this.connections ??= await sshConnections(LAB_STACK);
            session = await openSession(this.connections[host], { timeoutMs: 30_000 });
            this.sessions.set(host, session);
        }
        return session;
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
