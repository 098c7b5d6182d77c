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
// With a floating address, an edge first hands it to another edge (its keepalived stopped and
// masked, the runbook waits until another edge holds the address) and takes part again after, so
// its nginx and Varnish restart with no client on them; a request in flight at either move of the
// address is lost (VRRP moves the address, not the connections on it).
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
import { DEBIAN_UPGRADE, HAND_BACK, HAND_OFF, parseHostList, upgradePlan } from "./lib/upgrade_plan.mjs";

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

/** The edge holding `floating` now, among `edges` (undefined: none answers for it). */
async function holderOf(hosts, edges, floating) {
    for (const name of edges) {
        const r = await hosts.run(name, `ip -o -4 addr show | grep -qF ' ${floating}/' && echo holds || true\n`, { timeoutSec: 15 });
        if (r.stdout.includes("holds")) return name;
    }
    return undefined;
}

/** Stops `name`'s keepalived and waits (up to 30 s) until another edge holds the floating address. */
async function handOff(hosts, name, edges, floating) {
    step(`${name}: hand the floating address ${floating} to another edge (keepalived stopped meanwhile)`);
    const r = await hosts.run(name, HAND_OFF);
    if (r.code !== 0) fail(`could not stop keepalived on ${name}: ${r.stderr.trim()}. Nothing was upgraded there: run upgrade.mjs again`);
    const deadline = Date.now() + 30_000;
    for (;;) {
        const holder = await holderOf(hosts, edges, floating);
        if (holder && holder !== name) return info(`${holder} holds ${floating}`);
        if (Date.now() > deadline) {
            await hosts.run(name, HAND_BACK);
            fail(`no other edge took ${floating} within 30 s of keepalived stopping on ${name} (${holder ? `${holder} still holds it` : "no edge holds it"}): see journalctl -u keepalived on the edges; ${name} was not upgraded and its keepalived is started again`);
        }
        await sleep(500);
    }
}

/** `floating`: the stack's floating address and `edges` the names of the edges that may hold it. */
async function upgradeDebian(opts, hosts, outputs, plan, { floating, edges }) {
    for (const p of plan) {
        const address = outputs.hosts[p.name];
        if (p.drain) {
            step(`${p.name}: drain (its dynos move to the other dyno hosts)`);
            await dynoformLive(opts.stack, ["hosts:drain", address]);
        }
        if (p.handOff) await handOff(hosts, p.name, edges, floating);
        step(`${p.name}: apt-get update && apt-get -y upgrade`);
        const r = await hosts.run(p.name, DEBIAN_UPGRADE, { timeoutSec: 1800 });
        if (r.code !== 0) fail(`apt-get upgrade failed on ${p.name}: ${r.stderr.trim().split("\n").pop()}. ${p.drain ? `It is still drained (undrain-host.mjs ${p.name} when fixed). ` : ""}Run upgrade.mjs again once it is fixed`);
        if (r.stdout.includes("reboot-required")) info(red(`${p.name}: reboot required (kernel or libc): drain-host.mjs ${p.name}, reboot, undrain-host.mjs ${p.name}`));
        if (p.drain) {
            step(`${p.name}: undrain`);
            await dynoformLive(opts.stack, ["hosts:undrain", address]);
        }
        if (p.handOff) {
            step(`${p.name}: takes part in the floating address again (keepalived started)`);
            const back = await hosts.run(p.name, HAND_BACK);
            if (back.code !== 0) fail(`could not start keepalived on ${p.name}: ${back.stderr.trim()}. The other edges hold ${floating}; fix it, then run upgrade.mjs again`);
        }
        step(`${p.name}: check every platform service is active`);
        await waitHealthy(hosts, p.name);
    }
}

async function main() {
    const opts = parseOptions(fileURLToPath(import.meta.url), { usage: "upgrade.mjs [--debian] [--hosts a,b]", strings: ["hosts"], booleans: ["debian"], asks: true });
    const outputs = stackOutputs(opts.stack);
    const config = stackConfig(opts.stack);
    const configured = configHosts(config);
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
    const floating = config["dynoform:floatingAddress"];
    const plan = upgradePlan(configured, { only, drained, floatingAddress: floating });
    const meanwhile = (p) => (p.drain ? " (drained meanwhile)" : p.handOff ? " (out of the floating address meanwhile)" : "");
    step(`Debian updates on stack ${opts.stack}, one host at a time: ${plan.map((p) => `${p.name}${meanwhile(p)}`).join(", ")}`);
    await confirm(`This upgrades Debian's packages on ${plan.length} host${plan.length === 1 ? "" : "s"}`, opts);
    const edges = configured.filter((h) => (h.roles ?? []).includes("edge")).map((h) => h.name);
    await upgradeDebian(opts, hosts, outputs, plan, { floating, edges });
    info(`Debian packages upgraded on ${plan.map((p) => p.name).join(", ")}`);
    return 0;
}

run(main);
