// The stack's SSH key (runbooks/rotate-secrets.mjs --what ssh-key): until its first rotation every
// host is reached with its host source's key (the lab's per-machine key, dynoform:sshPrivateKey on
// servers, the aws and docker root keys). From then on Pulumi, and the runbooks and tests through
// the stack's `ssh` output, connect with a key the stack makes (secrets/root_key.ts), and each
// rotation moves every host to a new one in the phases of dynoform:rotationPhase.sshKey
// (config/rotation.ts): accept (hosts authorize the new key beside the old, connections use the
// old), switch (connections use the new), done (hosts stop authorizing the old one, and the host
// source's). Every resource on a host reaches it through the connection this gives, so it waits
// for the host's keys to be in place.
import * as pulumi from "@pulumi/pulumi";
import { phaseRoles, RotationPhase } from "../config/rotation";
import { RemoteCommand } from "../remote";
import type { SshConnection } from "../remote/connection";
import { RootKey } from "../secrets/root_key";
import { render } from "../templates/render";
import type { Host } from "./host";

/**
 * Which key a host's connection uses and which keys the host authorizes and stops authorizing, in
 * `phase`, given the stack's current key, the one before it (the host source's at the first
 * rotation) and the host source's. Pure, over any key representation: the component applies it to
 * key pairs, the runbook's plan test (test/unit/runbooks-ssh-key-rotation.test.ts) to names.
 */
export function rootKeyUse<K>(phase: RotationPhase | undefined, keys: { current: K; old: K; source?: K }): { connect: K; authorize: K[]; remove: K[] } {
    const roles = phaseRoles(phase);
    const pick = (r: "current" | "previous") => (r === "current" ? keys.current : keys.old);
    const authorize = [...new Set(roles.accepted.map(pick))];
    // Only once no connection uses them: the old key and the host source's (a host added after a
    // rotation was made with it).
    const remove = phase === undefined ? [...new Set([keys.old, ...(keys.source !== undefined ? [keys.source] : [])])].filter((k) => !authorize.includes(k)) : [];
    return { connect: pick(roles.sent), authorize, remove };
}

/** "type base64" of an OpenSSH private key, or undefined when it cannot be read. */
export function publicKeyOf(privateKey: string): string | undefined {
    const parsed = require("ssh2").utils.parseKey(privateKey);
    if (!parsed || parsed instanceof Error || Array.isArray(parsed)) return undefined;
    return `${parsed.type} ${parsed.getPublicSSH().toString("base64")}`;
}

interface KeyPair {
    publicKey: string | undefined;
    privateKey: string;
}

export const ROOT_KEY_COMMENT = "dynoform-root";

/**
 * `hosts` reached with the stack's key once dynoform:rotation.sshKey is raised (unchanged before:
 * a stack that never rotated it sees no change). Per host: a bootstrap that authorizes the stack's
 * key with the host source's key, made once (a host added after a rotation has only that key) and
 * never run again, and the phase's authorized keys, applied with the phase's connection.
 */
export function withStackRootKey(hosts: Host[], rotation: number, phase: RotationPhase | undefined, opts?: pulumi.CustomResourceOptions): Host[] {
    if (rotation === 0 && phase === undefined) return hosts;
    const key = new RootKey("dynoform-root-key", { comment: ROOT_KEY_COMMENT, rotation }, opts);
    const script = render("hosts/root-keys.sh", {});
    return hosts.map((host) => {
        const keys = pulumi.all([host.ssh, key.publicKey, key.privateKey, key.previousPublicKey, key.previousPrivateKey]).apply(([source, publicKey, privateKey, previousPublicKey, previousPrivateKey]) => {
            const sourcePair: KeyPair = { publicKey: publicKeyOf(source.privateKey), privateKey: source.privateKey };
            const old: KeyPair = previousPrivateKey ? { publicKey: previousPublicKey, privateKey: previousPrivateKey } : sourcePair;
            const use = rootKeyUse<KeyPair>(phase, { current: { publicKey, privateKey }, old, source: sourcePair });
            const lines = (pairs: KeyPair[]) => pairs.map((p) => p.publicKey).filter((k): k is string => !!k).join("\n");
            return { source, connect: { ...source, privateKey: use.connect.privateKey } as SshConnection, authorize: lines(use.authorize), remove: lines(use.remove) };
        });
        const env = (authorize: pulumi.Output<string>, remove: pulumi.Input<string>) => ({ KEY_USER: host.ssh.apply((c) => c.user), AUTHORIZE: authorize, REMOVE: remove });
        const bootstrap = new RemoteCommand(
            `${host.name}-root-key-bootstrap`,
            { connection: keys.apply((k) => k.source), label: `the stack's SSH key on ${host.name} (first time)`, create: script, environment: env(keys.apply((k) => k.authorize), "") },
            // Made once per host with the host source's key, which may no longer open the host afterwards.
            { ...opts, ignoreChanges: ["connection", "create", "environment"] },
        );
        const connectAfterBootstrap = pulumi.all([bootstrap.id, keys]).apply(([, k]) => k.connect);
        const current = new RemoteCommand(
            `${host.name}-root-keys`,
            { connection: connectAfterBootstrap, label: `the stack's SSH keys on ${host.name}`, create: script, environment: env(keys.apply((k) => k.authorize), keys.apply((k) => k.remove)) },
            opts,
        );
        // Secret as host.ssh is (it holds a private key): all() keeps that.
        return { ...host, ssh: pulumi.secret(pulumi.all([current.id, connectAfterBootstrap]).apply(([, c]) => c)) };
    });
}
