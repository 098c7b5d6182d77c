import * as pulumi from "@pulumi/pulumi";

/**
 * An ed25519 SSH key pair made once and kept in the stack's state (the private key as a secret):
 * the key the local `dynoform` CLI pushes and runs verbs with, and the control role's add-ons key
 * for the data host. Self-contained provider (ssh2 only).
 */
const sshKeyPairProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { comment: string }) {
        const pair = require("ssh2").utils.generateKeyPairSync("ed25519", { comment: inputs.comment });
        const publicKey = String(pair.public).trim().split(/\s+/).slice(0, 2).join(" ");
        return { id: `sshkey-${Date.now().toString(36)}`, outs: { comment: inputs.comment, publicKey, privateKey: String(pair.private) } };
    },
    async diff(_id: string, olds: { comment: string }, news: { comment: string }) {
        const changed = olds.comment !== news.comment;
        return { changes: changed, replaces: changed ? ["comment"] : [] };
    },
};

export class SshKeyPair extends pulumi.dynamic.Resource {
    public readonly publicKey!: pulumi.Output<string>;
    public readonly privateKey!: pulumi.Output<string>;

    constructor(name: string, args: { comment: string }, opts?: pulumi.CustomResourceOptions) {
        super(sshKeyPairProvider, name, { comment: args.comment, publicKey: undefined, privateKey: undefined }, { ...opts, additionalSecretOutputs: ["privateKey"] }, "secrets:SshKeyPair");
    }
}
