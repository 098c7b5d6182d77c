// What rotate-secrets.mjs does for each --what: a stack-made secret is rotated by raising its
// counter in dynoform:rotation (components/config/rotation.ts) and running `pulumi up`; a secret
// one side presents and another checks goes through phases in dynoform:rotationPhase, one
// `pulumi up` each: accept (every checker accepts the old and the new, every sender still sends the
// old), switch (every sender sends the new), done (the phase removed: checkers accept the new alone).
// An app's database password goes through `dynoform pg:credentials:rotate`. Pure: the runbook
// carries the plan out.

/** --what → its counter in dynoform:rotation (`phased`: rotated in phases), or the app verb. */
export const WHATS = {
    "router-token": { counter: "routerToken", phased: true, what: "the routers' control token" },
    "agent-token": { counter: "agentToken", phased: true, what: "every dyno host's agent token and registration credential" },
    "log-token": { counter: "logToken", phased: true, what: "the log router's control token and every sender's token" },
    "ssh-key": { counter: "sshKey", phased: true, what: "the stack's SSH key (root on every host)" },
    "pg-admin": { counter: "pgAdmin", what: "the PostgreSQL admin password" },
    "app-db": { what: "the app's database password (its DATABASE_URL)" },
};

/** What each phase's `pulumi up` does, by kind of holder. */
const SAYS = {
    accept: "every holder that checks it accepts the old and the new value; every one that presents it still presents the old",
    switch: "every holder that presents it switches to the new value; the old one is still accepted",
    done: "the old value is no longer accepted anywhere, and is dropped",
};
const SAYS_SSH = {
    accept: "every host authorizes the new key beside the old one; Pulumi still connects with the old",
    switch: "Pulumi (and the runbooks, through the ssh output) connect with the new key; the old one is still authorized",
    done: "every host stops authorizing the old key",
};

const counterKey = (counter) => `dynoform:rotation.${counter}`;
const phaseKey = (counter) => `dynoform:rotationPhase.${counter}`;

/**
 * The plan for `what` ({what, app}) given the stack's config counters and phases and those its last
 * `pulumi up` applied (the `rotation` and `rotationPhase` outputs): {kind: "app", app} or {kind:
 * "stack", counter, to, pending, steps}. Each step is one `pulumi up` after a config change
 * (`config`: {set: {key: value}} written at once, {rm: key}, or null when the config already says
 * it), and then the stack's outputs must show `phase` (undefined: none) and the counter at `to`.
 * `pending`: a rotation was started and is finished from where it stopped, never raised again.
 */
export function rotationPlan({ what, app }, configured = {}, applied = {}, configuredPhase = {}, appliedPhase = {}) {
    const spec = WHATS[what];
    if (!spec) throw new Error(`--what ${what ?? "(none)"}: rotate one of ${Object.keys(WHATS).join(", ")}`);
    if (what === "app-db") {
        if (!app) throw new Error(`--what app-db rotates one app's database password: pass -a APP`);
        return { kind: "app", app, what: spec.what };
    }
    if (app) throw new Error(`--what ${what} is the stack's, not an app's: drop -a ${app}`);
    const { counter } = spec;
    const now = Number(configured[counter] ?? 0);
    const done = Number(applied[counter] ?? 0);
    const base = { kind: "stack", counter, what: spec.what };
    if (!spec.phased) {
        const pending = now > done;
        const to = pending ? now : now + 1;
        return { ...base, pending, to, steps: [{ phase: undefined, says: "every holder gets the new value", config: pending ? null : { set: { [counterKey(counter)]: String(to) } } }] };
    }
    const says = what === "ssh-key" ? SAYS_SSH : SAYS;
    const step = (phase, config) => ({ phase: phase === "done" ? undefined : phase, name: phase, says: says[phase], config });
    const accept = (config) => step("accept", config);
    const toSwitch = step("switch", { set: { [phaseKey(counter)]: "switch" } });
    const finish = step("done", { rm: phaseKey(counter) });
    const phase = configuredPhase[counter];
    if (phase === "accept") return { ...base, pending: true, to: now, steps: [accept(null), toSwitch, finish] };
    if (phase === "switch") return { ...base, pending: true, to: now, steps: [step("switch", null), finish] };
    if (phase !== undefined) throw new Error(`${phaseKey(counter)} is ${JSON.stringify(phase)}, not accept or switch: set it to the phase the rotation reached (pulumi config set --path ${phaseKey(counter)} accept), then run rotate-secrets.mjs again`);
    // The phase removed but its pulumi up cut short: finish it.
    if (appliedPhase[counter] !== undefined && now === done) return { ...base, pending: true, to: now, steps: [step("done", null)] };
    // Raised without a phase (by hand, or by a rotate-secrets.mjs from before phases): the
    // holders may not all have the new value yet, so it goes through the phases from the start.
    if (now > done) return { ...base, pending: true, to: now, steps: [accept({ set: { [phaseKey(counter)]: "accept" } }), toSwitch, finish] };
    const to = now + 1;
    return { ...base, pending: false, to, steps: [accept({ set: { [counterKey(counter)]: String(to), [phaseKey(counter)]: "accept" } }), toSwitch, finish] };
}
