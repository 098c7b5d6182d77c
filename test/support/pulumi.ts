import { execFile, execFileSync } from "child_process";
import * as path from "path";
import type { SshConnection } from "../../components/remote/connection";

export const projectRoot = path.resolve(__dirname, "..", "..");

let projectEnv: NodeJS.ProcessEnv | undefined;

/** The environment scripts/env.sh gives the scripts (read through scripts/project-env.mjs, once). */
export function pulumiEnv(): NodeJS.ProcessEnv {
    projectEnv ??= JSON.parse(execFileSync(process.execPath, [path.join(projectRoot, "scripts/project-env.mjs")], { encoding: "utf8" })) as NodeJS.ProcessEnv;
    return projectEnv;
}

export interface CommandResult {
    code: number;
    stdout: string;
    stderr: string;
}

export function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<CommandResult> {
    return new Promise((resolve) => {
        execFile(
            file,
            args,
            { cwd: options.cwd ?? projectRoot, env: options.env ?? process.env, timeout: options.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 },
            (error, stdout, stderr) => {
                const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
                resolve({ code, stdout: String(stdout), stderr: String(stderr) });
            },
        );
    });
}

/** Runs the Pulumi CLI on the project for `stack`. */
export async function pulumi(stack: string, args: string[], timeoutMs = 900_000): Promise<CommandResult> {
    return run("pulumi", [...args, "--stack", stack, "--non-interactive"], { env: pulumiEnv(), timeoutMs });
}

export async function pulumiOk(stack: string, args: string[], timeoutMs?: number): Promise<string> {
    const result = await pulumi(stack, args, timeoutMs);
    if (result.code !== 0) {
        throw new Error(`pulumi ${args.join(" ")} failed (exit ${result.code}):\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
    }
    return result.stdout;
}

export async function stackOutput<T>(stack: string, name: string): Promise<T> {
    return JSON.parse(await pulumiOk(stack, ["stack", "output", name, "--json", "--show-secrets"])) as T;
}

/** SSH connections to every host of the stack (a secret stack output). */
export async function sshConnections(stack: string): Promise<Record<string, SshConnection>> {
    return stackOutput<Record<string, SshConnection>>(stack, "ssh");
}
