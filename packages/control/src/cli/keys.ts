// keys, keys:add, keys:remove: the caller's SSH keys (an administrator's --user for another's).
// Keys added here work at once: the store writes them to ~git/.ssh/authorized_keys2 (accounts/).
import { UserError } from "../errors";
import { styledHeader, table } from "../text";
import { FlagSpec } from "./args";
import { accountsOf, subjectUser } from "./caller";
import { CliContext, flagString, recordAudit, Verb } from "./context";

const USER_FLAG: FlagSpec = { name: "user", short: "u", value: true, description: "another user's (administrators only)" };
const MAX_KEY_BYTES = 16 * 1024;

/** The key from the argument, else stdin (`dynoform keys:add < ~/.ssh/id_ed25519.pub`). */
async function keyText(ctx: CliContext, arg: string | undefined): Promise<string> {
    if (arg !== undefined) return arg;
    if (!ctx.stdin) throw new UserError('Missing key: run "dynoform keys:add \\"$(cat ~/.ssh/id_ed25519.pub)\\"" or pipe the key to it');
    let text = "";
    for await (const chunk of ctx.stdin) {
        text += chunk.toString();
        if (text.length > MAX_KEY_BYTES) throw new UserError("That is not one SSH public key (too long): pass the one line of your ~/.ssh/id_ed25519.pub");
    }
    const lines = text.split("\n").filter((l) => l.trim());
    if (lines.length !== 1) throw new UserError(`Expected one public key line on stdin, got ${lines.length}: add keys one at a time`);
    return lines[0];
}

function abbreviated(key: string): string {
    const [type, blob] = key.split(" ");
    return `${type} ${blob.slice(0, 10)}...${blob.slice(-10)}`;
}

export const keys: Verb = {
    name: "keys",
    summary: "list your SSH keys",
    usage: "keys [--user USER] [--json]",
    needsApp: false,
    access: "user",
    flags: [USER_FLAG, { name: "json", description: "output as JSON" }],
    args: { min: 0, max: 0 },
    async run(ctx, args) {
        const user = subjectUser(ctx, flagString(args, "user"), "keys");
        const record = await accountsOf(ctx).user(user);
        const list = record?.keys ?? [];
        if (args.flags.json) {
            ctx.out(JSON.stringify(list));
            return 0;
        }
        if (list.length === 0) {
            ctx.out(`${user} has no keys added with keys:add (keys from the stack's dynoform:gitAuthorizedKeys are not listed).`);
            return 0;
        }
        ctx.out(styledHeader(`${user} Keys`));
        table(list.map((k) => [abbreviated(k.key), k.fingerprint])).forEach((l) => ctx.out(l));
        return 0;
    },
};

export const keysAdd: Verb = {
    name: "keys:add",
    summary: "add an SSH public key (argument or stdin): it may push and run verbs as you at once",
    usage: 'keys:add ["ssh-ed25519 AAAA..."] [--user USER]',
    needsApp: false,
    access: "user",
    audit: "self",
    flags: [USER_FLAG],
    args: { min: 0, max: 1 },
    async run(ctx, args) {
        const user = subjectUser(ctx, flagString(args, "user"), "keys:add");
        const key = await accountsOf(ctx).addKey(user, await keyText(ctx, args.positional[0]));
        await recordAudit(ctx, { action: "keys:add", detail: `Add key ${key.fingerprint} for ${user}` });
        ctx.err(`Uploading SSH public key ${key.fingerprint}... done`);
        return 0;
    },
};

export const keysRemove: Verb = {
    name: "keys:remove",
    summary: "remove an SSH key, by the key or its fingerprint (SHA256:...)",
    usage: "keys:remove KEY|FINGERPRINT [--user USER]",
    needsApp: false,
    access: "user",
    audit: "self",
    flags: [USER_FLAG],
    args: { min: 1, max: 1 },
    async run(ctx, args) {
        const user = subjectUser(ctx, flagString(args, "user"), "keys:remove");
        const key = await accountsOf(ctx).removeKey(user, args.positional[0]);
        await recordAudit(ctx, { action: "keys:remove", detail: `Remove key ${key.fingerprint} of ${user}` });
        ctx.err(`Removing ${key.fingerprint} SSH key... done`);
        return 0;
    },
};
