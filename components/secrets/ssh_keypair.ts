import * as pulumi from "@pulumi/pulumi";

/**
 * An ed25519 SSH key pair made once and kept in the stack's state (the private key as a secret):
 * the key the local `dynoform` CLI pushes and runs verbs with, and the control role's add-ons key
 * for the data host. Self-contained provider (ssh2 only).
 */
const sshKeyPairProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: { comment: string }) {
        const pair = generateEd25519(inputs.comment);
        const publicKey = pair.public.trim().split(/\s+/).slice(0, 2).join(" ");
        return { id: `sshkey-${Date.now().toString(36)}`, outs: { comment: inputs.comment, publicKey, privateKey: pair.private } };
    },
    async diff(_id: string, olds: { comment: string }, news: { comment: string }) {
        const changed = olds.comment !== news.comment;
        return { changes: changed, replaces: changed ? ["comment"] : [] };
    },
};

/**
 * True when OpenSSH can load `privateKey`: ssh2's parser refuses exactly what OpenSSH refuses here
 * ("Load key: error in libcrypto").
 */
export function loadableEd25519(privateKey: string): boolean {
    const parsed = require("ssh2").utils.parseKey(privateKey);
    return !(parsed instanceof Error) && parsed.type === "ssh-ed25519" && parsed.getPublicSSH().length === 51;
}

/**
 * ssh2's generator writes an ed25519 public key whose first byte is zero one byte short (1 key in
 * 256), and OpenSSH then refuses the private key file: such a pair is thrown away and made again.
 */
export function generateEd25519(comment: string, generate = defaultGenerator): { public: string; private: string } {
    for (let attempt = 0; attempt < 32; attempt++) {
        const pair = generate(comment);
        if (loadableEd25519(pair.private)) return pair;
    }
    throw new Error("could not generate a loadable ed25519 key in 32 attempts");
}

function defaultGenerator(comment: string): { public: string; private: string } {
    const pair = require("ssh2").utils.generateKeyPairSync("ed25519", { comment });
    return { public: String(pair.public), private: String(pair.private) };
}

export class SshKeyPair extends pulumi.dynamic.Resource {
    public readonly publicKey!: pulumi.Output<string>;
    public readonly privateKey!: pulumi.Output<string>;

    constructor(name: string, args: { comment: string }, opts?: pulumi.CustomResourceOptions) {
        super(sshKeyPairProvider, name, { comment: args.comment, publicKey: undefined, privateKey: undefined }, { ...opts, additionalSecretOutputs: ["privateKey"] }, "secrets:SshKeyPair");
    }
}
