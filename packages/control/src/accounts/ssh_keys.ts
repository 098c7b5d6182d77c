// Users' SSH public keys: strict parsing (a key line reaches sshd's authorized_keys2, so only a key
// type and its base64 blob ever get there, never a comment or an option a user typed), OpenSSH's
// SHA256 fingerprints, and the authorized_keys2 file the control role writes for keys:add.
import { createHash } from "node:crypto";
import { UserError } from "../errors";

const KEY_TYPES = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/** User names: what the forced command carries and sshd's `command="..."` holds, so nothing a shell or sshd reads specially. */
export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function userNameProblem(name: string): string | undefined {
    if (USER_NAME.test(name)) return undefined;
    return `"${name.slice(0, 64)}" is not a valid user name: use letters, digits, ".", "_", "@" and "-" (up to 64, starting with a letter or digit), e.g. alice or alice@example.com`;
}

/** A checked public key: its type and base64 blob, nothing else. */
export interface PublicKey {
    type: string;
    blob: string;
}

/** The type string an OpenSSH key blob starts with (uint32 length + name). */
function blobType(blob: Buffer): string | undefined {
    if (blob.length < 4) return undefined;
    const len = blob.readUInt32BE(0);
    if (len > 64 || 4 + len > blob.length) return undefined;
    return blob.subarray(4, 4 + len).toString("latin1");
}

/**
 * The key in a line like `ssh-ed25519 AAAA... alice@laptop` (the comment is dropped); a UserError
 * naming the fix for anything else, including options (`command=...`) and a blob of another type.
 */
export function parsePublicKey(line: string): PublicKey {
    const words = line.trim().split(/\s+/);
    const [type, blob] = words;
    const usage = 'paste the one line of your public key, e.g. "dynoform keys:add \\"$(cat ~/.ssh/id_ed25519.pub)\\""';
    if (!type || !KEY_TYPES.includes(type)) throw new UserError(`That is not an SSH public key (it must start with ${KEY_TYPES.slice(0, 3).join(", ")}...): ${usage}`);
    if (!blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length > 16384) throw new UserError(`The ${type} key's data is not base64: ${usage}`);
    if (blobType(Buffer.from(blob, "base64")) !== type) throw new UserError(`The key's data is not a ${type} key: ${usage}`);
    return { type, blob };
}

export function keyLine(key: PublicKey): string {
    return `${key.type} ${key.blob}`;
}

/** OpenSSH's fingerprint: `SHA256:` and the unpadded base64 of the blob's SHA-256. */
export function fingerprint(key: PublicKey): string {
    return "SHA256:" + createHash("sha256").update(Buffer.from(key.blob, "base64")).digest("base64").replace(/=+$/, "");
}

/** The forced command's restrictions: the same as the stack's own lines (components/control authorizedKeyLine). */
const RESTRICTIONS = "no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty";

/** What `command="..."` may hold: an absolute path of plain characters. */
const BINARY_PATH = /^\/[A-Za-z0-9._/-]+$/;

/** One authorized_keys line: `user`'s key may only run `binary ssh user`. */
export function authorizedKeyLine(binary: string, user: string, key: PublicKey): string {
    if (!BINARY_PATH.test(binary)) throw new Error(`the forced command's binary ${JSON.stringify(binary)} is not a plain absolute path`);
    if (userNameProblem(user)) throw new Error(`refusing to write a key line for the user name ${JSON.stringify(user)}`);
    const checked = parsePublicKey(keyLine(key)); // never trust the store: a hand-edited file gets no say either
    return `command="${binary} ssh ${user}",${RESTRICTIONS} ${keyLine(checked)}`;
}

/** The whole authorized_keys2: every user's keys (the stack's own keys stay in authorized_keys). */
export function authorizedKeys2File(binary: string, users: { name: string; keys: PublicKey[] }[]): string {
    const lines = users.flatMap((u) => u.keys.map((k) => authorizedKeyLine(binary, u.name, k)));
    return `# Managed by dynoform-control (keys:add, keys:remove, users:remove): forced command only.\n${lines.map((l) => l + "\n").join("")}`;
}

/** The user names and keys of the stack's authorized_keys (`command="... ssh NAME",... TYPE BLOB`). */
export function stackKeys(authorizedKeys: string): { user: string; key: string }[] {
    const found: { user: string; key: string }[] = [];
    for (const line of authorizedKeys.split("\n")) {
        const m = /^command="[^"]* ssh ([^" ]+)"\S* (\S+) (\S+)/.exec(line.trim());
        if (m && USER_NAME.test(m[1])) found.push({ user: m[1], key: `${m[2]} ${m[3]}` });
    }
    return found;
}
