#!/usr/bin/env node
// control-backup — the control role's state as one consistent archive on the backup host.
//
// What it keeps: every app (metadata, config vars, formation, domains, maintenance mode, buildpacks,
// every release record), its git repo and the slug of its current release, plus where dynos are
// placed, the drained hosts, the tombstones of destroyed apps, the accounts (users, their keys and
// token hashes, each app's owner and collaborators) and the audit logs — /var/lib/dynoform without its
// caches, builds, runtimes and trash (runbooks/lib/control_archive.mjs says exactly, and why).
//
// How it stays consistent while the platform runs: each app's files are hard-linked into a snapshot
// under that app's own lock, the one every verb that changes the app takes, for milliseconds per
// app; a verb arriving meanwhile waits, never fails. (Stopping dynoform-control would not do: verbs
// and pushes run as SSH forced commands, not in the daemon.) The snapshot is then compressed and
// streamed from the control host to the backup host through this machine (the hosts hold no key to
// each other), into /var/lib/dynoform-backups/control/<ID>.tar.gz beside the PostgreSQL backups,
// checked there, and only the newest --keep archives (default 7) are kept.
//
// The backup host is --to HOST, else the stack's dynoform:backupHost, else the control host itself —
// which survives nothing that takes the control host's disk: set dynoform:backupHost or pass --to.
// Restore with control-restore.mjs (and rehearse with its --drill). Changes nothing live, so it does
// not ask; each run adds an archive.
//
//   node runbooks/control-backup.mjs [--to HOST] [--keep N] [--stack STACK]
import { fileURLToPath } from "node:url";
import { dynoformJson } from "./lib/control.mjs";
import { appList, appsDiffer, archiveId, BACKUP_DIR, parseKeep, receiveCommand, sealScript, snapshotScript } from "./lib/control_archive.mjs";
import { parseOptions } from "./lib/options.mjs";
import { fail, info, red, run, step } from "./lib/output.mjs";
import { StackHosts } from "./lib/ssh.mjs";
import { backupHostOf, controlHostOf, stackConfig } from "./lib/stack_config.mjs";
import { stackOutputs } from "./lib/stack.mjs";

async function main() {
    const opts = parseOptions(fileURLToPath(import.meta.url), { usage: "control-backup.mjs [--to HOST] [--keep N]", strings: ["to", "keep"] });
    let keep;
    try {
        keep = parseKeep(opts.keep);
    } catch (err) {
        process.stderr.write(`${err.message}\n`);
        return 2;
    }
    const outputs = stackOutputs(opts.stack);
    const hosts = new StackHosts(outputs.ssh);
    const config = stackConfig(opts.stack);
    const control = controlHostOf(config);
    const to = opts.to || backupHostOf(config);
    if (!hosts.connections[to]) fail(`--to ${to} is not a host of stack ${opts.stack}: its hosts are ${hosts.names.join(", ")}`);
    if (to === control) info(red(`note: the backup host ${to} is the control host itself: this archive does not survive the loss of its disk (set dynoform:backupHost, or pass --to HOST)`));

    const id = archiveId(new Date());
    step(`snapshot the control state on ${control} (each app under its lock) into ${to}:${BACKUP_DIR}/${id}.tar.gz`);
    const copied = await hosts.pipe(control, snapshotScript(), to, receiveCommand(id));
    if (copied.code !== 0) fail(`the copy from ${control} to ${to} failed (exit ${copied.code}): ${copied.stderr.trim().split("\n").slice(-3).join(" / ") || "no message"}. Run control-backup.mjs again`);

    step(`check the archive on ${to}, and keep the newest ${keep}`);
    const sealed = await hosts.run(to, sealScript(id, keep), { timeoutSec: 900 });
    if (sealed.code !== 0) fail(`the archive on ${to} does not read whole: ${sealed.stderr.trim().split("\n").pop()}. Run control-backup.mjs again`);
    for (const line of sealed.stderr.trim().split("\n").filter((l) => l.startsWith("pruned"))) info(line);
    const archived = appList(sealed.stdout);
    const changed = appsDiffer(archived, (await dynoformJson(opts.stack, ["apps"])).sort(), { actualName: "control now" });
    if (changed) info(`note: apps changed while it ran (${changed}): the archive holds them as they were`);
    info(`control backup ${id} kept on ${to}: ${archived.length} app${archived.length === 1 ? "" : "s"}${archived.length ? ` (${archived.join(", ")})` : ""}`);
    info(`Rehearse a restore with: node runbooks/control-restore.mjs ${id} --from ${to} --drill --stack ${opts.stack}`);
    return 0;
}

run(main);
