// Process helpers for the lab: run a command, fail with its stderr tail.
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";

export interface RunResult {
    stdout: string;
    stderr: string;
}

/** The last `lines` lines of `text` (remote/ssh.ts's `tail` counts characters). */
export function lastLines(text: string, lines: number): string {
    return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = execFile(
            cmd,
            args,
            { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 },
            (err, stdout, stderr) => {
                if (err) {
                    const what = [cmd, ...args].join(" ");
                    const detail = lastLines(String(stderr || stdout || err.message), 15);
                    reject(new Error(`\`${what}\` failed (${err.code ?? err.signal ?? "error"}):\n${detail}`));
                } else {
                    resolve({ stdout: String(stdout), stderr: String(stderr) });
                }
            },
        );
        if (opts.input !== undefined) {
            child.stdin?.on("error", () => undefined); // the command may exit without reading it
            child.stdin?.end(opts.input);
        }
    });
}

export function requireRoot(): void {
    if (typeof process.getuid === "function" && process.getuid() !== 0) {
        throw new Error(
            "the lab host source needs root (overlay mounts, systemd-nspawn, a bridge and nftables); " +
                "run `npm start` / `npm test` as root, or use the `servers` target for existing machines",
        );
    }
}

/** The dynoform checkout this module belongs to. */
export function projectRoot(): string {
    return path.resolve(__dirname, "..", "..", "..");
}

export function labScript(name: string): string {
    const file = path.join(projectRoot(), "scripts", "lab", name);
    if (!fs.existsSync(file)) throw new Error(`lab helper ${file} is missing`);
    return file;
}

export function readIfExists(file: string): string | undefined {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return undefined;
    }
}
