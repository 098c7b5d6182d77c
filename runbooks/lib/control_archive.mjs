// The control role's state as one archive (control-backup.mjs, control-restore.mjs): the bash that
// runs on each host, and the pure rules around it (archive ids, retention, comparing app lists).
//
// What is kept (packages/control/src/state_paths.ts): apps/ (metadata, config vars, formation,
// domains, maintenance, buildpacks, every release record), repos/ (the bare git repos), the slugs
// of each app's current release (and of any newer failed release), placement/, hosts/drained.json,
// tombstones/, accounts/accounts.json (taken under its own lock, _accounts) and audit/ (copied, not
// linked: its logs grow in place). Left out: cache/ and runtimes/ (rebuilt by the next push), builds/ (a build's
// sandbox), trash/ and locks/ (made again empty). Older releases' slugs are left out too: a rollback
// to one of them after a restore needs a push of that commit first.
//
// Consistency: dynoform-control (the daemon) is not what changes the state — every CLI verb and
// every push runs as its own SSH forced-command process — so stopping the daemon would not hold
// the state still. Instead each app is snapshotted under its own app lock (locks/<app>.lock, the
// lock every verb that changes an app takes, app_lock.ts): its files are hard-linked into a
// snapshot directory inside the state root (every file there is written once, or replaced whole by
// a rename, so a hard link is a frozen copy), which takes milliseconds, and the lock is let go
// before anything is compressed or sent. A verb arriving meanwhile waits that long, never fails. A
// push receives its objects outside the app lock: a repo's refs are linked before its objects
// (git writes objects before the refs that name them), and each copied repo must pass
// `git fsck --connectivity-only`, or it is copied again.
import { readFileSync } from "node:fs";
import { shellQuote } from "../../scripts/cli/ssh-files.mjs";

export const STATE_DIR = "/var/lib/dynoform";
export const BACKUP_DIR = "/var/lib/dynoform-backups/control";
/** The archive being copied to a host it is restored on. */
export const RESTORE_FILE = "/var/lib/.dynoform-control-restore.tar.gz";
/** The control-backup keeps this many archives on the backup host unless --keep says otherwise. */
export const DEFAULT_KEEP = 7;
/** The archive's list of its apps, one name a line: what a drill and a restore compare. */
export const MANIFEST = "APPS";

/** A script of lib/host/ with its inputs set before it (quoted: they are paths, never secrets). */
export function hostScript(name, vars) {
    const text = readFileSync(new URL(`./host/${name}`, import.meta.url), "utf8");
    return `${Object.entries(vars)
        .map(([k, v]) => `${k}=${shellQuote(String(v))}`)
        .join("\n")}\n${text}`;
}

/** An archive's id: its UTC time (a Date or an ISO string) to the second, 20261130T044512Z (sorts as it was taken). */
export function archiveId(date) {
    return new Date(date).toISOString().slice(0, 19).replace(/[-:]/g, "") + "Z";
}

export function isArchiveId(text) {
    return /^\d{8}T\d{6}Z$/.test(text);
}

/** --keep N: a whole number 1..999. */
export function parseKeep(text) {
    if (text === undefined) return DEFAULT_KEEP;
    if (!/^[1-9]\d{0,2}$/.test(String(text))) throw new Error(`--keep ${text} is not a number of archives to keep: use 1 to 999 (default ${DEFAULT_KEEP})`);
    return Number(text);
}

/** App names, one a line → sorted list (blank lines and dot-names dropped). */
export function appList(text) {
    return text
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith("."))
        .sort();
}

/** What differs between two app lists, in words; undefined when they are the same. */
export function appsDiffer(expected, actual, { expectedName = "the archive", actualName = "control" } = {}) {
    const missing = expected.filter((a) => !actual.includes(a));
    const extra = actual.filter((a) => !expected.includes(a));
    if (!missing.length && !extra.length) return undefined;
    return [missing.length ? `${missing.join(", ")} in ${expectedName} but not in ${actualName}` : "", extra.length ? `${extra.join(", ")} in ${actualName} but not in ${expectedName}` : ""].filter(Boolean).join("; ");
}

