// The files every target hands to OpenSSH: a known_hosts line pinning the control host's key and
// an ssh_config naming host, port, user and (optionally) the identity. Written whole through a temp
// file and rename, so a concurrent dynoform or git never reads one half-written.
import { renameSync, writeFileSync } from "node:fs";

export function writeAtomic(file, content) {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, content, { mode: 0o600 });
    renameSync(tmp, file);
}

/** known_hosts names a host on a port other than 22 as [host]:port. */
export function knownHostsLine(host, port, hostKey) {
    return `${port === 22 ? host : `[${host}]:${port}`} ${hostKey}\n`;
}

/** Double quotes keep a path with spaces one argument in ssh_config. */
const quoted = (s) => `"${s}"`;

/**
 * `Host <host> <alias>` so both `git@<host>:app.git` (git remotes) and the alias match; without an
 * identity ssh offers what it always does (ssh-agent, ~/.ssh/id_*).
 */
export function sshConfigText({ comment, host, alias, port, user, identity, knownHosts }) {
    return [
        `# ${comment}`,
        `Host ${host} ${alias}`,
        `  HostName ${host}`,
        `  Port ${port}`,
        `  User ${user}`,
        ...(identity ? [`  IdentityFile ${quoted(identity)}`, `  IdentitiesOnly yes`] : []),
        `  UserKnownHostsFile ${quoted(knownHosts)}`,
        `  GlobalKnownHostsFile /dev/null`,
        `  StrictHostKeyChecking yes`,
        `  LogLevel ERROR`,
        `  ServerAliveInterval 15`,
        "",
    ].join("\n");
}

/** A word for a POSIX shell (git's core.sshCommand, the forced command's SSH_ORIGINAL_COMMAND). */
export const shellQuote = (s) => (/^[A-Za-z0-9_\-.,:=/@+%]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
