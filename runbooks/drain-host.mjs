#!/usr/bin/env node
// drain-host — move every dyno off a dyno host and place no new one there, without a failed request.
//
// Asks the control role (`dynoform hosts:drain`) to mark the host drained — placement then gives it
// no dyno, for deploys, scaling and the placement loop alike — and to move each app's dynos that run
// there to the other dyno hosts: each replacement starts elsewhere and passes its boot check (web:
// bound $PORT and registered with every router) before the dyno it replaces is stopped, which then
// finishes its in-flight requests. Then checks that control counts no dyno left on the host.
//
// HOST is the stack's host name (dyno-2) or its private address. Idempotent: a host already drained
// with no dyno left is left as it is; a drain cut short is finished by running it again. Undo with
// undrain-host.mjs. Asks before it starts (on a terminal), unless --yes.
//
//   node runbooks/drain-host.mjs HOST [--stack STACK] [--yes]
import { fileURLToPath } from "node:url";
import { confirm } from "./lib/confirm.mjs";
import { dynoformJson, dynoformLive } from "./lib/control.mjs";
import { findDynoHost } from "./lib/dyno_hosts.mjs";
import { parseOptions } from "./lib/options.mjs";
import { fail, info, run, step } from "./lib/output.mjs";
import { stackOutputs } from "./lib/stack.mjs";

async function main() {
    const opts = parseOptions(fileURLToPath(import.meta.url), { usage: "drain-host.mjs HOST", args: { min: 1, max: 1 }, asks: true });
    const outputs = stackOutputs(opts.stack);
    const host = await findDynoHost(opts.stack, outputs, opts.args[0]);
    const label = `${host.name} (${host.address})`;
    if (host.status.drainedSince && host.status.dynos === 0) {
        info(`${label} is drained since ${host.status.drainedSince} and runs no dyno: nothing to do`);
        return 0;
    }
    const others = host.all.filter((h) => h.host !== host.address && h.state === "up" && !h.drainedSince);
    if (others.length === 0) fail(`${label} is the last undrained dyno host that answers: its dynos would have nowhere to go. Undrain or add another dyno host first`);
    step(`drain ${label} on stack ${opts.stack}: no new dyno goes there, and its ${host.status.dynos} dyno${host.status.dynos === 1 ? "" : "s"} move to ${others.map((h) => h.host).join(", ")} (each replacement up before the dyno it replaces stops)`);
    await confirm(`This moves every dyno off ${label}`, opts);
    await dynoformLive(opts.stack, ["hosts:drain", host.address]);
    step(`check: control counts no dyno on ${label}`);
    const after = (await dynoformJson(opts.stack, ["hosts"])).find((h) => h.host === host.address);
    if (!after?.drainedSince || after.dynos !== 0) fail(`${label} still has ${after?.dynos ?? "?"} dynos placed: run drain-host.mjs ${opts.args[0]} again, and see "dynoform hosts" and the control host's journal (journalctl -u dynoform-control)`);
    info(`${label} is drained and runs no dyno. Undo with: node runbooks/undrain-host.mjs ${opts.args[0]} --stack ${opts.stack}`);
    return 0;
}

run(main);
