// Real OpenSSH public key lines for tests, made without ssh-keygen.
import { generateKeyPairSync } from "node:crypto";

function sshString(b: Buffer): Buffer {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
}

/** "ssh-ed25519 AAAA..." of a fresh key. */
export function ed25519PublicKey(): string {
    const der = generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" });
    const raw = der.subarray(der.length - 32);
    return `ssh-ed25519 ${Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(raw)]).toString("base64")}`;
}
