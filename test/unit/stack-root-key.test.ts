// The stack's SSH key (components/hosts/stack_root_key.ts, secrets/root_key.ts): the key pair's
// rotation, the script that puts a phase's keys into a host's authorized_keys (run for real on a
// temporary file), and under Pulumi's mocks which connection and which keys each phase gives a host.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { render } from "../../components/templates/render";
import { rootKeyProvider } from "../../components/secrets/root_key";
import { remoteBinaryProvider } from "../../components/remote/binary-provider";
import { remoteCommandProvider } from "../../components/remote/command-provider";
import { remoteFileProvider } from "../../components/remote/file-provider";
import { sha256 } from "../../components/remote/provider-kit";
import type { Host } from "../../components/hosts/host";
import { value } from "../support/outputs";

interface Created {
    type: string;
    name: string;
    inputs: Record<string, any>;
}
const created: Created[] = [];
pulumi.runtime.setMocks(
    {
        newResource(args: pulumi.runtime.MockResourceArgs) {
            created.push({ type: args.type, name: args.name, inputs: args.inputs });
            const n = Number(args.inputs.rotation ?? 0);
            const gen = (g: number) => ({ publicKey: `ssh-ed25519 GEN${g}`, privateKey: `PRIVATE-gen${g}` });
            const key = args.type.includes("RootKey") ? { ...gen(n), ...(n > 1 ? { previousPublicKey: gen(n - 1).publicKey, previousPrivateKey: gen(n - 1).privateKey } : {}) } : {};
            return { id: `${args.name}-id`, state: { ...args.inputs, ...key } };
        },
        call: () => ({}),
    },
    "dynoform",
    "unit",
    false,
);

/** A host source's key, as a lab machine's (a real key: its public half is derived from it). */
const SOURCE = (() => {
    const pair = require("ssh2").utils.generateKeyPairSync("ed25519", { comment: "dynoform@lab" });
    return { privateKey: String(pair.private), publicKey: String(pair.public).trim().split(/\s+/).slice(0, 2).join(" ") };
})();

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
/** A mock's input without Pulumi's secret wrappers. */
function plain(v: any): any {
    if (v && typeof v === "object" && SECRET_SIG in v) return plain(v.value);
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
    return v;
}

function fakeHost(name: string): Host {
    return {
        name,
        privateAddress: pulumi.output("10.213.7.21"),
        publicAddress: pulumi.output("10.213.7.21"),
        privateSubnet: pulumi.output("10.213.7.0/24"),
        ssh: pulumi.secret(pulumi.output({ name, host: "10.213.7.21", port: 22, user: "root", privateKey: SOURCE.privateKey, hostKey: "ssh-ed25519 AAAA" })),
    };
}

/** withStackRootKey on one host: the resources it registers and the connection it gives. */
async function keyed(rotation: number, phase?: "accept" | "switch") {
    created.length = 0;
    const { withStackRootKey } = await import("../../components/hosts/stack_root_key");
    const host = fakeHost("dyno-1");
    const [out] = withStackRootKey([host], rotation, phase);
    const ssh = await value(out.ssh);
    await new Promise((r) => setTimeout(r, 50));
    const cmd = (name: string) => plain(created.find((c) => c.name === name)?.inputs);
    return { out, host, ssh, bootstrap: cmd("dyno-1-root-key-bootstrap"), keys: cmd("dyno-1-root-keys"), key: cmd("dynoform-root-key") };
}

