// Key lines reach sshd's authorized_keys2: only a checked type and base64 blob ever get there.
import { createHash } from "node:crypto";
import { authorizedKeyLine, authorizedKeys2File, fingerprint, parsePublicKey, stackKeys, userNameProblem } from "../src/accounts/ssh_keys";
import { ed25519PublicKey } from "./helpers/ssh_key";

const BIN = "/usr/local/lib/dynoform/dynoform-control";

test("a key line keeps its type and blob only; the comment is dropped", () => {
    const key = ed25519PublicKey();
    expect(parsePublicKey(`  ${key} alice@laptop  `)).toEqual({ type: "ssh-ed25519", blob: key.split(" ")[1] });
    expect(authorizedKeyLine(BIN, "alice", parsePublicKey(`${key} alice@laptop`))).toBe(
        `command="${BIN} ssh alice",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty ${key}`,
    );
});

test("the fingerprint is OpenSSH's SHA256 of the blob, unpadded", () => {
    const key = parsePublicKey(ed25519PublicKey());
    const want = "SHA256:" + createHash("sha256").update(Buffer.from(key.blob, "base64")).digest("base64").replace(/=+$/, "");
    expect(fingerprint(key)).toBe(want);
    expect(fingerprint(key)).not.toMatch(/=$/);
});

test.each([
    ["options before the key", (k: string) => `command="/bin/sh",no-pty ${k}`],
    ["a newline and a second line", (k: string) => `${k.split(" ")[0]} AAAA\ncommand="/bin/sh" ${k}`],
    ["a quote inside the blob", (k: string) => `${k}"`.replace(" ", ' "')],
    ["an unknown type", (k: string) => `ssh-dss ${k.split(" ")[1]}`],
    ["a blob of another type", (k: string) => `ssh-rsa ${k.split(" ")[1]}`],
    ["not base64", () => "ssh-ed25519 AAAA$(reboot)"],
    ["nothing", () => ""],
    ["a private key", () => "-----BEGIN OPENSSH PRIVATE KEY-----"],
])("refused with the fix named: %s", (_what, make) => {
    expect(() => parsePublicKey(make(ed25519PublicKey()))).toThrow(/public key|not base64|not a ssh-/);
});

test.each(['bob" ,command="/bin/sh', "bob\nssh-ed25519 AAAA", "bob smith", "-x", "", "a".repeat(65), "bob;reboot", "../etc"])("the user name %j is refused", (name) => {
    expect(userNameProblem(name)).toMatch(/not a valid user name: use letters, digits/);
    expect(() => authorizedKeyLine(BIN, name, parsePublicKey(ed25519PublicKey()))).toThrow(/refusing/);
});

test("user names like Heroku's: a plain name or an email", () => {
    for (const name of ["alice", "alice@example.com", "ci.bot_1", "B-2"]) expect(userNameProblem(name)).toBeUndefined();
});

test("the forced command's binary must be a plain absolute path", () => {
    const key = parsePublicKey(ed25519PublicKey());
    for (const bin of ["dynoform-control", '/bin/x" ,command="/bin/sh', "/usr/bin/a b"]) expect(() => authorizedKeyLine(bin, "alice", key)).toThrow(/not a plain absolute path/);
});

test("a store's key that fails the check fails the whole rendering (nothing half-written)", () => {
    const good = parsePublicKey(ed25519PublicKey());
    expect(() => authorizedKeys2File(BIN, [{ name: "alice", keys: [good, { type: "ssh-ed25519", blob: 'AAAA"\ncommand="x' }] }])).toThrow();
    const file = authorizedKeys2File(BIN, [{ name: "alice", keys: [good] }, { name: "bob", keys: [] }]);
    expect(file.split("\n")).toEqual([expect.stringMatching(/^# Managed by dynoform-control/), expect.stringMatching(/^command=".* ssh alice",/), ""]);
});

test("the stack's authorized_keys names the first administrators", () => {
    const text = [
        "# Managed by dynoform (components/control): forced command only.",
        `command="${BIN} ssh dynoform-cli",no-port-forwarding,no-pty ssh-ed25519 AAAAone`,
        `command="${BIN} ssh alice@example.com",no-pty ssh-ed25519 AAAAtwo`,
        `command="${BIN} ssh bad\\"name",no-pty ssh-ed25519 AAAAthree`,
        "ssh-ed25519 AAAAfour nobody",
    ].join("\n");
    expect(stackKeys(text)).toEqual([
        { user: "dynoform-cli", key: "ssh-ed25519 AAAAone" },
        { user: "alice@example.com", key: "ssh-ed25519 AAAAtwo" },
    ]);
});
