// SSH plumbing for the provisioning primitives: connect (with retries and a pinned host key),
// run commands, upload files atomically. Runs inside the dynamic-provider process, and Pulumi
// serializes it into the state by value, so it must stay plain functions over `ssh2` and Node
// built-ins (no classes, no @pulumi/pulumi at runtime). See ./README.md.
import { execFileSync } from "child_process";
import { BlockList } from "net";
import { Client, ConnectConfig } from "ssh2";
import type { SshConnection } from "./connection";

export interface ConnectOptions {
    /** Total time budget for reaching the host, retries included. Default 60 s or $DYNOFORM_SSH_CONNECT_TIMEOUT_S. */
    timeoutMs?: number;
    /** First retry delay; doubles each attempt up to maxDelayMs. */
    initialDelayMs?: number;
    maxDelayMs?: number;
}

export interface ExecOptions {
    /** Fed to the command's stdin, then closed. */
    stdin?: string | Buffer;
    /** Shown in errors instead of the (possibly long) command text. */
    label?: string;
}

export interface ExecResult {
    code: number;
    stdout: string;
    stderr: string;
}

export interface UploadOptions {
    /** Octal permission string, e.g. "0644". */
    mode?: string;
    /** "user:group". */
    owner?: string;
}

export interface SshSession {
    readonly connection: SshConnection;
    /** Runs a command; never throws for a non-zero exit. */
    exec(command: string, options?: ExecOptions): Promise<ExecResult>;
    /** Runs a command; throws `command failed (exit N): ... — stderr tail: ...` on a non-zero exit. */
    run(command: string, options?: ExecOptions): Promise<ExecResult>;
    /** Writes `content` to `path` atomically (temp file in the same directory, chmod/chown, rename). */
    upload(path: string, content: string | Buffer, options?: UploadOptions): Promise<void>;
    close(): void;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 60_000;
const TAIL_CHARS = 1500;

/** `edge-1 (10.213.1.10:22)` — the prefix of every error about a host. */
export function describeHost(connection: SshConnection): string {
    return `${connection.name} (${connection.host}:${connection.port})`;
}

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
    if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
    return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The last `max` characters of `text`, cut at a line start when possible. */
export function tail(text: string, max = TAIL_CHARS): string {
    const trimmed = text.trimEnd();
    if (trimmed.length <= max) return trimmed;
    const cut = trimmed.slice(trimmed.length - max);
    const newline = cut.indexOf("\n");
    return "…" + (newline >= 0 && newline < cut.length - 1 ? cut.slice(newline + 1) : cut);
}

/** Opens one connection, runs `work` with it, always closes it. */
export async function withSsh<T>(
    connection: SshConnection,
    work: (session: SshSession) => Promise<T>,
    options: ConnectOptions = {},
): Promise<T> {
    const session = await openSession(connection, options);
    try {
        return await work(session);
    } finally {
        session.close();
    }
}

export async function openSession(connection: SshConnection, options: ConnectOptions = {}): Promise<SshSession> {
    const client = await connectWithRetries(connection, options);
    const exec = (command: string, execOptions: ExecOptions = {}) =>
        execOnClient(client, connection, asRoot(connection, command), execOptions);
    const run = async (command: string, execOptions: ExecOptions = {}) => {
        const result = await exec(command, execOptions);
        if (result.code !== 0) throw commandFailed(connection, execOptions.label ?? command, result);
        return result;
    };
    return {
        connection,
        exec,
        run,
        upload: (path, content, uploadOptions = {}) =>
            run(atomicWriteScript(path, uploadOptions), { stdin: content, label: `write ${path}` }).then(() => undefined),
        close: () => client.end(),
    };
}

/** Shell script that reads stdin into a temp file next to `path`, sets mode/owner, and renames it into place. */
export function atomicWriteScript(path: string, options: UploadOptions = {}): string {
    const target = shellQuote(path);
    const directory = shellQuote(path.replace(/\/[^/]*$/, "") || "/");
    const base = shellQuote(`.${path.replace(/^.*\//, "")}.dynoform-XXXXXX`);
    return [
        "set -e",
        `mkdir -p ${directory}`,
        `tmp=$(mktemp -p ${directory} ${base})`,
        `trap 'rm -f "$tmp"' EXIT`,
        `cat > "$tmp"`,
        `chmod ${shellQuote(options.mode ?? "0644")} "$tmp"`,
        `chown ${shellQuote(options.owner ?? "root:root")} "$tmp"`,
        `mv -f "$tmp" ${target}`,
    ].join("\n");
}

/** Non-root users get every command through `sudo -n` so the same scripts work on existing servers. */
function asRoot(connection: SshConnection, command: string): string {
    if (connection.user === "root") return `/bin/sh -c ${shellQuote(command)}`;
    return `sudo -n /bin/sh -c ${shellQuote(command)}`;
}

/**
 * For a non-root user whose `sudo -n` refused (no sudo rule, a password asked) or is not there (a
 * plain Debian has no sudo): what to do, since every command needs root.
 */
export function sudoProblem(connection: SshConnection, result: ExecResult): string | undefined {
    if (connection.user === "root") return undefined;
    const said = result.stderr.trim();
    const refused = result.code === 1 && /^sudo: (a password is required|a terminal is required)|is not in the sudoers file|is not allowed to (execute|run sudo)/m.test(said);
    const absent = result.code === 127 && /sudo: (command )?not found/.test(said);
    if (!refused && !absent) return undefined;
    return (
        `${describeHost(connection)}: ${connection.user} cannot run commands as root (${absent ? "sudo is not installed" : said.split("\n").pop()}): ` +
        `connect as root (user: root in dynoform:hosts), or ${absent ? "install sudo and " : ""}give ${connection.user} passwordless sudo ` +
        `(echo '${connection.user} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/${connection.user})`
    );
}

function commandFailed(connection: SshConnection, label: string, result: ExecResult): Error {
    const sudo = sudoProblem(connection, result);
    if (sudo) return new Error(sudo);
    const shown = label.length > 200 ? label.slice(0, 200) + "…" : label;
    const stderr = tail(result.stderr) || tail(result.stdout) || "(empty)";
    return new Error(
        `${describeHost(connection)}: command failed (exit ${result.code}): ${shown} — stderr tail: ${stderr}`,
    );
}

function execOnClient(client: Client, connection: SshConnection, command: string, options: ExecOptions): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        const lost = (err: Error) =>
            reject(new Error(`${describeHost(connection)}: connection lost while running ${options.label ?? command}: ${err.message}`));
        client.once("error", lost);
        client.exec(command, (err, stream) => {
            if (err) {
                client.removeListener("error", lost);
                reject(new Error(`${describeHost(connection)}: cannot start ${options.label ?? command}: ${err.message}`));
                return;
            }
            stream.on("data", (chunk: Buffer) => stdout.push(chunk));
            stream.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
            stream.on("close", (code: number | null, signal?: string) => {
                client.removeListener("error", lost);
                // sshd always sends an exec's exit status or signal: a channel closed with neither
                // is a connection that went away under the command.
                if (typeof code !== "number" && !signal) {
                    lost(new Error("the connection closed before the command's exit status"));
                    return;
                }
                resolve({
                    code: typeof code === "number" ? code : 128,
                    stdout: Buffer.concat(stdout).toString("utf8"),
                    stderr: Buffer.concat(stderr).toString("utf8"),
                });
            });
            if (options.stdin !== undefined) stream.end(options.stdin);
            else stream.end();
        });
    });
}

