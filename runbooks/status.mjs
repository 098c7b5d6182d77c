#!/usr/bin/env node
// status — every host, service and app of a stack at a glance.
//
// For each host of the stack (its `ssh` output, pinned host keys): whether it answers over SSH and
// the state of each platform service installed there (nginx, varnish, dynoform-router,
// dynoform-agent, dynoform-control, dynoform-firewall, postgresql, each app's memcached, keepalived
// where present). Then the dyno hosts as the control role sees them (up, drained, dynos placed) and
// every app's dynos up against its formation. Whatever is down is red (colour only on a terminal).
//
// Changes nothing: safe to run at any time, as often as wanted. Exits 1 when anything is down.
//
//   node runbooks/status.mjs [--stack STACK]
import { fileURLToPath } from "node:url";
import { dynoformJson } from "./lib/control.mjs";
import { hostStatus } from "./lib/host_services.mjs";
import { parseOptions } from "./lib/options.mjs";
import { bold, green, info, red, run, step } from "./lib/output.mjs";
import { StackHosts } from "./lib/ssh.mjs";
import { stackOutputs } from "./lib/stack.mjs";

const mark = (ok) => (ok ? green("✓") : red("✗"));

async function main() {
    const opts = parseOptions(fileURLToPath(import.meta.url), { usage: "status.mjs" });
    step(`status of stack ${opts.stack}`);
    const outputs = stackOutputs(opts.stack);
    const hosts = new StackHosts(outputs.ssh);
    let down = 0;

    info(bold("\nHosts"));
    for (const s of await Promise.all(hosts.names.map((n) => hostStatus(hosts, n)))) {
        const address = outputs.hosts[s.name] ?? hosts.connections[s.name].host;
        if (!s.reachable) {
            down++;
            info(`${mark(false)} ${s.name} (${address}): ${red(`not reachable over SSH: ${s.why}`)}`);
            continue;
        }
        const bad = s.units.filter((u) => u.active !== "active");
        down += bad.length;
        info(`${mark(bad.length === 0)} ${s.name} (${address})`);
        for (const u of s.units) info(`    ${mark(u.active === "active")} ${u.unit.padEnd(28)} ${u.active === "active" ? u.sub : red(`${u.active} (${u.sub})`)}`);
        if (s.units.length === 0) info(`    ${red("no platform service installed")}`);
    }

    info(bold("\nDyno hosts (control's view)"));
    let controlOk = true;
    const dynoHosts = await dynoformJson(opts.stack, ["hosts"]).catch((err) => {
        controlOk = false;
        info(`${mark(false)} ${red(`the control role did not answer: ${err.message}`)}`);
        return [];
    });
    if (!controlOk) down++;
    for (const h of dynoHosts) {
        if (h.state !== "up") down++;
        info(`${mark(h.state === "up")} ${h.host.padEnd(16)} ${h.state === "up" ? "up" : red(h.state)}${h.drainedSince ? `, drained since ${h.drainedSince}` : ""}, ${h.dynos} dyno${h.dynos === 1 ? "" : "s"}`);
    }

    info(bold("\nApps"));
    const apps = controlOk ? await dynoformJson(opts.stack, ["apps"]) : [];
    if (controlOk && apps.length === 0) info("no apps");
    for (const app of apps) {
        const [appInfo, dynos] = await Promise.all([dynoformJson(opts.stack, ["apps:info", "-a", app]), dynoformJson(opts.stack, ["ps", "-a", app])]);
        const expected = Object.entries(appInfo.formation ?? {}).filter(([, f]) => f.quantity > 0);
        const parts = expected.map(([type, f]) => {
            const up = dynos.filter((d) => d.type === type && d.state === "up").length;
            if (up < f.quantity) down++;
            return up < f.quantity ? red(`${type} ${up}/${f.quantity}`) : `${type} ${up}/${f.quantity}`;
        });
        const ok = expected.every(([type, f]) => dynos.filter((d) => d.type === type && d.state === "up").length >= f.quantity);
        const release = appInfo.release ? `v${appInfo.release.version}` : "no release";
        info(`${mark(ok)} ${app.padEnd(30)} ${release.padEnd(10)} ${parts.join(", ") || "no dynos"}`);
    }

    info("");
    info(down === 0 ? green("everything is up") : red(`${down} thing${down === 1 ? " is" : "s are"} down`));
    return down === 0 ? 0 : 1;
}

run(main);
