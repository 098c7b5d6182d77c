import * as pulumi from "@pulumi/pulumi";

/**
 * A random secret made once and kept (as a Pulumi secret) in the stack's state: DB passwords,
 * router/agent tokens. Self-contained so its provider serializes into state without local imports.
 */
const generatedSecretProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { bytes: number }) {
        const value = require("crypto").randomBytes(inputs.bytes).toString("hex");
        return { id: `secret-${Date.now().toString(36)}`, outs: { bytes: inputs.bytes, value } };
    },
    async diff(_id: string, olds: { bytes: number }, news: { bytes: number }) {
        return { changes: olds.bytes !== news.bytes, replaces: olds.bytes !== news.bytes ? ["bytes"] : [] };
    },
};

export class GeneratedSecret extends pulumi.dynamic.Resource {
    public readonly value!: pulumi.Output<string>;

    constructor(name: string, args: { bytes?: number } = {}, opts?: pulumi.CustomResourceOptions) {
        super(
            generatedSecretProvider,
            name,
            { bytes: args.bytes ?? 24, value: undefined },
            { ...opts, additionalSecretOutputs: ["value"] },
            "secrets:GeneratedSecret",
        );
    }
}