interface AttemptFailure {
    /** Worth retrying (network-level), or final (auth refused, host key changed). */
    retry: boolean;
    error: Error;
    cause: string;
}

/**
 * A ready ssh2 client for `connection`: retried with backoff within the budget, the pinned host
 * key checked and only its algorithm offered. Sessions (openSession) and the lab tests' port
 * forwards (LabShell.forward) are made on it.
 */
export async function connectWithRetries(connection: SshConnection, options: ConnectOptions = {}): Promise<Client> {
    if (!/^\S+\s+\S+$/.test(connection.hostKey.trim())) {
        throw new Error(`${describeHost(connection)}: no pinned host key ("<type> <base64>" expected, got "${connection.hostKey}")`);
    }
    const budget = options.timeoutMs ?? connectTimeoutFromEnvironment() ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const maxDelay = options.maxDelayMs ?? 5_000;
    let delay = options.initialDelayMs ?? 250;
    const started = Date.now();
    for (;;) {
        const remaining = budget - (Date.now() - started);
        const attempt = await connectOnce(connection, Math.max(1_000, Math.min(20_000, remaining)));
        if ("client" in attempt) return attempt.client;
        if (!attempt.retry) throw attempt.error;
        const elapsed = Date.now() - started;
        if (elapsed >= budget) {
            throw new Error(
                `${describeHost(connection)}: unreachable (${attempt.cause}) after ${Math.round(elapsed / 1000)}s`,
            );
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(delay, budget - elapsed)));
        delay = Math.min(delay * 2, maxDelay);
    }
}

