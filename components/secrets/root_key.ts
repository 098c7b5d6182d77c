import * as pulumi from "@pulumi/pulumi";
import { generateEd25519 } from "./ssh_keypair";

interface RootKeyInputs {
    comment: string;
    rotation: number;
}

interface RootKeyOutputs extends RootKeyInputs {
    publicKey: string;
    privateKey: string;
    previousPublicKey?: string;
    previousPrivateKey?: string;
}

const newPair = (comment: string): { publicKey: string; privateKey: string } => {
    const pair = generateEd25519(comment);
    return { publicKey: pair.public.trim().split(/\s+/).slice(0, 2).join(" "), privateKey: pair.private };
};

/**
 * The stack's SSH key (dynoform:rotation.sshKey, components/hosts/stack_root_key.ts): an ed25519
 * pair made at the first rotation. A raised `rotation` is an update that makes a new pair and keeps
 * the one it replaces as `previous*`: Pulumi connects with it until every host authorizes the new
 * one, and the last phase removes its public key from every host. It stays in the state until the
 * next rotation (no host authorizes it by then), so a rotation cut short, or a counter raised by
 * hand, can always go back to connecting with it.
 */
export const rootKeyProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: RootKeyInputs) {
        // The previous pair is "" (none) rather than absent: an absent output is unknown in a
        // preview, and every host's connection waits on it.
        return { id: `rootkey-${Date.now().toString(36)}`, outs: { ...inputs, ...newPair(inputs.comment), previousPublicKey: "", previousPrivateKey: "" } };
    },
    async diff(_id: string, olds: RootKeyOutputs, news: RootKeyInputs) {
        const replaces = olds.comment !== news.comment ? ["comment"] : [];
        return { changes: replaces.length > 0 || olds.rotation !== news.rotation, replaces };
    },
    async update(_id: string, olds: RootKeyOutputs, news: RootKeyInputs) {
        if (olds.rotation === news.rotation) return { outs: { ...olds, ...news } };
        return { outs: { ...news, ...newPair(news.comment), previousPublicKey: olds.publicKey, previousPrivateKey: olds.privateKey } };
    },
};

export class RootKey extends pulumi.dynamic.Resource {
    public readonly publicKey!: pulumi.Output<string>;
    public readonly privateKey!: pulumi.Output<string>;
    /** The pair before the last rotation ("" before the second one: the host source's key was the one before). */
    public readonly previousPublicKey!: pulumi.Output<string | undefined>;
    public readonly previousPrivateKey!: pulumi.Output<string | undefined>;

    constructor(name: string, args: RootKeyInputs, opts?: pulumi.CustomResourceOptions) {
        super(
            rootKeyProvider,
            name,
            { ...args, publicKey: undefined, privateKey: undefined, previousPublicKey: undefined, previousPrivateKey: undefined },
            { ...opts, additionalSecretOutputs: ["privateKey", "previousPrivateKey"] },
            "secrets:RootKey",
        );
    }
}
