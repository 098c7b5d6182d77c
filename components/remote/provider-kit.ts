// Helpers shared by the dynamic providers (provider side: serialized into the state with them).
import { createHash } from "crypto";
import type { SshConnection } from "./connection";
import { openSession, SshSession } from "./ssh";

/** The engine's placeholder for a value not known yet (preview with computed inputs). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isUnknown(value: unknown): boolean {
    return value === UNKNOWN;
}

export function sha256(content: string): string {
    return createHash("sha256").update(content, "utf8").digest("hex");
}

/** Inputs every remote resource has. */
export interface RemoteInputs {
    connection: SshConnection;
    providerVersion: string;
}

/**
 * A different logical host (connection name) means the old thing lives elsewhere: replace.
 * A new address or host key for the same name (a recreated machine) is an update that re-applies.
 */
export function hostRenamed(olds: RemoteInputs, news: RemoteInputs): boolean {
    if (isUnknown(news.connection) || isUnknown(news.connection?.name)) return false;
    return olds.connection?.name !== news.connection?.name;
}

export function connectionChanged(olds: RemoteInputs, news: RemoteInputs): boolean {
    return JSON.stringify(olds.connection) !== JSON.stringify(news.connection);
}

/** True when the machine behind the connection may be a different one (so remote work must be redone). */
export function targetMoved(olds: RemoteInputs, news: RemoteInputs): boolean {
    const where = (c: SshConnection | undefined) => c && `${c.host}:${c.port} ${c.hostKey}`;
    return where(olds.connection) !== where(news.connection);
}

/**
 * For `read` (pulumi refresh): a session, or undefined when the host cannot be reached. An
 * unreachable host keeps the recorded state; noticing a vanished machine is the host source's job.
 */
export async function sessionForRead(connection: SshConnection): Promise<SshSession | undefined> {
    try {
        return await openSession(connection, { timeoutMs: 15_000 });
    } catch (err) {
        console.error(`warning: ${(err as Error).message}; keeping recorded state`);
        return undefined;
    }
}

/**
 * True when a read's connection was lost midway (the host went away under it, as on a refresh of a
 * machine that died): the read keeps the recorded state, as one that cannot connect does.
 */
export function lostMidway(err: unknown): boolean {
    const lost = /connection lost/.test((err as Error)?.message ?? "");
    if (lost) console.error(`warning: ${(err as Error).message}; keeping recorded state`);
    return lost;
}

/**
 * Runs a create, update or delete again on a fresh connection when its connection is lost midway
 * (sshd missing keepalives, a reset, the connection closing before the command's exit status):
 * every provider's work is idempotent, so whether the lost attempt ran or not, running it again
 * ends in the same place. Anything else fails at once.
 */
export async function retryLostConnection<T>(work: () => Promise<T>, attempts = 3): Promise<T> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await work();
        } catch (err) {
            if (attempt >= attempts || !/connection lost/.test((err as Error)?.message ?? "")) throw err;
            console.error(`warning: ${(err as Error).message}; trying again on a new connection (${attempt + 1} of ${attempts})`);
        }
    }
}

/** Normalizes "644" / "0644" / "00644" to "0644". */
export function normalizeMode(mode: string): string {
    return "0" + parseInt(mode, 8).toString(8).padStart(3, "0");
}

/** Drops undefined fields: the engine's property encoding has no "undefined". */
export function definedOnly<T extends object>(value: T): T {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
