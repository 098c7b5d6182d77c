// The control host's SSH host key: checked as an OpenSSH public key line, shown by its SHA256
// fingerprint in OpenSSH's own format (what `ssh` and `ssh-keygen -l` print, so a user can compare
// it with the one the stack's owner sees), and fetched from the host the way ssh-keyscan does.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { fail } from "./cli-error.mjs";

/** ssh's own preference when it has no key pinned yet; the first the host offers is the one kept. */
const PREFERRED_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"];

/** "TYPE BASE64" of a public key line (a trailing comment is dropped), or undefined when it is not one. */
export function parsePublicKey(line) {
    const [type, b64] = String(line).trim().split(/\s+/);
    if (!type || !b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
    const blob = Buffer.from(b64, "base64");
    // The blob starts with its own type (an SSH string: 4-byte length, then the name).
    if (blob.length < 4 || blob.readUInt32BE(0) !== type.length || blob.subarray(4, 4 + type.length).toString() !== type) return undefined;
    return `${type} ${b64}`;
}

/** "SHA256:..." as OpenSSH prints it (unpadded base64 of the blob's SHA-256). */
export function fingerprint(key) {
    const b64 = key.trim().split(/\s+/)[1];
    return "SHA256:" + createHash("sha256").update(Buffer.from(b64, "base64")).digest("base64").replace(/=+$/, "");
}

/** OpenSSH's name for a key type in its prompts: ED25519, ECDSA, RSA. */
export function keyTypeLabel(key) {
    const type = key.split(/\s+/)[0];
    if (type === "ssh-ed25519") return "ED25519";
    if (type.startsWith("ecdsa-")) return "ECDSA";
    if (type === "ssh-rsa") return "RSA";
    return type;
}

/** The host keys sshd at host:port offers (ssh-keyscan), preferred type first. */
export function scanHostKeys(host, port) {
    return new Promise((resolve) => {
        execFile("ssh-keyscan", ["-T", "10", "-p", String(port), "-t", "ed25519,ecdsa,rsa", host], { encoding: "utf8" }, (err, stdout, stderr) => {
            if (err && err.code === "ENOENT") return resolve({ keys: [], problem: "ssh-keyscan is not installed (OpenSSH's client: apt-get install openssh-client)" });
            const keys = stdout
                .split("\n")
                .filter((l) => l && !l.startsWith("#"))
                .map((l) => parsePublicKey(l.split(/\s+/).slice(1).join(" ")))
                .filter(Boolean)
                .sort((a, b) => rank(a) - rank(b));
            const problem = String(stderr).split("\n").filter((l) => l && !l.startsWith("#")).pop();
            resolve({ keys, problem });
        });
    });
}

const rank = (key) => {
    const i = PREFERRED_TYPES.indexOf(key.split(" ")[0]);
    return i < 0 ? PREFERRED_TYPES.length : i;
};

/** The key to pin for host:port, fetched from it; fails naming the address when nothing answers. */
export async function fetchHostKey(host, port) {
    const { keys, problem } = await scanHostKeys(host, port);
    if (keys.length === 0) fail(`cannot fetch the host key of ${host} port ${port}${problem ? `: ${problem}` : ""}: check the address and port (the stack's control output) and that its SSH port is reachable from here`);
    return keys[0];
}