function connectTimeoutFromEnvironment(): number | undefined {
    const seconds = Number(process.env.DYNOFORM_SSH_CONNECT_TIMEOUT_S);
    return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

function connectOnce(connection: SshConnection, readyTimeout: number): Promise<{ client: Client } | AttemptFailure> {
    const [pinnedType, pinnedBlob] = connection.hostKey.trim().split(/\s+/);
    let presentedKey: string | undefined;
    return new Promise((resolve) => {
        const client = new Client();
        let settled = false;
        const settle = (outcome: { client: Client } | AttemptFailure) => {
            if (settled) return;
            settled = true;
            if (!("client" in outcome)) client.end();
            resolve(outcome);
        };
        client.on("ready", () => settle({ client }));
        client.on("error", (err: Error & { level?: string; code?: string }) => {
            if (presentedKey !== undefined) {
                const error = new Error(
                    `${describeHost(connection)}: HOST KEY CHANGED: expected ${pinnedType} ${pinnedBlob}, got ${presentedKey}`,
                );
                settle({ retry: false, error, cause: "host key changed" });
            } else if (err.level === "client-authentication") {
                const error = new Error(`${describeHost(connection)}: auth refused for ${connection.user}`);
                settle({ retry: false, error, cause: "auth refused" });
            } else if (err.code === "EHOSTUNREACH" && sealedAway(connection.host)) {
                const error = new Error(
                    `${describeHost(connection)}: the lab network of ${connection.host} is gone (no lab bridge routes to it, and the lab seal keeps ` +
                        `its packets on the machine). Run \`pulumi up\` on this stack to recreate its machines, or \`npm run down\` to remove what is left of it.`,
                );
                settle({ retry: false, error, cause: "lab network gone" });
            } else {
                const cause = err.code ?? (/timed out/i.test(err.message) ? "timeout" : err.message);
                settle({ retry: true, error: err, cause });
            }
        });
        client.on("close", () =>
            settle({ retry: true, error: new Error("connection closed"), cause: "connection closed before ready" }),
        );
        const config: ConnectConfig = {
            host: connection.host,
            port: connection.port,
            username: connection.user,
            privateKey: connection.privateKey,
            readyTimeout,
            keepaliveInterval: 15_000,
            // Offer only the pinned key's algorithm so the server cannot pick another of its keys.
            algorithms: { serverHostKey: hostKeyAlgorithms(pinnedType) as never },
            hostVerifier: (key: Buffer) => {
                if (key.toString("base64") === pinnedBlob) return true;
                presentedKey = `${keyTypeOf(key)} ${key.toString("base64")}`;
                return false;
            },
        };
        try {
            client.connect(config);
        } catch (err) {
            // Synchronous failures are configuration errors (e.g. an unparsable private key): not retryable.
            const error = new Error(`${describeHost(connection)}: cannot connect: ${(err as Error).message}`);
            settle({ retry: false, error, cause: (err as Error).message });
        }
    });
}

/**
 * True when `address` is in a range the lab seal covers (scripts/lab/seal.sh) and no lab bridge
 * routes to it: the seal refused the packets, and retrying cannot help until the lab network is
 * back. False wherever the seal is absent (servers, a machine without the lab).
 */
function sealedAway(address: string): boolean {
    const run = (file: string, args: string[]) => execFileSync(file, args, { encoding: "utf8", timeout: 2_000, stdio: ["ignore", "pipe", "ignore"] });
    try {
        const sealed = new BlockList();
        for (const m of run("nft", ["-j", "list", "set", "inet", "dynoform_lab_seal", "ranges"]).matchAll(/"addr":\s*"([\d.]+)",\s*"len":\s*(\d+)/g)) {
            sealed.addSubnet(m[1], Number(m[2]), "ipv4");
        }
        if (!sealed.check(address, "ipv4")) return false;
        const bridges = run("nft", ["-j", "list", "set", "inet", "dynoform_lab_seal", "bridges"]);
        const dev = /"dev":\s*"([^"]+)"/.exec(run("ip", ["-j", "route", "get", address]))?.[1] ?? "";
        return !dev.startsWith("dfbr-") && dev !== "lo" && !bridges.includes(`"${dev}"`);
    } catch {
        return false;
    }
}

function hostKeyAlgorithms(keyType: string | undefined): string[] {
    if (keyType === "ssh-rsa") return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
    if (!keyType) return [];
    return [keyType];
}

/** The key type named at the start of an SSH public key blob (uint32 length + name). */
function keyTypeOf(blob: Buffer): string {
    if (blob.length < 4) return "unknown";
    const length = blob.readUInt32BE(0);
    return length > 0 && length < 64 && blob.length >= 4 + length ? blob.subarray(4, 4 + length).toString("ascii") : "unknown";
}
