import * as pulumi from "@pulumi/pulumi";

/**
 * A random secret made once and kept (as a Pulumi secret) in the stack's state: DB passwords,
 * router/agent tokens. Self-contained so its provider serializes into state without local imports.
 * `rotation` (dynoform:rotation's counter for its kind, components/config/rotation.ts) replaces it
 * with a new value when it changes; an absent one is 0, so stacks made before it keep their secrets.
 */
export const generatedSecretProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { bytes: number; rotation?: number }) {
        const value = require("crypto").randomBytes(inputs.bytes).toString("hex");
        return { id: `secret-${Date.now().toString(36)}`, outs: { bytes: inputs.bytes, ...(inputs.rotation ? { rotation: inputs.rotation } : {}), value } };
    },
    async diff(_id: string, olds: { bytes: number; rotation?: number }, news: { bytes: number; rotation?: number }) {
        const replaces = [...(olds.bytes !== news.bytes ? ["bytes"] : []), ...((olds.rotation ?? 0) !== (news.rotation ?? 0) ? ["rotation"] : [])];
        return { changes: replaces.length > 0, replaces };
    },
};

export class GeneratedSecret extends pulumi.dynamic.Resource {
    public readonly value!: pulumi.Output<string>;

    constructor(name: string, args: { bytes?: number; rotation?: number } = {}, opts?: pulumi.CustomResourceOptions) {
        super(
            generatedSecretProvider,
            name,
            // No rotation input until the first rotation: a stack's existing secrets see no change.
            { bytes: args.bytes ?? 24, ...(args.rotation ? { rotation: args.rotation } : {}), value: undefined },
            { ...opts, additionalSecretOutputs: ["value"] },
            "secrets:GeneratedSecret",
        );
    }
}
