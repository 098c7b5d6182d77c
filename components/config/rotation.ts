// dynoform:rotation: one counter per kind of secret the stack makes (runbooks/rotate-secrets.mjs).
// Each counter is an input of that kind's GeneratedSecret resources, so raising it gives them a new
// random value on the next `pulumi up`, and every component that holds the secret is updated with
// it in the same run. The counter lives in the stack's config (kept in git with
// stacks/Pulumi.<stack>.yaml), so a rotation is recorded, and a later `pulumi up` never undoes it.
//
// dynoform:rotationPhase: a token that one side presents and another checks is rotated in phases,
// so no request is refused on the way: `accept` (raised with the counter: every checker accepts the
// old and the new value, every sender still sends the old), `switch` (every sender sends the new),
// then the key is removed (every checker accepts the new alone, and the old is dropped from the
// state). Each phase is one `pulumi up`; being in the config, a phase is never undone or opened
// again by a later plain `pulumi up`, and a rotation cut short is finished from its phase.
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
    /** The stack's SSH key: root on every host, what Pulumi and the runbooks connect with (components/secrets/root_key.ts). */
    sshKey: "the stack's SSH key",
} as const;

export type RotatedSecret = keyof typeof ROTATED_SECRETS;
export type Rotation = Record<RotatedSecret, number>;

/** The kinds rotated in phases (dynoform:rotationPhase): each is checked by one side and presented by another. */
export const PHASED_SECRETS = ["routerToken", "agentToken", "logToken", "sshKey"] as const;
export type PhasedSecret = (typeof PHASED_SECRETS)[number];
/** `accept`: checkers accept old and new, senders send the old; `switch`: senders send the new. */
export const ROTATION_PHASES = ["accept", "switch"] as const;
export type RotationPhase = (typeof ROTATION_PHASES)[number];
export type RotationPhases = Partial<Record<PhasedSecret, RotationPhase>>;

/** What a phase means for one secret's holders: which values a checker accepts, which one a sender sends. */
export function phaseRoles(phase: RotationPhase | undefined): { accepted: Array<"current" | "previous">; sent: "current" | "previous" } {
    if (phase === "accept") return { accepted: ["current", "previous"], sent: "previous" };
    if (phase === "switch") return { accepted: ["current", "previous"], sent: "current" };
    return { accepted: ["current"], sent: "current" };
}

/** dynoform:rotationPhase: {routerToken: accept, ...}, only the phased kinds; those it leaves out are in no rotation. */
export function parseRotationPhases(raw: unknown, problems: string[]): RotationPhases {
    const phases: RotationPhases = {};
    if (!isObject(raw)) {
        problems.push(`dynoform:rotationPhase must be a map such as {routerToken: accept} (got ${JSON.stringify(raw)}): runbooks/rotate-secrets.mjs sets it; to finish a rotation run it again`);
        return phases;
    }
    for (const [key, value] of Object.entries(raw)) {
        if (!(PHASED_SECRETS as readonly string[]).includes(key)) {
            problems.push(`dynoform:rotationPhase.${key} is not a secret rotated in phases: those are ${PHASED_SECRETS.join(", ")}`);
            continue;
        }
        if (!(ROTATION_PHASES as readonly unknown[]).includes(value)) {
            problems.push(`dynoform:rotationPhase.${key} must be accept or switch (got ${JSON.stringify(value)}): run runbooks/rotate-secrets.mjs to finish the rotation`);
            continue;
        }
        phases[key as PhasedSecret] = value as RotationPhase;
    }
    return phases;
}

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
