// `dynoform login` and `dynoform logout`: a machine with only the stack's control output (or its
// address and host key) and a user key becomes able to run verbs and git push, Heroku-style.
// The host key is pinned from --host-key/--outputs, or fetched and confirmed at a terminal (never
// trusted silently); the login is kept only once a verb has run with it (cli/login-verify.mjs).
import { createInterface } from "node:readline/promises";
import { fail } from "./cli-error.mjs";
import { fetchHostKey, fingerprint, keyTypeLabel } from "./host-key.mjs";
import { LOGIN_USAGE, parseLoginArgs } from "./login-args.mjs";
import { commitLogin, discardStaged, removeLogin, stageLogin } from "./login-store.mjs";
import { verifyLogin } from "./login-verify.mjs";

export const LOGIN_HELP = [
    `${LOGIN_USAGE}`,
    "    pins the control host's key, checks that your key is authorized (runs dynoform apps) and keeps",
    "    host, key and ssh config in ${XDG_CONFIG_HOME:-~/.config}/dynoform/login/",
    "    --host-key KEY   the stack's control output's hostKey (else: fetched, shown, confirmed at a terminal)",
    "    --outputs FILE   `pulumi stack output --json > FILE` from the stack's owner: its control output",
    "    -i KEYFILE       your SSH private key (default: what ssh uses, ssh-agent or ~/.ssh/id_*)",
    "dynoform logout     forgets the login",
];

const shownAddress = ({ user, host, port }) => `${user}@${host}${port === 22 ? "" : `:${port}`}`;

async function confirmedHostKey(host, port) {
    if (!process.stdin.isTTY) {
        fail(
            `cannot confirm the host key of ${host} port ${port} without a terminal: pin it with`,
            `  --host-key "ssh-ed25519 AAAA..."   (the stack's control output: pulumi stack output control, its hostKey)`,
            `or --outputs FILE                   (pulumi stack output --json > FILE on the stack owner's checkout)`,
        );
    }
    const key = await fetchHostKey(host, port);
    process.stderr.write(`The authenticity of host '${port === 22 ? host : `[${host}]:${port}`}' can't be established.\n`);
    process.stderr.write(`${keyTypeLabel(key)} key fingerprint is ${fingerprint(key)}.\n`);
    process.stderr.write(`Compare it with the stack's (its owner: pulumi stack output control, hostKey; ssh-keygen -lf shows a key's fingerprint).\n`);
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
    const answer = (await rl.question("Are you sure you want to continue connecting (yes/no)? ")).trim().toLowerCase();
    rl.close();
    if (answer !== "yes" && answer !== "y") fail(`Host key not confirmed: not logged in (pin the key with --host-key or --outputs instead)`);
    return key;
}

export async function login(argv) {
    const wanted = parseLoginArgs(argv);
    const hostKey = wanted.hostKey ?? (await confirmedHostKey(wanted.host, wanted.port));
    const target = { ...wanted, hostKey };
    const staged = stageLogin(target);
    try {
        await verifyLogin(staged, target);
    } catch (err) {
        discardStaged(staged);
        throw err;
    }
    commitLogin(staged);
    process.stdout.write(`Logged in to ${shownAddress(target)}\n`);
    if (process.env.DYNOFORM_STACK) process.stderr.write(`DYNOFORM_STACK is set: verbs go to stack ${process.env.DYNOFORM_STACK} until it is unset\n`);
    return 0;
}

export function logout() {
    const was = removeLogin();
    process.stdout.write(was ? `Logged out${was.host ? ` of ${shownAddress(was)}` : ""}\n` : "Not logged in\n");
    return 0;
}
