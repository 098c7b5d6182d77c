// The stack's SSH keys (components/secrets/ssh_keypair.ts) are ones OpenSSH loads: ssh2 writes one
// ed25519 key in 256 with a public key a byte short, and `ssh -i` then says "error in libcrypto" (a
// clean-clone CI run failed every CLI call of 30-deploy on such a key).
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { generateEd25519, loadableEd25519 } from "../../components/secrets/ssh_keypair";

/** A key ssh2 generated that OpenSSH refuses (its 32-byte public key starts with a zero byte). */
const SHORT_KEY = fs.readFileSync(path.join(__dirname, "fixtures/ssh2-short-ed25519.key"), "utf8");

function opensshLoads(privateKey: string): boolean {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keypair-"));
    try {
        fs.writeFileSync(path.join(dir, "key"), privateKey, { mode: 0o600 });
        execFileSync("ssh-keygen", ["-y", "-f", path.join(dir, "key")], { stdio: "pipe" });
        return true;
    } catch {
        return false;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

test("the short key ssh2 can write is one OpenSSH refuses, and the check says so", () => {
    expect(opensshLoads(SHORT_KEY)).toBe(false);
    expect(loadableEd25519(SHORT_KEY)).toBe(false);
});

test("a generator that writes the short key first: the pair handed out is the next, loadable one", () => {
    const good = generateEd25519("dynoform-cli");
    const outputs = [{ public: "ssh-ed25519 AAAA short", private: SHORT_KEY }, good];
    const pair = generateEd25519("dynoform-cli", () => outputs.shift()!);
    expect(pair).toBe(good);
    expect(opensshLoads(pair.private)).toBe(true);
    expect(pair.public.trim().split(/\s+/)[2]).toBe("dynoform-cli");
});

test("a generator that never writes a loadable key: an error, not a bad key", () => {
    expect(() => generateEd25519("x", () => ({ public: "", private: SHORT_KEY }))).toThrow(/could not generate a loadable ed25519 key/);
});

test("2,000 generated keys: every one loadable (about 8 would be short without the check)", () => {
    for (let i = 0; i < 2_000; i++) expect(loadableEd25519(generateEd25519("k").private)).toBe(true);
});