describe("the key pair", () => {
    test("its provider, stored in the state as text, needs only ssh2 and Node's crypto (as the other key pair's)", async () => {
        const text = (await pulumi.runtime.serializeFunction(() => rootKeyProvider, { allowSecrets: false })).text;
        const requires = [...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
        expect(requires.filter((name) => !["crypto", "ssh2/lib/index.js", "ssh2"].includes(name))).toEqual([]);
        expect(text).not.toContain("@pulumi/pulumi");
        expect(text).not.toContain(join(__dirname, "../.."));
    });

    test("a raised counter makes a new pair and keeps the one before; nothing else changes it", async () => {
        const made = await rootKeyProvider.create!({ comment: "dynoform-root", rotation: 1 });
        expect(made.outs.publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
        expect(await rootKeyProvider.diff!("id", made.outs, { comment: "dynoform-root", rotation: 1 })).toEqual({ changes: false, replaces: [] });
        expect(await rootKeyProvider.diff!("id", made.outs, { comment: "dynoform-root", rotation: 2 })).toEqual({ changes: true, replaces: [] });
        const next = (await rootKeyProvider.update!("id", made.outs, { comment: "dynoform-root", rotation: 2 })).outs!;
        expect(next).toMatchObject({ rotation: 2, previousPublicKey: made.outs.publicKey, previousPrivateKey: made.outs.privateKey });
        expect(next.publicKey).not.toBe(made.outs.publicKey);
    });
});

describe("the hosts' connections and keys per phase", () => {
    test("never rotated: the hosts as their source gives them, nothing made", async () => {
        const { out, host } = await keyed(0);
        expect(out).toBe(host);
        expect(created).toEqual([]);
    });
    test("first rotation, accept: each host authorizes the stack's key with its source's key, and is still reached with that", async () => {
        const { ssh, bootstrap, keys, key } = await keyed(1, "accept");
        expect(key).toMatchObject({ comment: "dynoform-root", rotation: 1 });
        expect(bootstrap.connection.privateKey).toBe(SOURCE.privateKey);
        expect(bootstrap.environment).toEqual({ KEY_USER: "root", AUTHORIZE: `ssh-ed25519 GEN1\n${SOURCE.publicKey}`, REMOVE: "" });
        expect(keys.connection.privateKey).toBe(SOURCE.privateKey);
        expect(keys.environment).toEqual({ KEY_USER: "root", AUTHORIZE: `ssh-ed25519 GEN1\n${SOURCE.publicKey}`, REMOVE: "" });
        expect(ssh.privateKey).toBe(SOURCE.privateKey);
    });
    test("first rotation, switch: reached with the stack's key; both still authorized", async () => {
        const { ssh, keys } = await keyed(1, "switch");
        expect([ssh.privateKey, keys.connection.privateKey]).toEqual(["PRIVATE-gen1", "PRIVATE-gen1"]);
        expect(keys.environment.REMOVE).toBe("");
    });
    test("first rotation, done: the host source's key is removed", async () => {
        const { ssh, keys, bootstrap } = await keyed(1);
        expect(ssh.privateKey).toBe("PRIVATE-gen1");
        expect(keys.environment).toMatchObject({ AUTHORIZE: "ssh-ed25519 GEN1", REMOVE: SOURCE.publicKey });
        // a host added now gets the stack's key from its source's, once
        expect(bootstrap.connection.privateKey).toBe(SOURCE.privateKey);
        expect(bootstrap.environment.AUTHORIZE).toBe("ssh-ed25519 GEN1");
    });
    test("second rotation: accept reaches with the first key, switch with the second, done removes the first (and any source key)", async () => {
        const accept = await keyed(2, "accept");
        expect(accept.ssh.privateKey).toBe("PRIVATE-gen1");
        expect(accept.keys.environment.AUTHORIZE).toBe("ssh-ed25519 GEN2\nssh-ed25519 GEN1");
        const toSwitch = await keyed(2, "switch");
        expect(toSwitch.ssh.privateKey).toBe("PRIVATE-gen2");
        const done = await keyed(2);
        expect(done.keys.environment).toMatchObject({ AUTHORIZE: "ssh-ed25519 GEN2", REMOVE: `ssh-ed25519 GEN1\n${SOURCE.publicKey}` });
    });
});

test("every remote resource records a connection whose private key alone changed, so its delete uses the key the host authorizes", async () => {
    const connection = { name: "dyno-1", host: "10.213.7.21", port: 22, user: "root", privateKey: "PRIVATE-gen1", hostKey: "ssh-ed25519 AAAA" };
    const rotated = { ...connection, privateKey: "PRIVATE-gen2" };
    const binary = { connection, source: "/build/dynoform-agent", sha256: "a".repeat(64), path: "/usr/local/lib/dynoform/dynoform-agent", mode: "0755", providerVersion: "v1" };
    expect(await remoteBinaryProvider.diff!("id", binary, binary)).toEqual({ changes: false, replaces: [] });
    expect(await remoteBinaryProvider.diff!("id", binary, { ...binary, connection: rotated })).toEqual({ changes: true, replaces: [] });
    const file = { connection, path: "/etc/dynoform/agent.json", content: "{}", mode: "0644", providerVersion: "v1" };
    expect(await remoteFileProvider.diff!("id", { ...file, sha256: sha256("{}") } as never, { ...file, connection: rotated } as never)).toEqual({ changes: true, replaces: [] });
    const command = { connection, create: "true", providerVersion: "v1" };
    expect(await remoteCommandProvider.diff!("id", command as never, { ...command, connection: rotated } as never)).toEqual({ changes: true, replaces: [] });
});

describe("root-keys.sh on an authorized_keys file", () => {
    let home: string;
    beforeEach(() => {
        home = mkdtempSync(join(tmpdir(), "dynoform-root-keys-"));
        mkdirSync(join(home, ".ssh"));
    });
    afterEach(() => rmSync(home, { recursive: true, force: true }));
    const file = () => join(home, ".ssh", "authorized_keys");
    const run = (authorize: string[], remove: string[]) =>
        execFileSync("bash", ["-c", render("hosts/root-keys.sh", {})], { env: { PATH: process.env.PATH, KEYS_FILE: file(), KEY_USER: "root", AUTHORIZE: authorize.join("\n"), REMOVE: remove.join("\n") }, encoding: "utf8" });
    const OPERATOR = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorsOwnKeyOperatorsOwnKeyOperatorsOwn operator@laptop";
    const ADDONS = 'restrict,command="/usr/local/sbin/dynoform-addons" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAclvHPdBJTN+VPuY33ZgZCeG3YzDxaQWqDOxfLxT8gp dynoform-addons';

    test("adds the keys missing, removes the dropped ones wherever their options put them, keeps every other line; 0600", () => {
        writeFileSync(file(), `${SOURCE.publicKey} dynoform@lab\n${OPERATOR}\n${ADDONS}\n`);
        run(["ssh-ed25519 GEN1", SOURCE.publicKey], []);
        expect(readFileSync(file(), "utf8")).toBe(`${SOURCE.publicKey} dynoform@lab\n${OPERATOR}\n${ADDONS}\nssh-ed25519 GEN1 dynoform-root\n`);
        run(["ssh-ed25519 GEN1", SOURCE.publicKey], []); // idempotent
        expect(readFileSync(file(), "utf8").split("\n").filter(Boolean)).toHaveLength(4);
        run(["ssh-ed25519 GEN1"], [SOURCE.publicKey, "ssh-ed25519 GEN0"]);
        expect(readFileSync(file(), "utf8")).toBe(`${OPERATOR}\n${ADDONS}\nssh-ed25519 GEN1 dynoform-root\n`);
        expect(statSync(file()).mode & 0o777).toBe(0o600);
        run(["ssh-ed25519 GEN2"], ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAclvHPdBJTN+VPuY33ZgZCeG3YzDxaQWqDOxfLxT8gp"]);
        expect(readFileSync(file(), "utf8")).toBe(`${OPERATOR}\nssh-ed25519 GEN1 dynoform-root\nssh-ed25519 GEN2 dynoform-root\n`);
    });

    test("makes the file when there is none", () => {
        run(["ssh-ed25519 GEN1"], []);
        expect(readFileSync(file(), "utf8")).toBe("ssh-ed25519 GEN1 dynoform-root\n");
    });

    test("a key both to authorize and to remove stays; with no key to authorize it changes nothing", () => {
        writeFileSync(file(), `${OPERATOR}\nssh-ed25519 GEN1 dynoform-root\n`);
        run(["ssh-ed25519 GEN1"], ["ssh-ed25519 GEN1"]);
        expect(readFileSync(file(), "utf8")).toBe(`${OPERATOR}\nssh-ed25519 GEN1 dynoform-root\n`);
        expect(() => run([], ["ssh-ed25519 GEN1"])).toThrow();
        expect(readFileSync(file(), "utf8")).toBe(`${OPERATOR}\nssh-ed25519 GEN1 dynoform-root\n`);
    });
});
