// What rotate-secrets.mjs does for each --what: a stack-made secret is rotated by raising its
// counter in dynoform:rotation (components/config/rotation.ts) and running `pulumi up`; an app's
// database password by `dynoform pg:credentials:rotate`. Pure: the runbook carries the plan out.

/** --what → its counter in dynoform:rotation, or the app verb. */
export const WHATS = {
    "router-token": { counter: "routerToken", what: "the routers' control token" },
    "agent-token": { counter: "agentToken", what: "every dyno host's agent token and registration credential" },
    "log-token": { counter: "logToken", what: "the log router's control token and every sender's token" },
    "pg-admin": { counter: "pgAdmin", what: "the PostgreSQL admin password" },
    "app-db": { what: "the app's database password (its DATABASE_URL)" },
};

/**
 * The plan for `what` ({what, app}) given the stack's config counters and those its last `pulumi up`
 * applied (the `rotation` output): {kind: "app", app} or {kind: "stack", counter, to, pending}, where
 * `pending` means a rotation was set but its `pulumi up` did not finish: it is finished, not raised again.
 */
export function rotationPlan({ what, app }, configured = {}, applied = {}) {
    const spec = WHATS[what];
    if (!spec) throw new Error(`--what ${what ?? "(none)"}: rotate one of ${Object.keys(WHATS).join(", ")}`);
    if (what === "app-db") {
        if (!app) throw new Error(`--what app-db rotates one app's database password: pass -a APP`);
        return { kind: "app", app, what: spec.what };
    }
    if (app) throw new Error(`--what ${what} is the stack's, not an app's: drop -a ${app}`);
    const now = Number(configured[spec.counter] ?? 0);
    const done = Number(applied[spec.counter] ?? 0);
    return { kind: "stack", counter: spec.counter, what: spec.what, pending: now > done, to: now > done ? now : now + 1 };
}
