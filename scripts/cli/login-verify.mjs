// Proves a staged login works before it is kept: runs the harmless `dynoform apps` over SSH with
// the staged files and turns ssh's failures into what to do — a host key that is not the pinned
// one, a key the control host does not accept (and how it gets added: keys:add, or dynoform:gitAuthorizedKeys),
// an address that does not answer. `-v` is how ssh tells which keys it offered.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fail } from "./cli-error.mjs";
import { fingerprint, keyTypeLabel, scanHostKeys } from "./host-key.mjs";
import { shellQuote } from "./ssh-files.mjs";

const NOISE = /^(debug\d|OpenSSH_|Authenticated to |Transferred: |Bytes per second|Connection to .* closed|Warning: Permanently added)/;

function runSsh(staged, login) {
    const args = [
        "-F", staged.sshConfig,
        "-o", `UserKnownHostsFile="${staged.knownHosts}"`,
        "-o", "ConnectTimeout=15",
        // No terminal to ask for a key's passphrase: fail instead of hanging.
        ...(process.stdin.isTTY ? [] : ["-o", "BatchMode=yes"]),
        "-v", "-T", `${login.user}@${login.host}`, "--", "dynoform", "apps",
    ];
    return new Promise((resolve) => {
        const child = spawn("ssh", args, { stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        child.stdout.resume();
        child.stderr.on("data", (c) => (stderr += c));
        child.on("error", (e) => resolve({ code: 255, stderr: e.code === "ENOENT" ? "ssh is not installed (apt-get install openssh-client)" : e.message }));
        child.on("close", (code) => resolve({ code: code ?? 255, stderr }));
    });
}

const messages = (stderr) => stderr.split("\n").map((l) => l.trim()).filter((l) => l && !NOISE.test(l));

/** "PATH TYPE SHA256:..." of each key ssh offered, from its -v lines. */
const offeredKeys = (stderr) => [...stderr.matchAll(/Offering public key: (.+)$/gm)].map((m) => m[1].replace(/( (explicit|agent|confirm|authenticator|token))+$/, "").trim());

async function hostKeyMismatch(login) {
    const { keys } = await scanHostKeys(login.host, login.port);
    const offers = keys.length ? keys.map((k) => `${keyTypeLabel(k)} ${fingerprint(k)}`).join(", ") : "no key to ssh-keyscan";
    return fail(
        `Host key verification failed: ${login.host} port ${login.port} is not the host whose key is pinned.`,
        `Pinned: ${keyTypeLabel(login.hostKey)} ${fingerprint(login.hostKey)}; the host offers: ${offers}.`,
        `Check the key with the stack's owner (pulumi stack output control: its hostKey) and log in with that one; nothing was stored.`,
    );
}

/** A shell expression printing the public key to authorize: of the key file, or of ssh-agent's first key. */
function publicKeyExpression(file, offered) {
    if (file && existsSync(`${file}.pub`)) return `$(cat ${shellQuote(`${file}.pub`)})`;
    if (file) return `$(ssh-keygen -y -f ${shellQuote(file)})`;
    if (offered.length > 0) return "$(ssh-add -L | head -1)"; // only agent keys (named by comment, not path)
    return "$(cat ~/.ssh/id_ed25519.pub)"; // the key the message tells them to make
}

function permissionDenied(login, stderr) {
    const offered = offeredKeys(stderr);
    const file = login.identity ?? offered.map((k) => k.split(" ")[0]).find((p) => existsSync(p));
    const pub = publicKeyExpression(file, offered);
    const who = offered.length ? `the key offered (${offered.join("; ")})` : login.identity ? `the key ${login.identity}` : "any key: ssh found none (ssh-agent, ~/.ssh/id_*); make one with ssh-keygen -t ed25519 or name yours with -i FILE";
    return fail(
        `Permission denied: ${login.user}@${login.host} did not accept ${who}.`,
        `An administrator adds its public key to your user (made first with dynoform users:add YOU); it works at once:`,
        `  dynoform keys:add "${pub}" --user YOU`,
        `Or, for an administrator's key, the stack's owner puts it in dynoform:gitAuthorizedKeys (N: the next free index, 0 for the first; pulumi config get dynoform:gitAuthorizedKeys lists them) and applies it:`,
        `  pulumi config set --path 'dynoform:gitAuthorizedKeys[N]' "${pub}"`,
        `  pulumi up`,
        `Then run dynoform login again; nothing was stored.`,
    );
}

/** Resolves when `dynoform apps` ran; fails with the fix otherwise. */
export async function verifyLogin(staged, login) {
    const { code, stderr } = await runSsh(staged, login);
    if (code === 0) return;
    if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/.test(stderr)) return hostKeyMismatch(login);
    // ssh skips a private key others can read, then reports only "Permission denied".
    if (/UNPROTECTED PRIVATE KEY FILE/.test(stderr) && login.identity) fail(`ssh refuses the key ${login.identity}: others can read it. Make it yours alone: chmod 600 ${shellQuote(login.identity)}; nothing was stored`);
    if (/Permission denied \(/.test(stderr)) return permissionDenied(login, stderr);
    const said = messages(stderr);
    if (code === 255) fail(`cannot connect to ${login.user}@${login.host} port ${login.port}: ${said.pop() ?? "ssh failed"}: check the address and port (the stack's control output) and that they are reachable from here; nothing was stored`);
    fail(`${login.user}@${login.host} answered "dynoform apps" with exit code ${code}${said.length ? `: ${said.join(" / ")}` : ""}: is it a dynoform control host? Nothing was stored`);
}
