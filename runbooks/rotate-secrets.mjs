#!/usr/bin/env node
// rotate-secrets — give one of the platform's secrets a new value, with no request refused for it.
//
//   --what router-token  the routers' control token (the control role's, to drive the routers)
//   --what agent-token   every dyno host's agent token and router registration credential
//   --what log-token     the log router's control token and every sender's (agents', routers') token
//   --what ssh-key       the stack's SSH key: root on every host, what Pulumi and the runbooks connect with
//   --what pg-admin      the PostgreSQL admin role's password
//   --what app-db -a APP the app's database password: `dynoform pg:credentials:rotate` (DATABASE_URL
//                        changes, a new release restarts the app's dynos with it)
//
// The stack's own secrets are random values Pulumi made and keeps (GeneratedSecret). Each kind has
// a counter in the stack's config, dynoform:rotation (components/config/rotation.ts), that is an
// input of its secrets: raising it gives them new values at the next `pulumi up`, which rewrites
// every file and service that holds them. A counter rather than `pulumi up --replace URN`: it names
// a kind, not resource URNs (one per dyno host, edge, ...) the operator would have to find; it stays
// in the stack's config, so the rotation is recorded and no later `pulumi up` undoes it.
//
// Tokens and the SSH key are each checked by one side and presented by another, so they go through
// three phases, one `pulumi up` each, recorded in dynoform:rotationPhase beside the counter:
//   accept  the counter is raised with it (one `pulumi config set-all`): every checker accepts the
//           old and the new value (a token file holds both, one a line; router.json and
//           logplex.json a digest of each; every host authorizes both keys), every sender still
//           sends the old one;
//   switch  every sender sends the new one (the control role, agents, routers; Pulumi's connections);
//   done    the phase is removed: checkers accept the new value alone, the old one leaves the state.
// Whichever holders a `pulumi up` has reached, what every sender sends is accepted by every checker,
// so a deploy, scale or drain, or a log line, during a rotation is never refused for its token.
// The next phase starts only once the stack's outputs (rotation, rotationPhase) show the last one
// applied. The SSH key: the first rotation moves the hosts from their host source's key (the lab's
// per-machine key, dynoform:sshPrivateKey on servers, the aws and docker root keys) to a key the stack
// makes (components/hosts/stack_root_key.ts); at every point of it Pulumi connects with a key every
// host authorizes, so a rotation cut short never locks the stack out.
//
// Requests while it runs: holders restart in the order Pulumi's dependencies give — routers
// (socket-activated: the listening socket stays open across a restart, connections wait) before
// the agents (KillMode=process: dynos keep running and are adopted) before the control role. The
// PostgreSQL admin password is one step (a role has one password): the control role gets it in the
// same `pulumi up`, after the data host. An app's database password: connections already open stay
// open; a dyno of the old release that opens a new connection after the password changed and
// before it is replaced fails that connection — the app sees one failed query it may retry.
//
// Idempotent: a rotation cut short (a phase set, or a counter raised, that the stack's outputs do
// not show yet) is finished from where it stopped, not raised again. Asks before it starts (on a
// terminal), unless --yes.
//
//   node runbooks/rotate-secrets.mjs --what WHAT [-a APP] [--stack STACK] [--yes]
import { fileURLToPath } from "node:url";
import { databaseAnswers, requireApp } from "./lib/apps.mjs";
import { confirm } from "./lib/confirm.mjs";
import { dynoformLive } from "./lib/control.mjs";
import { parseOptions } from "./lib/options.mjs";
import { fail, info, run, step } from "./lib/output.mjs";
import { pulumiUp } from "./lib/pulumi.mjs";
import { rotationPlan } from "./lib/rotation_plan.mjs";
import { changeConfig, stackConfig } from "./lib/stack_config.mjs";
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

/** The phase and counter the stack's last `pulumi up` applied. */
function appliedRotation(stack, counter) {
    const outputs = stackOutputs(stack);
    return { counter: Number(outputs.rotation?.[counter] ?? 0), phase: outputs.rotationPhase?.[counter] };
}

async function rotateStackSecret(opts, plan) {
    const phases = plan.steps.map((s) => s.name ?? "done").join(" → ");
    if (plan.pending) step(`finish the rotation of ${plan.what} on stack ${opts.stack} (dynoform:rotation.${plan.counter} ${plan.to}): ${phases}, one pulumi up each`);
    else step(`rotate ${plan.what} on stack ${opts.stack}: dynoform:rotation.${plan.counter} ${plan.to - 1} → ${plan.to}, then ${phases}, one pulumi up each`);
    const ups = plan.steps.length === 1 ? "pulumi up" : `pulumi up ${plan.steps.length} times`;
    await confirm(`This makes a new ${plan.what.replace(/^the /, "")} and runs ${ups} on stack ${opts.stack}`, opts);
    const again = `run rotate-secrets.mjs --what ${opts.what} again to finish the rotation from where it stopped`;
    for (const s of plan.steps) {
        step(`${s.name ?? "rotate"}: ${s.says}`);
        changeConfig(opts.stack, s.config);
        await pulumiUp(opts.stack, `The rotation of ${plan.what} is in phase ${s.name ?? "done"}: ${again}`);
        const applied = appliedRotation(opts.stack, plan.counter);
        if (applied.counter !== plan.to || applied.phase !== s.phase) {
            fail(`the stack's outputs say ${plan.counter} ${applied.counter} in phase ${applied.phase ?? "none"}, not ${plan.to} in phase ${s.phase ?? "none"}: ${again}`);
        }
    }
    info(`${plan.what} is rotated (dynoform:rotation.${plan.counter} = ${plan.to}). Check the stack with: node runbooks/status.mjs --stack ${opts.stack}`);
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
    const config = stackConfig(opts.stack);
    const outputs = stackOutputs(opts.stack);
    try {
        plan = rotationPlan({ what: opts.what }, config["dynoform:rotation"] ?? {}, outputs.rotation ?? {}, config["dynoform:rotationPhase"] ?? {}, outputs.rotationPhase ?? {});
    } catch (err) {
        fail(err.message);
    }
    return rotateStackSecret(opts, plan);
}

run(main);
