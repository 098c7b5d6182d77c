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

/** The values a checker accepts in `phase`: the current one, and the previous one while senders switch. */
export function acceptedValues(secret: RotatingSecret, phase: RotationPhase | undefined): pulumi.Output<string[]> {
    const withPrevious = phaseRoles(phase).accepted.includes("previous");
    return pulumi.all([secret.value, secret.previous]).apply(([current, previous]) => [current, ...(withPrevious && previous ? [previous] : [])]);
}

/** A checker's token file: the accepted values, one a line (a single value is the file as before rotations). */
export function acceptedFile(secret: RotatingSecret, phase: RotationPhase | undefined): pulumi.Output<string> {
    return pulumi.secret(acceptedValues(secret, phase).apply((values) => values.join("\n")));
}

/** The value a sender sends in `phase`: the previous one until senders switch (the current one when there is none). */
export function sentValue(secret: RotatingSecret, phase: RotationPhase | undefined): pulumi.Output<string> {
    const previousSent = phaseRoles(phase).sent === "previous";
    return pulumi.secret(pulumi.all([secret.value, secret.previous]).apply(([current, previous]) => (previousSent && previous ? previous : current)));
}
