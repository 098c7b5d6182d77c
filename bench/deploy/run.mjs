#!/usr/bin/env node
// bench:deploy — push-to-serving times of examples/node-counter and failed requests during a deploy.
//
//   push_to_serving_s_cold   a new app (empty build cache; the shared Node runtime cache may be warm)
//   push_to_serving_s_warm   a second push with a code change, build cache warm
//   failed_requests_during_deploy   requests that did not get a 200 while the warm push rolled out
//                            (4 clients in a loop through nginx → varnish → router → dynos)
// "serving" = the edge answers with the pushed code's marker. Uses $DYNOFORM_STACK (default local);
// the stack must be up (npm start). The bench app is destroyed at the end.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { projectEnv } from "../../scripts/project-env.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const stack = process.env.DYNOFORM_STACK || "local";
// The CLI's verbs go to this stack even when this machine has a `dynoform login` elsewhere.
process.env.DYNOFORM_STACK = stack;
const cli = join(root, "scripts", "dynoform.mjs");
const app = `bench-${Date.now().toString(36)}`;
// Resolves and caches the stack's control host and key (fails early with the CLI's own message).
execFileSync("node", [cli, "--stack-info"], { encoding: "utf8" });
const outputs = JSON.parse(
    execFileSync("pulumi", ["stack", "output", "--json", "--stack", stack], {
        encoding: "utf8",
        cwd: root,
        env: projectEnv(),
    }),
);
const edge = new URL(outputs.edgeUrl).hostname;
const hostHeader = `${app}.${outputs.domain}`;

const dynoform = (...args) => execFileSync("node", [cli, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

function get() {
    return new Promise((resolvePromise) => {
        const req = http.get({ host: edge, port: 80, path: "/", headers: { host: hostHeader }, timeout: 10_000, agent: false }, (res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolvePromise({ status: res.statusCode, body }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", (e) => resolvePromise({ status: 0, body: e.message }));
    });
}

/** git push; resolves with the output, each line stamped with its arrival time (s since `t0`). */
function push(dir, t0) {
    return new Promise((resolvePromise, reject) => {
        const child = spawn("git", ["push", "-q", "dynoform", "main"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let partial = "";
        const stamp = (d) => {
            const lines = (partial + d).split("\n");
            partial = lines.pop();
            for (const l of lines) out += `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s ${l}\n`;
        };
        child.stdout.on("data", stamp);
        child.stderr.on("data", stamp);
        child.on("close", (code) => {
            stamp("\n");
            out += `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s (git push returned)\n`;
            if (code === 0) resolvePromise(out);
            else reject(new Error(`git push failed:\n${out}`));
        });
    });
}

async function untilServing(marker, deadlineMs = 300_000) {
    const end = Date.now() + deadlineMs;
    while (Date.now() < end) {
        const r = await get();
        if (r.status === 200 && r.body.includes(marker)) return;
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${marker} not served within ${deadlineMs / 1000} s`);
}

function commit(dir, marker) {
    const file = join(dir, "server.js");
    writeFileSync(file, readFileSync(file, "utf8").replace(/process\.env\.GREETING \|\| "[^"]*"/, `process.env.GREETING || "${marker}"`));
    execFileSync("git", ["add", "-A"], { cwd: dir });
    execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", marker], { cwd: dir });
}

const dir = mkdtempSync(join(tmpdir(), "dynoform-bench-"));
try {
    cpSync(join(root, "examples", "node-counter"), dir, { recursive: true });
    execFileSync("git", ["init", "-q", "-b", "main"], { cwd: dir });
    dynoform("apps:create", app);
    execFileSync("node", [cli, "git:remote", "-a", app], { cwd: dir, stdio: "ignore" });

    commit(dir, "bench-cold");
    let t0 = Date.now();
    const coldOut = await push(dir, t0);
    await untilServing("bench-cold");
    const cold = (Date.now() - t0) / 1000;

    commit(dir, "bench-warm");
    let failed = 0;
    let total = 0;
    let loading = true;
    const client = async () => {
        while (loading) {
            const r = await get();
            total++;
            if (r.status !== 200) failed++;
        }
    };
    const clients = Array.from({ length: 4 }, client);
    t0 = Date.now();
    const warmOut = await push(dir, t0);
    await untilServing("bench-warm");
    const warm = (Date.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 2000)); // old dynos drain while the load continues
    loading = false;
    await Promise.all(clients);

    // Where the time goes: the push output with arrival times (stderr; the figures stay last on stdout).
    console.error(`--- cold push (serving after ${cold.toFixed(1)} s)\n${coldOut}--- warm push (serving after ${warm.toFixed(1)} s)\n${warmOut}`);
    console.log(`push_to_serving_s_warm=${warm.toFixed(1)}`);
    console.log(`push_to_serving_s_cold=${cold.toFixed(1)}`);
    console.log(`failed_requests_during_deploy=${failed}`);
    console.error(`(${total} requests during the warm deploy, app ${app}, stack ${stack})`);
} finally {
    try {
        dynoform("apps:destroy", "-a", app, "--confirm", app);
    } catch (err) {
        console.error(`could not destroy ${app}: ${err.stderr ?? err.message}`);
    }
    rmSync(dir, { recursive: true, force: true });
}
