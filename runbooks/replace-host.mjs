#!/usr/bin/env node
// replace-host — retire a dyno or edge host, or put a dead one behind you: its dynos elsewhere, the
// host out of the stack's config, `pulumi up`.
//
// 1. A dyno host that answers is drained (`dynoform hosts:drain`: each dyno replaced elsewhere, up
//    before the old one stops). One that does not answer needs nothing asked: control's placement
//    loop already moves the dynos of hosts that stop answering (packages/control/src/reconcile.ts);
//    the runbook waits (up to 5 minutes) until control counts none there.
// 2. The host's entry is removed from the stack's dynoform:hosts (`pulumi config rm --path
//    'dynoform:hosts[N]'`), after the diff is shown and confirmed.
// 3. `pulumi up --yes`, its output streamed: the host's services go, every router, agent and the
//    control role forget it. Add the host that replaces it to dynoform:hosts and pulumi up again.
//
// It refuses the control host, the data host, the last edge or dyno host, and the backup host
// (each says what to do first). A host that is gone: `pulumi up` still has to delete what it
// recorded on that host and cannot reach it; when that fails the runbook says how to take those
// resources out of the stack's state.
//
// Idempotent: a host already out of dynoform:hosts whose removal `pulumi up` did not finish (the
// stack's outputs still list it) gets that `pulumi up`; one out of both: nothing to do. Asks before
// it changes the config (on a terminal), unless --yes.
//
//   node runbooks/replace-host.mjs HOST [--stack STACK] [--yes]
import { fileURLToPath } from "node:url";
import { confirm } from "./lib/confirm.mjs";
import { dynoformJson, dynoformLive } from "./lib/control.mjs";
import { entryLines, removalPlan } from "./lib/host_removal.mjs";
import { parseOptions } from "./lib/options.mjs";
import { fail, info, red, run, step } from "./lib/output.mjs";
import { pulumiText, pulumiUp } from "./lib/pulumi.mjs";
import { StackHosts } from "./lib/ssh.mjs";
import { configHosts, stackConfig } from "./lib/stack_config.mjs";
import { stackOutputs } from "./lib/stack.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Moves the dynos off a dyno host: a drain when it answers, else control's placement loop (waited for). */
async function emptyDynoHost(opts, hosts, name, address) {
    const status = (await dynoformJson(opts.stack, ["hosts"])).find((h) => h.host === address);
    if (!status || status.dynos === 0) return info(`${name} runs no dyno`);
    const reachable = (await hosts.run(name, "true\n", { timeoutSec: 15 })).code === 0;
    if (reachable && status.state === "up") {
        step(`drain ${name} (${address}): its ${status.dynos} dynos move to the other dyno hosts`);
        await dynoformLive(opts.stack, ["hosts:drain", address]);
        return undefined;
    }
    step(`${name} does not answer: wait for control's placement loop to move its ${status.dynos} dynos elsewhere`);
    const deadline = Date.now() + 5 * 60_000;
    for (;;) {
        const now = (await dynoformJson(opts.stack, ["hosts"])).find((h) => h.host === address);
        if (!now || now.dynos === 0) return info(`control counts no dyno on ${name}`);
        if (Date.now() > deadline) fail(`control still counts ${now.dynos} dynos on ${name} after 5 minutes: see "dynoform hosts", "dynoform ps -a APP" and journalctl -u dynoform-control on the control host, then run replace-host.mjs again`);
        await sleep(5000);
    }
}

async function main() {
    const opts = parseOptions(fileURLToPath(import.meta.url), { usage: "replace-host.mjs HOST", args: { min: 1, max: 1 }, asks: true });
    const name = opts.args[0];
    const outputs = stackOutputs(opts.stack);
    const config = stackConfig(opts.stack);
    const hosts = configHosts(config);
    const upThen = `take out of the stack's state what pulumi could not delete on ${name} (pulumi stack --show-urns --stack ${opts.stack} lists them; pulumi state delete URN), then run replace-host.mjs ${name} again`;

    if (!hosts.some((h) => h.name === name)) {
        if (!(name in (outputs.hosts ?? {}))) {
            info(`${name} is neither in dynoform:hosts nor in the stack: nothing to do`);
            return 0;
        }
        step(`${name} is out of dynoform:hosts, but the stack still has it: pulumi up`);
        await pulumiUp(opts.stack, upThen);
        info(`${name} is removed from stack ${opts.stack}`);
        return 0;
    }

    let plan;
    try {
        plan = removalPlan(hosts, name, { backupHost: config["dynoform:backupHost"] });
    } catch (err) {
        fail(err.message);
    }
    const sshHosts = new StackHosts(outputs.ssh);
    if ((plan.entry.roles ?? []).includes("dyno")) await emptyDynoHost(opts, sshHosts, name, outputs.hosts[name] ?? plan.entry.address);

    step(`remove ${name} from stack ${opts.stack}'s dynoform:hosts (stacks/Pulumi.${opts.stack}.yaml), then pulumi up:`);
    for (const line of entryLines(plan.entry)) info(red(line));
    await confirm(`This removes ${name} from stack ${opts.stack} and runs pulumi up`, opts);
    pulumiText(opts.stack, ["config", "rm", "--path", `dynoform:hosts[${plan.index}]`]);
    if (configHosts(stackConfig(opts.stack)).some((h) => h.name === name)) fail(`${name} is still in dynoform:hosts after pulumi config rm: edit stacks/Pulumi.${opts.stack}.yaml by hand, then run replace-host.mjs again`);
    step(`pulumi up --stack ${opts.stack}`);
    await pulumiUp(opts.stack, upThen);
    info(`${name} is removed from stack ${opts.stack}. Add the host that replaces it to dynoform:hosts and run pulumi up; check with: node runbooks/status.mjs --stack ${opts.stack}`);
    return 0;
}

run(main);
