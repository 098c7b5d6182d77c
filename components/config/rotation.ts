// dynoform:rotation: one counter per kind of secret the stack makes (runbooks/rotate-secrets.mjs).
// Each counter is an input of that kind's GeneratedSecret resources, so raising it replaces them —
// a new random value — on the next `pulumi up`, and every component that holds the secret is
// updated with it in the same run. The counter lives in the stack's config (kept in git with
// stacks/Pulumi.<stack>.yaml), so a rotation is recorded, and a later `pulumi up` never undoes it.
import { isObject, wholeNumber } from "./values";

/** The kinds of secret a counter rotates, by their key in dynoform:rotation. */
export const ROTATED_SECRETS = {
    /** The routers' control token (the control role's alone). */
    routerToken: "the routers' control token",
    /** Each dyno host's agent token and router registration credential. */
    agentToken: "the dyno hosts' agent tokens and registration credentials",
    /** The log router's control token and every sender's token. */
    logToken: "the log router's tokens",
    /** The PostgreSQL admin role's password. */
    pgAdmin: "the PostgreSQL admin password",
} as const;

export type RotatedSecret = keyof typeof ROTATED_SECRETS;
export type Rotation = Record<RotatedSecret, number>;

/** dynoform:rotation: {routerToken: 2, ...}, whole numbers, known keys only; those it leaves out are 0. */
export function parseRotation(raw: unknown, problems: string[]): Rotation {
    const rotation = Object.fromEntries(Object.keys(ROTATED_SECRETS).map((k) => [k, 0])) as Rotation;
    if (!isObject(raw)) {
        problems.push(`dynoform:rotation must be a map of counters such as {routerToken: 1} (got ${JSON.stringify(raw)}): runbooks/rotate-secrets.mjs sets it`);
        return rotation;
    }
    for (const [key, value] of Object.entries(raw)) {
        if (!(key in ROTATED_SECRETS)) {
            problems.push(`dynoform:rotation.${key} is not a secret the stack rotates: the counters are ${Object.keys(ROTATED_SECRETS).join(", ")}`);
            continue;
        }
        const n = wholeNumber(value, 0, 1_000_000);
        if (n === undefined) {
            problems.push(`dynoform:rotation.${key} must be a whole number from 0 (got ${JSON.stringify(value)}): runbooks/rotate-secrets.mjs raises it by one`);
            continue;
        }
        rotation[key as RotatedSecret] = n;
    }
    return rotation;
}
