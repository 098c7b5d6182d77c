import * as pulumi from "@pulumi/pulumi";

/** A GeneratedSecret's inputs (and outputs, with `value` and `previous`). */
interface SecretInputs {
    bytes: number;
    rotation?: number;
    keepPrevious?: boolean;
}

/**
 * A random secret made once and kept (as a Pulumi secret) in the stack's state: DB passwords,
 * router/agent tokens. Self-contained so its provider serializes into state without local imports.
 * `rotation` (dynoform:rotation's counter for its kind, components/config/rotation.ts) gives it a
 * new value when it changes; an absent one is 0, so stacks made before it keep their secrets.
 * With `keepPrevious` (a rotation in phases: dynoform:rotationPhase) the value it replaces stays as
 * `previous`, so its holders can accept both while the senders switch; once `keepPrevious` is
 * dropped, `previous` is dropped from the state too. A change of `rotation` is an update, not a
 * replacement, for that reason.
 */
export const generatedSecretProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: SecretInputs) {
        const value = require("crypto").randomBytes(inputs.bytes).toString("hex");
        return { id: `secret-${Date.now().toString(36)}`, outs: { bytes: inputs.bytes, ...(inputs.rotation ? { rotation: inputs.rotation } : {}), ...(inputs.keepPrevious ? { keepPrevious: true } : {}), value } };
    },
    async diff(_id: string, olds: SecretInputs, news: SecretInputs) {
        const replaces = olds.bytes !== news.bytes ? ["bytes"] : [];
        const rotated = (olds.rotation ?? 0) !== (news.rotation ?? 0);
        return { changes: replaces.length > 0 || rotated || Boolean(olds.keepPrevious) !== Boolean(news.keepPrevious), replaces };
    },
    async update(_id: string, olds: SecretInputs & { value: string; previous?: string }, news: SecretInputs) {
        const rotated = (olds.rotation ?? 0) !== (news.rotation ?? 0);
        const value = rotated ? require("crypto").randomBytes(news.bytes).toString("hex") : olds.value;
        // The value it had before this rotation, kept only while the rotation runs; a phase set
        // without a rotation keeps none (it would be an older, dropped value).
        const previous = news.keepPrevious ? (rotated ? olds.value : olds.previous) : undefined;
        return { outs: { bytes: news.bytes, ...(news.rotation ? { rotation: news.rotation } : {}), ...(news.keepPrevious ? { keepPrevious: true } : {}), value, ...(previous ? { previous } : {}) } };
    },
};

export class GeneratedSecret extends pulumi.dynamic.Resource {
    public readonly value!: pulumi.Output<string>;
    /** During a rotation in phases: the value before it (else undefined). */
    public readonly previous!: pulumi.Output<string | undefined>;

    constructor(name: string, args: { bytes?: number; rotation?: number; keepPrevious?: boolean } = {}, opts?: pulumi.CustomResourceOptions) {
        super(
            generatedSecretProvider,
            name,
            // No rotation input until the first rotation: a stack's existing secrets see no change.
            { bytes: args.bytes ?? 24, ...(args.rotation ? { rotation: args.rotation } : {}), ...(args.keepPrevious ? { keepPrevious: true } : {}), value: undefined, previous: undefined },
            { ...opts, additionalSecretOutputs: ["value", "previous"] },
            "secrets:GeneratedSecret",
        );
    }
}
