// Real memcached processes on loopback for unit tests (Debian's memcached + sasl2-bin, installed by
// scripts/setup), and a raw binary-protocol client that shows exactly what the server answered.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";

export const MEMCACHED = "/usr/bin/memcached";
export const SASLPASSWD2 = "/usr/sbin/saslpasswd2";

export function memcachedMissing(): string | undefined {
    if (process.getuid?.() !== 0) return "run as root (memcached must run as the memcache user)";
    for (const f of [MEMCACHED, SASLPASSWD2]) if (!fs.existsSync(f)) return `${f} is missing: run scripts/setup (apt-get install memcached sasl2-bin)`;
    return undefined;
}

export function memcacheIds(): { uid: number; gid: number } {
    return { uid: Number(execFileSync("id", ["-u", "memcache"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "memcache"], { encoding: "utf8" })) };
}

/** A memcached process started by startMemcached. */
export interface RunningMemcached {
    port: number;
    pid: number;
    stop(): Promise<void>;
}

/** Starts `memcached args...` as the memcache user with `env`, and waits until it accepts connections. */
export async function startMemcached(args: string[], port: number, env: Record<string, string>): Promise<RunningMemcached> {
    const child: ChildProcess = spawn(MEMCACHED, args, { ...memcacheIds(), env: { PATH: "/usr/bin:/bin", ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    for (let i = 0; ; i++) {
        if (child.exitCode !== null) throw new Error(`memcached exited ${child.exitCode}: ${stderr}`);
        if (await new Promise<boolean>((r) => net.connect(port, "127.0.0.1").once("connect", function (this: net.Socket) { this.destroy(); r(true); }).once("error", () => r(false)))) break;
        if (i > 100) throw new Error(`memcached on ${port} did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
    }
    return {
        port,
        pid: child.pid!,
        stop: async () => {
            if (child.exitCode === null) process.kill(child.pid!, "SIGTERM");
            await exited;
        },
    };
}

export const STATUS = { ok: 0, notFound: 1, authError: 0x20, closed: -1 } as const;

export interface BinaryReply {
    status: number;
    body: string;
}

/** One binary-protocol connection; requests answered in order; a closed connection answers -1. */
export function binarySession(port: number, host = "127.0.0.1") {
    const socket = net.connect(port, host);
    let buf = Buffer.alloc(0);
    const queue: ((r: BinaryReply) => void)[] = [];
    const closeAll = () => queue.splice(0).forEach((r) => r({ status: STATUS.closed, body: "" }));
    socket.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 24) {
            const len = buf.readUInt32BE(8);
            if (buf.length < 24 + len) break;
            const r = buf.subarray(0, 24 + len);
            buf = buf.subarray(24 + len);
            queue.shift()?.({ status: r.readUInt16BE(6), body: r.subarray(24 + r[4] + r.readUInt16BE(2)).toString() });
        }
    });
    socket.on("error", closeAll);
    socket.on("close", closeAll);
    const request = (opcode: number, key = "", extras = Buffer.alloc(0), value = Buffer.alloc(0)) =>
        new Promise<BinaryReply>((resolve) => {
            const k = Buffer.from(key);
            const h = Buffer.alloc(24);
            h[0] = 0x80;
            h[1] = opcode;
            h.writeUInt16BE(k.length, 2);
            h[4] = extras.length;
            h.writeUInt32BE(extras.length + k.length + value.length, 8);
            queue.push(resolve);
            if (socket.destroyed) closeAll();
            else socket.write(Buffer.concat([h, extras, k, value]));
        });
    return {
        auth: (user: string, password: string) => request(0x21, "PLAIN", undefined, Buffer.from(`\0${user}\0${password}`)),
        get: (key: string) => request(0x00, key),
        set: (key: string, value: string) => request(0x01, key, Buffer.alloc(8), Buffer.from(value)),
        flush: () => request(0x08),
        close: () => socket.destroy(),
    };
}

/** What a text-protocol client gets back for `line` (memcached -S refuses the text protocol). */
export function textCommand(port: number, line: string, host = "127.0.0.1"): Promise<string> {
    return new Promise((resolve) => {
        const s = net.connect(port, host);
        let out = "";
        s.on("connect", () => s.write(`${line}\r\n`));
        s.on("data", (d) => (out += d));
        s.setTimeout(1000, () => s.destroy());
        s.on("close", () => resolve(out));
        s.on("error", () => undefined);
    });
}
