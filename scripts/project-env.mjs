// The environment scripts/env.sh gives the shell scripts (the project's Pulumi CLI on PATH,
// PULUMI_HOME, the file:// backend and its passphrase), for Node callers: env.sh stays the one
// place it is written down.
//   import { projectEnv } from "./project-env.mjs"    or    node scripts/project-env.mjs   (JSON)
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const self = fileURLToPath(import.meta.url);
const envSh = join(dirname(self), "env.sh");
let cached;

/** process.env with env.sh's exports applied (read once per process). */
export function projectEnv() {
    if (!cached) {
        const out = execFileSync("bash", ["-c", 'source "$1" && env -0', "bash", envSh], { encoding: "utf8" });
        cached = {};
        for (const entry of out.split("\0")) {
            const eq = entry.indexOf("=");
            if (eq > 0) cached[entry.slice(0, eq)] = entry.slice(eq + 1);
        }
    }
    return cached;
}

if (process.argv[1] === self) process.stdout.write(JSON.stringify(projectEnv()));
