// What lab tests do as a user would: the `dynoform` CLI against the lab stack, and a git work tree
// that pushes to an app.
import { execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LAB_STACK } from "./lab_stack";
import { projectRoot } from "./pulumi";

export interface Result {
    code: number;
    stdout: string;
    stderr: string;
}

/** `dynoform ARGS` with `input` on its stdin (else a stdin left open, as at a terminal). */
export function cli(args: string[], cwd = projectRoot, input?: string): Promise<Result> {
    return new Promise((resolve) => {
        const child = execFile("node", [path.join(projectRoot, "scripts/dynoform.mjs"), ...args], { cwd, env: { ...process.env, DYNOFORM_STACK: LAB_STACK }, timeout: 300_000 }, (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
        );
        if (input !== undefined) child.stdin?.end(input);
    });
}

/** `node runbooks/NAME ARGS --stack <the lab stack>` (runbooks/README.md), as an operator runs it. */
export function runbook(name: string, args: string[] = []): Promise<Result> {
    return new Promise((resolve) => {
        execFile("node", [path.join(projectRoot, "runbooks", name), ...args, "--stack", LAB_STACK], { cwd: projectRoot, env: { ...process.env, DYNOFORM_STACK: LAB_STACK }, timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
        );
    });
}

/** Throws with the runbook's output tail unless it exited 0. */
export function runbookOk(r: Result, what: string): void {
    if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.stdout.slice(-4000)}${r.stderr.slice(-4000)}`);
}

/** A git work tree in a temp dir (removed by `remove()`), committing as a fixed test author. */
export class GitRepo {
    readonly dir: string;

    constructor(prefix: string, from?: string) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `dynoform-${prefix}-`));
        if (from) fs.cpSync(from, this.dir, { recursive: true });
    }

    git(args: string[]): Promise<Result> {
        return new Promise((resolve) => {
            const child = spawn("git", args, { cwd: this.dir, env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
        });
    }

    async init(): Promise<void> {
        await this.git(["init", "-q", "-b", "main"]);
        await this.commit("initial", () => undefined);
    }

    /** Apply `edit`, then commit everything. */
    async commit(message: string, edit: () => void): Promise<void> {
        edit();
        await this.git(["add", "-A"]);
        const r = await this.git(["commit", "-q", "--allow-empty", "-m", message]);
        if (r.code !== 0) throw new Error(r.stderr);
    }

    push(force = false): Promise<Result> {
        return this.git(["push", ...(force ? ["-f"] : []), "dynoform", "main"]);
    }

    async head(): Promise<string> {
        return (await this.git(["rev-parse", "HEAD"])).stdout.trim();
    }

    file(name: string): string {
        return path.join(this.dir, name);
    }

    edit(name: string, fn: (s: string) => string): void {
        fs.writeFileSync(this.file(name), fn(fs.readFileSync(this.file(name), "utf8")));
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** Polls `fn` until it gives a truthy value (every 500 ms, at most `timeoutMs`). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < end) {
        try {
            const v = await fn();
            if (v) return v;
        } catch (err) {
            last = err;
        }
        await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${what}: not within ${timeoutMs / 1000} s ${last ? `(${last})` : ""}`);
}
