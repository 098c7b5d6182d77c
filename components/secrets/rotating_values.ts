// Which of a GeneratedSecret's values each holder gets during a rotation in phases
// (dynoform:rotationPhase, components/config/rotation.ts): a checker's token file holds every value
// it accepts, one a line (the services read it so: packages/contract/src/accepted_tokens.ts), a
// sender holds the one it sends.
import * as pulumi from "@pulumi/pulumi";
import { phaseRoles, RotationPhase } from "../config/rotation";

export interface RotatingSecret {
    value: pulumi.Output<string>;
    previous: pulumi.Output<string | undefined>;
}

/**
 * The values a checker accepts in `phase`: the current one, and the previous one while senders
 * switch. `previous` is read only then: a secret whose state has none (every one outside a
 * rotation) gives an unknown `previous` in a preview, which would show every holder as changed.
 */
export function acceptedValues(secret: RotatingSecret, phase: RotationPhase | undefined): pulumi.Output<string[]> {
    if (!phaseRoles(phase).accepted.includes("previous")) return secret.value.apply((current) => [current]);
    return pulumi.all([secret.value, secret.previous]).apply(([current, previous]) => [current, ...(previous ? [previous] : [])]);
}

/** A checker's token file: the accepted values, one a line (a single value is the file as before rotations). */
export function acceptedFile(secret: RotatingSecret, phase: RotationPhase | undefined): pulumi.Output<string> {
    return pulumi.secret(acceptedValues(secret, phase).apply((values) => values.join("\n")));
}

/** The value a sender sends in `phase`: the previous one until senders switch (the current one when there is none); `previous` read only then. */
export function sentValue(secret: RotatingSecret, phase: RotationPhase | undefined): pulumi.Output<string> {
    if (phaseRoles(phase).sent !== "previous") return pulumi.secret(secret.value);
    return pulumi.secret(pulumi.all([secret.value, secret.previous]).apply(([current, previous]) => previous || current));
}
