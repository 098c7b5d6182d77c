#!/usr/bin/env node
// upgrade — Debian updates host by host, or the stack's new dynoform binaries, checking between.
//
// --debian: for each host (--hosts a,b, or every one) in turn — dyno hosts first, then the edges,
// the data host, the control host last — a dyno host is drained first (`dynoform hosts:drain`: its
// dynos replaced on the other dyno hosts, up before the old ones stop), then `apt-get update &&
// apt-get -y upgrade` (non-interactive, the platform's own config files kept), then it is undrained
// (a host that was drained before is left drained), and the runbook waits until every platform
// service there is active again before it moves to the next host. It does not reboot: a host whose
// kernel or libc changed says "reboot required", to reboot when convenient (drain-host.mjs first).
// Not yet: an edge is not taken out of the floating address while its nginx or varnish restarts.
//
// Without --debian: the binaries of this checkout (`npm run build:binaries`) go out with `pulumi up
// --yes` (streamed), which restarts each service whose binary changed. Pulumi updates the hosts as
// its dependencies allow, not one by one — safe without drains: the routers' listening sockets are
// systemd's (a restart loses no connection) and an agent restart leaves its dynos running
// (KillMode=process; the new agent adopts them). Then every host is checked as above.
//
// Idempotent: an upgraded host has nothing left to upgrade; a cut-short run is finished by running
// it again. Asks before it starts (on a terminal), unless --yes.
//
//   node runbooks/upgrade.mjs [--debian] [--hosts a,b] [--stack STACK] [--yes]
import { fileURLToPath } from "node:url";
import { confirm } from "./lib/confirm.mjs";
import { dynoformJson, dynoformLive } from "./lib/control.mjs";
import { hostStatus } from "./lib/host_services.mjs";
import { parseOptions } from "./lib/options.mjs";
import { fail, info, red, run, step } from "./lib/output.mjs";
import { pulumiUp } from "./lib/pulumi.mjs";
import { StackHosts } from "./lib/ssh.mjs";
import { configHosts, stackConfig } from "./lib/stack_config.mjs";
import { stackOutputs } from "./lib/stack.mjs";
import { DEBIAN_UPGRADE, parseHostList, upgradePlan } from "./lib/upgrade_plan.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits (up to 2 minutes) until `name` answers and every platform service there is active. */
async function waitHealthy(hosts, name) {
    const deadline = Date.now() + 120_000;
    for (;;) {
        const s = await hostStatus(hosts, name);
        const down = s.reachable ? s.units.filter((u) => u.active !== "active").map((u) => `${u.unit} ${u.active}`) : [`not reachable over SSH: ${s.why}`];
        if (down.length === 0) return info(`${name}: ${s.units.map((u) => u.unit).join(", ") || "no platform service"} active`);
        if (Date.now() > deadline) fail(`${name} is not healthy after its upgrade: ${down.join(", ")}. See journalctl on ${name}; the hosts after it were not touched: run upgrade.mjs again once it is fixed`);
        await sleep(3000);
    }
}

async function upgradeDebian(opts, hosts, outputs, plan) {
    for (const p of plan) {
        const address = outputs.hosts[p.name];
        if (p.drain) {
            step(`${p.name}: drain (its dynos move to the other dyno hosts)`);
            await dynoformLive(opts.stack, ["hosts:drain", address]);
        }
        step(`${p.name}: apt-get update && apt-get -y upgrade`);
        const r = await hosts.run(p.name, DEBIAN_UPGRADE, { timeoutSec: 1800 });
        if (r.code !== 0) fail(`apt-get upgrade failed on ${p.name}: ${r.stderr.trim().split("\n").pop()}. ${p.drain ? `It is still drained (undrain-host.mjs ${p.name} when fixed). ` : ""}Run upgrade.mjs again once it is fixed`);
        if (r.stdout.includes("reboot-required")) info(red(`${p.name}: reboot required (kernel or libc): drain-host.mjs ${p.name}, reboot, undrain-host.mjs ${p.name}`));
        if (p.drain) {
            step(`${p.name}: undrain`);
            await dynoformLive(opts.stack, ["hosts:undrain", address]);
        }
        step(`${p.name}: check every platform service is active`);
        await waitHealthy(hosts, p.name);
    }
}

async function main() {
    const opts = parseOptions(fileURLToPath(import.meta.url), { usage: "upgrade.mjs [--debian] [--hosts a,b]", strings: ["hosts"], booleans: ["debian"], asks: true });
    const outputs = stackOutputs(opts.stack);
    const configured = configHosts(stackConfig(opts.stack));
    let only;
    try {
        only = parseHostList(opts.hosts, configured);
    } catch (err) {
        process.stderr.write(`${err.message}\n`);
        return 2;
    }
    const hosts = new StackHosts(outputs.ssh);
    if (!opts.debian) {
        if (only) fail(`--hosts goes with --debian: new binaries go out with one pulumi up on every host that runs them`);
        step(`upgrade stack ${opts.stack} to this checkout's binaries: pulumi up --yes (each service whose binary changed restarts), then every host checked`);
        await confirm(`This runs pulumi up on stack ${opts.stack}`, opts);
        await pulumiUp(opts.stack, `run upgrade.mjs again`);
        for (const name of hosts.names) await waitHealthy(hosts, name);
        info(`stack ${opts.stack} runs this checkout's binaries`);
        return 0;
    }
    const drained = (await dynoformJson(opts.stack, ["hosts"])).filter((h) => h.drainedSince).map((h) => Object.entries(outputs.hosts).find(([, a]) => a === h.host)?.[0]);
    const plan = upgradePlan(configured, { only, drained });
    step(`Debian updates on stack ${opts.stack}, one host at a time: ${plan.map((p) => `${p.name}${p.drain ? " (drained meanwhile)" : ""}`).join(", ")}`);
    await confirm(`This upgrades Debian's packages on ${plan.length} host${plan.length === 1 ? "" : "s"}`, opts);
    await upgradeDebian(opts, hosts, outputs, plan);
    info(`Debian packages upgraded on ${plan.map((p) => p.name).join(", ")}`);
    return 0;
}

run(main);
