#!/usr/bin/env node
// rotate-secrets — give one of the platform's secrets a new value.
//
//   --what router-token  the routers' control token (the control role's, to drive the routers)
//   --what agent-token   every dyno host's agent token and router registration credential
//   --what log-token     the log router's control token and every sender's (agents', routers') token
//   --what pg-admin      the PostgreSQL admin role's password
//   --what app-db -a APP the app's database password: `dynoform pg:credentials:rotate` (DATABASE_URL
//                        changes, a new release restarts the app's dynos with it)
//
// The stack's own secrets are random values Pulumi made and keeps (GeneratedSecret). Each kind has
// a counter in the stack's config, dynoform:rotation (components/config/rotation.ts), that is an
// input of its secrets: this runbook raises it (`pulumi config set --path
// dynoform:rotation.<counter>`) and runs `pulumi up`, which replaces those secrets and rewrites every
// file and service that holds them in the same run. A counter rather than `pulumi up --replace URN`:
// it names a kind, not resource URNs (one per dyno host, edge, ...) the operator would have to find;
// it stays in the stack's config, so the rotation is recorded and no later `pulumi up` undoes it.
//
// Requests while it runs: no request a client sends carries any of these secrets, so none is
// refused for holding an old one. What the change does to traffic is each holder's restart, in the
// order Pulumi's dependencies give — routers (socket-activated: the listening socket stays open
// across a restart, connections wait) before the agents (KillMode=process: dynos keep running and
// are adopted) before the control role. What is not yet guaranteed: the routers do not accept the
// old and the new control token side by side, so a deploy, scale or drain started during the
// `pulumi up` can fail against a router that already has the new token (run it again after); log
// lines sent in the same window can be refused. An app's database password: connections already
// open stay open; a dyno of the old release that opens a new connection after the password changed
// and before it is replaced fails that connection — the app sees one failed query it may retry.
//
// Idempotent: a rotation whose `pulumi up` was cut short (the counter raised, the stack not yet
// updated: the stack's `rotation` output is behind its config) is finished, not raised again.
// Asks before it starts (on a terminal), unless --yes.
//
//   node runbooks/rotate-secrets.mjs --what WHAT [-a APP] [--stack STACK] [--yes]
import { fileURLToPath } from "node:url";
import { databaseAnswers, requireApp } from "./lib/apps.mjs";
import { confirm } from "./lib/confirm.mjs";
import { dynoformLive } from "./lib/control.mjs";
import { parseOptions } from "./lib/options.mjs";
import { fail, info, run, step } from "./lib/output.mjs";
import { pulumiText, pulumiUp } from "./lib/pulumi.mjs";
import { rotationPlan } from "./lib/rotation_plan.mjs";
import { stackConfig } from "./lib/stack_config.mjs";
import { stackOutputs } from "./lib/stack.mjs";

async function rotateAppDatabase(opts, plan) {
    await requireApp(opts.stack, plan.app);
    step(`rotate ${plan.what} of ${plan.app} (stack ${opts.stack}): pg:credentials:rotate, then a new release restarts its dynos with the new DATABASE_URL`);
    await confirm(`This gives ${plan.app}'s database role a new password`, opts);
    await dynoformLive(opts.stack, ["pg:credentials:rotate", "-a", plan.app, "--confirm", plan.app]);
    step(`check: ${plan.app}'s database answers with the new DATABASE_URL`);
    if (!(await databaseAnswers(opts.stack, plan.app))) fail(`${plan.app}'s database does not answer with its new DATABASE_URL: try "dynoform pg:psql -a ${plan.app}", then run rotate-secrets.mjs again`);
    info(`${plan.app}'s database password is rotated`);
    return 0;
}

async function rotateStackSecret(opts, plan) {
    const key = `dynoform:rotation.${plan.counter}`;
    if (plan.pending) step(`finish the rotation of ${plan.what} on stack ${opts.stack}: ${key} is ${plan.to} and the stack is not yet updated to it: pulumi up`);
    else step(`rotate ${plan.what} on stack ${opts.stack}: ${key} ${plan.to - 1} → ${plan.to}, then pulumi up replaces the secret and updates every host that holds it`);
    await confirm(`This makes a new ${plan.what.replace(/^the /, "")} and runs pulumi up on stack ${opts.stack}`, opts);
    if (!plan.pending) pulumiText(opts.stack, ["config", "set", "--path", key, String(plan.to)]);
    await pulumiUp(opts.stack, `${key} is raised: run rotate-secrets.mjs --what ${opts.what} again to finish`);
    const applied = stackOutputs(opts.stack).rotation?.[plan.counter];
    if (Number(applied ?? 0) !== plan.to) fail(`the stack's rotation output says ${plan.counter} ${applied ?? 0}, not ${plan.to}: run rotate-secrets.mjs --what ${opts.what} again`);
    info(`${plan.what} is rotated (${key} = ${plan.to}). Check the stack with: node runbooks/status.mjs --stack ${opts.stack}`);
    return 0;
}

async function main() {
    const opts = parseOptions(fileURLToPath(import.meta.url), { usage: "rotate-secrets.mjs --what WHAT [-a APP]", strings: ["what", "app"], alias: { a: "app" }, required: ["what"], asks: true });
    let plan;
    try {
        plan = rotationPlan({ what: opts.what, app: opts.app });
    } catch (err) {
        process.stderr.write(`${err.message}\n`);
        return 2;
    }
    if (plan.kind === "app") return rotateAppDatabase(opts, plan);
    const configured = stackConfig(opts.stack)["dynoform:rotation"] ?? {};
    const applied = stackOutputs(opts.stack).rotation ?? {};
    return rotateStackSecret(opts, rotationPlan({ what: opts.what }, configured, applied));
}

run(main);
