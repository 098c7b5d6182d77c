import * as pulumi from "@pulumi/pulumi";

/**
 * How the provisioning primitives reach a host. Plain data so it can travel as a
 * dynamic-provider input; `privateKey` is always wrapped as a Pulumi secret by host sources.
 */
export interface SshConnection {
    /** Host name used in error messages ("edge-1"). */
    name: string;
    /** Address sshd listens on. */
    host: string;
    port: number;
    user: string;
    /** OpenSSH-format private key (PEM text). */
    privateKey: string;
    /** The pinned host public key, `"<type> <base64>"` as in known_hosts without the host field. */
    hostKey: string;
}

export type SshConnectionInput = pulumi.Input<SshConnection>;

/** An OpenSSH public key without its comment, `"<type> <base64>"`: a pinned host key, an authorized key. */
export const PUBLIC_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}$/;
