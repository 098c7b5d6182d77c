#!/usr/bin/env node
// bench:deploy — push-to-serving times of examples/node-counter and examples/python-flask, and
// failed requests during a deploy.
//
//   push_to_serving_s_cold   a new app (empty build cache; the shared Node runtime cache may be warm)
//   push_to_serving_s_warm   a second push with a code change, build cache warm
//   failed_requests_during_deploy   requests that did not get a 200 while the warm push rolled out
//                            (4 clients in a loop through nginx → varnish → router → dynos)
//   push_to_serving_s_warm_python   examples/python-flask: a second push with a code change (the
//                            cached venv and pip cache warm; requirements.txt unchanged). Goal < 20 s.
//   slug_mb_python           that app's slug (the venv with its copy of python3, Flask, gunicorn, psycopg)
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

function get(host = hostHeader) {
    return new Promise((resolvePromise) => {
        const req = http.get({ host: edge, port: 80, path: "/", headers: { host, "cache-control": "no-cache" }, timeout: 10_000, agent: false }, (res) => {
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

async function untilServing(marker, deadlineMs = 300_000, host = hostHeader) {
    const end = Date.now() + deadlineMs;
    while (Date.now() < end) {
        const r = await get(host);
        if (r.status === 200 && r.body.includes(marker)) return;
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${marker} not served within ${deadlineMs / 1000} s`);
}

function commit(dir, marker) {
    const file = join(dir, "server.js");
    writeFileSync(file, readFileSync(file, "utf8").replace(/process\.env\.GREETING \|\| "[^"]*"/, `process.env.GREETING || "${marker}"`));
    commitAll(dir, marker);
}

/** examples/python-flask answers {"app": "<marker>", ...}. */
function commitPython(dir, marker) {
    const file = join(dir, "app.py");
    writeFileSync(file, readFileSync(file, "utf8").replace(/app="[^"]*"/, `app="${marker}"`));
    commitAll(dir, marker);
}

function commitAll(dir, marker) {
    execFileSync("git", ["add", "-A"], { cwd: dir });
    execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", marker], { cwd: dir });
}

const dir = mkdtempSync(join(tmpdir(), "dynoform-bench-"));
const pyApp = `${app}-py`;
const pyDir = mkdtempSync(join(tmpdir(), "dynoform-bench-py-"));
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

    // Python: examples/python-flask, cold then warm (a code change; the venv and pip caches warm).
    cpSync(join(root, "examples", "python-flask"), pyDir, { recursive: true });
    execFileSync("git", ["init", "-q", "-b", "main"], { cwd: pyDir });
    dynoform("apps:create", pyApp);
    execFileSync("node", [cli, "git:remote", "-a", pyApp], { cwd: pyDir, stdio: "ignore" });
    const pyHost = `${pyApp}.${outputs.domain}`;
    commitPython(pyDir, "bench-py-cold");
    t0 = Date.now();
    const pyColdOut = await push(pyDir, t0);
    await untilServing('"bench-py-cold"', 300_000, pyHost);
    const pyCold = (Date.now() - t0) / 1000;
    commitPython(pyDir, "bench-py-warm");
    t0 = Date.now();
    const pyWarmOut = await push(pyDir, t0);
    await untilServing('"bench-py-warm"', 300_000, pyHost);
    const pyWarm = (Date.now() - t0) / 1000;
    const info = dynoform("apps:info", "-a", pyApp);
    const size = /Slug Size:\s+([\d.]+)\s*([BKMG])/.exec(info);
    const mb = size ? Number(size[1]) * { B: 1 / 1024 / 1024, K: 1 / 1024, M: 1, G: 1024 }[size[2]] : NaN;
    console.error(`--- python cold push (serving after ${pyCold.toFixed(1)} s)\n${pyColdOut}--- python warm push (serving after ${pyWarm.toFixed(1)} s)\n${pyWarmOut}`);
    console.log(`push_to_serving_s_warm_python=${pyWarm.toFixed(1)}`);
    console.log(`slug_mb_python=${mb.toFixed(1)}`);
} finally {
    for (const a of [app, pyApp]) {
        try {
            dynoform("apps:destroy", "-a", a, "--confirm", a);
        } catch (err) {
            if (!/Couldn't find that app/.test(err.stderr ?? "")) console.error(`could not destroy ${a}: ${err.stderr ?? err.message}`);
        }
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(pyDir, { recursive: true, force: true });
}