/** control-backup's snapshot on the control host: the archive on its stdout (lib/host/control-snapshot.sh). */
export function snapshotScript(stateDir = STATE_DIR) {
    return hostScript("control-snapshot.sh", { root: stateDir });
}

/** The backup host's side, as its ssh command (a fixed text: the id is checked, nothing else varies): the archive on stdin into BACKUP_DIR. */
export function receiveCommand(id, backupDir = BACKUP_DIR) {
    if (!isArchiveId(id)) throw new Error(`not an archive id: ${id}`);
    return `set -eu; umask 077; install -d -m 0700 ${backupDir}; cat >${backupDir}/.${id}.part; mv -f ${backupDir}/.${id}.part ${backupDir}/${id}.tar.gz`;
}

/** On the backup host: the archive on stdout, for control-restore's copy onto the host it restores. */
export function sendScript(id, backupDir = BACKUP_DIR) {
    if (!isArchiveId(id)) throw new Error(`not an archive id: ${id}`);
    return `cat ${backupDir}/${id}.tar.gz\n`;
}

/** The restoring host's side, as its ssh command (a fixed text): the archive on stdin into `file`, root-only. */
export function restoreReceiveCommand(file = RESTORE_FILE) {
    return `set -eu; umask 077; cat >${file}`;
}

/** On the backup host after the copy: checks the archive reads whole, keeps its app list beside it, prunes to `keep`; prints the apps. */
export function sealScript(id, keep, backupDir = BACKUP_DIR) {
    if (!isArchiveId(id)) throw new Error(`not an archive id: ${id}`);
    return `set -euo pipefail
cd ${backupDir}
tar -xzOf ${id}.tar.gz ${MANIFEST} >.${id}.apps
gzip -t ${id}.tar.gz
mv -f .${id}.apps ${id}.apps
ls | sed -n 's/^\\([0-9]\\{8\\}T[0-9]\\{6\\}Z\\)\\.tar\\.gz$/\\1/p' | sort | head -n -${keep} | while read -r old; do rm -f "$old.tar.gz" "$old.apps"; echo "pruned control backup $old" >&2; done
cat ${id}.apps
`;
}

/** On a backup host: "ID SIZE" of each archive kept, oldest first. */
export function listScript(backupDir = BACKUP_DIR) {
    return `cd ${backupDir} 2>/dev/null || exit 0
for f in $(ls | grep -E '^[0-9]{8}T[0-9]{6}Z\\.tar\\.gz$' | sort); do echo "\${f%.tar.gz} $(stat -c %s "$f")"; done
`;
}

/** On a backup host: the archive's own list of apps. */
export function manifestScript(id, backupDir = BACKUP_DIR) {
    if (!isArchiveId(id)) throw new Error(`not an archive id: ${id}`);
    return `set -euo pipefail; cd ${backupDir}; [ -f ${id}.apps ] && cat ${id}.apps || tar -xzOf ${id}.tar.gz ${MANIFEST}\n`;
}

/** The drill on the backup host (lib/host/control-drill.sh): "apps: ..." and "problem: ..." lines. */
export function drillScript(id, backupDir = BACKUP_DIR) {
    if (!isArchiveId(id)) throw new Error(`not an archive id: ${id}`);
    return hostScript("control-drill.sh", { archive: `${backupDir}/${id}.tar.gz` });
}

/** The restore on the host it restores onto (lib/host/control-restore.sh): "aside: DIR", "service: started|absent". */
export function restoreScript(stateDir = STATE_DIR, archive = RESTORE_FILE, unit = "dynoform-control.service") {
    return hostScript("control-restore.sh", { root: stateDir, archive, unit });
}
