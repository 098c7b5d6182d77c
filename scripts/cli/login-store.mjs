// The stored login: ${XDG_CONFIG_HOME:-~/.config}/dynoform/login/ holds target.json (host, port,
// user, hostKey, identity), known_hosts and ssh_config, 0700/0600. Its own subdirectory because
// dynoform/ also holds files that are not ours (the README suggests stack passphrase files there).
// A new login is written beside it and swapped in by rename only once it has been verified, so a
// failed re-login leaves the previous one working and the paths git's core.sshCommand names stay.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fail } from "./cli-error.mjs";
import { knownHostsLine, sshConfigText, writeAtomic } from "./ssh-files.mjs";

export function configDir() {
    return join(process.env.XDG_CONFIG_HOME || join(homedir(), ".config"), "dynoform");
}

export const loginDir = () => join(configDir(), "login");

function filesOf(dir) {
    return { dir, target: join(dir, "target.json"), knownHosts: join(dir, "known_hosts"), sshConfig: join(dir, "ssh_config") };
}

/** The login's target ({ target: "login", host, port, user, hostKey, identity, sshConfig }), or undefined when not logged in. */
export function readLogin() {
    const files = filesOf(loginDir());
    if (!existsSync(files.target)) return undefined;
    let stored;
    try {
        stored = JSON.parse(readFileSync(files.target, "utf8"));
    } catch (err) {
        return fail(`the login in ${files.dir} cannot be read (${err.message}): dynoform logout, then dynoform login again`);
    }
    return { target: "login", ...stored, sshConfig: files.sshConfig };
}

/**
 * Writes a login into a staging directory beside the real one. Its ssh_config names the final
 * paths (what git remotes will use); `knownHosts` is the staged file, for the verifying ssh.
 */
export function stageLogin({ host, port, user, hostKey, identity }) {
    const base = configDir();
    mkdirSync(base, { recursive: true, mode: 0o700 });
    const staged = filesOf(join(base, `login.new-${process.pid}`));
    rmSync(staged.dir, { recursive: true, force: true });
    mkdirSync(staged.dir, { mode: 0o700 });
    chmodSync(staged.dir, 0o700);
    const final = filesOf(loginDir());
    writeAtomic(staged.knownHosts, knownHostsLine(host, port, hostKey));
    const comment = "dynoform login: made by `dynoform login`; `dynoform logout` removes it";
    writeAtomic(staged.sshConfig, sshConfigText({ comment, host, alias: "dynoform", port, user, identity, knownHosts: final.knownHosts }));
    writeAtomic(staged.target, JSON.stringify({ host, port, user, hostKey, identity: identity ?? null }, null, 2) + "\n");
    return staged;
}

export function discardStaged(staged) {
    rmSync(staged.dir, { recursive: true, force: true });
}

/** Swaps the staged login in for the current one (two renames; the old one is removed after). */
export function commitLogin(staged) {
    const current = loginDir();
    const old = `${current}.old-${process.pid}`;
    if (existsSync(current)) renameSync(current, old);
    renameSync(staged.dir, current);
    rmSync(old, { recursive: true, force: true });
}

/** Removes the login; returns what it was (undefined when there was none). */
export function removeLogin() {
    let was;
    try {
        was = readLogin();
    } catch {
        was = undefined; // a damaged login is removed all the same
    }
    const existed = existsSync(loginDir());
    rmSync(loginDir(), { recursive: true, force: true });
    return existed ? (was ?? {}) : undefined;
}
