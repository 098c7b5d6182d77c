#!/usr/bin/env node
// undrain-host — let a drained dyno host take dynos again.
//
// Asks the control role (`dynoform hosts:undrain`) to remove the host's drained mark. No dyno is
// moved back at once: the next deploys and scales place dynos on it again (placement is sticky and
// spreads each process type across the hosts). Changes nothing running, so it does not ask.
//
// HOST is the stack's host name (dyno-2) or its private address. Idempotent: a host that is not
// drained is left as it is.
//
//   node runbooks/undrain-host.mjs HOST [--stack STACK]
import { fileURLToPath } from "node:url";
import { dynoformJson, dynoformLive } from "./lib/control.mjs";
import { findDynoHost } from "./lib/dyno_hosts.mjs";
import { parseOptions } from "./lib/options.mjs";
import { fail, info, run, step } from "./lib/output.mjs";
import { stackOutputs } from "./lib/stack.mjs";

async function main() {
    const opts = parseOptions(fileURLToPath(import.meta.url), { usage: "undrain-host.mjs HOST", args: { min: 1, max: 1 } });
    const outputs = stackOutputs(opts.stack);
    const host = await findDynoHost(opts.stack, outputs, opts.args[0]);
    const label = `${host.name} (${host.address})`;
    if (!host.status.drainedSince) {
        info(`${label} is not drained: nothing to do`);
        return 0;
    }
    step(`undrain ${label} on stack ${opts.stack}: it takes dynos again from the next deploy or scale`);
    await dynoformLive(opts.stack, ["hosts:undrain", host.address]);
    const after = (await dynoformJson(opts.stack, ["hosts"])).find((h) => h.host === host.address);
    if (after?.drainedSince) fail(`${label} is still drained: see "dynoform hosts" and the control host's journal (journalctl -u dynoform-control)`);
    info(`${label} takes dynos again`);
    return 0;
}

run(main);
