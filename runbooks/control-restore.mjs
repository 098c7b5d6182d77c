#!/usr/bin/env node
// control-restore — put the control role's state back from a control-backup archive.
//
// Takes BACKUP (an archive id, 20261130T044512Z; default the newest) from --from HOST (default the
// stack's backup host: dynoform:backupHost, else the control host), copies it onto --on HOST
// (default the control host) through this machine, and there stops dynoform-control, moves the
// state the archive holds aside to /var/lib/dynoform.before-restore-<time> (kept: remove it by hand
// once the restore is checked), unpacks the archive, and starts dynoform-control again. Then checks
// that `dynoform apps` lists exactly the archive's apps. A push, a verb or a release made after
// the archive was taken is not in it; caches are not either (the next push of each app builds from
// scratch), nor are older releases' slugs (a rollback to one needs that commit pushed first).
//
// --on another host: the state is put there, and the check lists its apps/ directory; give that
// host the control role in dynoform:hosts and run `pulumi up` for it to serve them.
//
// --drill changes nothing live: it unpacks the archive into a scratch directory on the backup host,
// checks each app's files, git repo (git fsck) and slug, compares its apps with those control lists
// now, and removes the scratch directory. Exit 1 when anything differs.
//
// Idempotent: restoring the same archive again gives the same state (the state it replaces goes
// aside each time). Asks before replacing anything (on a terminal), unless --yes.
//
//   node runbooks/control-restore.mjs [BACKUP] [--from HOST] [--on HOST] [--drill] [--stack STACK] [--yes]
import { fileURLToPath } from "node:url";
import { confirm } from "./lib/confirm.mjs";
import { dynoformJson } from "./lib/control.mjs";
import { appList, appsDiffer, BACKUP_DIR, drillScript, isArchiveId, listScript, manifestScript, restoreReceiveCommand, restoreScript, sendScript, STATE_DIR } from "./lib/control_archive.mjs";
import { parseOptions } from "./lib/options.mjs";
import { fail, green, info, red, run, step } from "./lib/output.mjs";
import { StackHosts } from "./lib/ssh.mjs";
import { backupHostOf, controlHostOf, stackConfig } from "./lib/stack_config.mjs";
import { stackOutputs } from "./lib/stack.mjs";

const lastLine = (text) => text.trim().split("\n").pop() || "no message";

/** The archive to restore: `wanted`, or the newest on `from`. */
async function pickArchive(hosts, from, wanted) {
    const listed = await hosts.run(from, listScript());
    if (listed.code !== 0) fail(`cannot list the control backups on ${from}: ${lastLine(listed.stderr)}`);
    const ids = listed.stdout.split("\n").map((l) => l.split(" ")[0]).filter(isArchiveId);
    if (ids.length === 0) fail(`${from} keeps no control backup (${BACKUP_DIR}): run control-backup.mjs first, or pass --from the host that keeps them`);
    if (wanted === undefined) return ids.at(-1);
    if (!ids.includes(wanted)) fail(`${from} keeps no control backup ${wanted}: it keeps ${ids.join(", ")}`);
    return wanted;
}

/** Control's apps, waiting up to 60 s for it to answer again after a restart. */
async function controlApps(stack) {
    const deadline = Date.now() + 60_000;
    for (;;) {
        try {
            return (await dynoformJson(stack, ["apps"])).sort();
        } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 2000));
        }
    }
}

async function drill(opts, hosts, from, id, archived) {
    step(`drill: unpack ${id} into a scratch directory on ${from}, check it, compare its apps with control's (nothing live changes)`);
    const r = await hosts.run(from, drillScript(id), { timeoutSec: 1800 });
    if (r.code !== 0) fail(`the drill could not unpack ${id} on ${from}: ${lastLine(r.stderr)}`);
    const unpacked = appList((/^apps: (.*)$/m.exec(r.stdout)?.[1] ?? "").replace(/ /g, "\n"));
    const problems = [...r.stdout.matchAll(/^problem: (.*)$/gm)].map((m) => m[1]);
    const inside = appsDiffer(archived, unpacked, { expectedName: "its list", actualName: "its apps/" });
    if (inside) problems.push(`the archive's list and its apps differ: ${inside}`);
    const live = appsDiffer(unpacked, await controlApps(opts.stack), { expectedName: `backup ${id}`, actualName: "control now" });
    if (live) problems.push(`${live} (a newer control-backup holds the changes since)`);
    info(`${id}: ${unpacked.length} app${unpacked.length === 1 ? "" : "s"}${unpacked.length ? ` (${unpacked.join(", ")})` : ""}`);
    for (const p of problems) info(red(`✗ ${p}`));
    if (problems.length) return 1;
    info(green(`drill passed: backup ${id} unpacks whole and holds the same apps control lists`));
    return 0;
}

async function main() {
    const opts = parseOptions(fileURLToPath(import.meta.url), { usage: "control-restore.mjs [BACKUP] [--from HOST] [--on HOST] [--drill]", args: { min: 0, max: 1 }, strings: ["from", "on"], booleans: ["drill"], asks: true });
    if (opts.args[0] !== undefined && !isArchiveId(opts.args[0])) {
        process.stderr.write(`${opts.args[0]} is not a control backup id: use one like 20261130T044512Z (control-backup.mjs prints it), or none for the newest\n`);
        return 2;
    }
    if (opts.drill && opts.on) {
        process.stderr.write(`--drill restores into a scratch directory on the backup host: it takes no --on\n`);
        return 2;
    }
    const outputs = stackOutputs(opts.stack);
    const hosts = new StackHosts(outputs.ssh);
    const config = stackConfig(opts.stack);
    const control = controlHostOf(config);
    const from = opts.from || backupHostOf(config);
    const on = opts.on || control;
    for (const [flag, h] of [["--from", from], ["--on", on]]) if (!hosts.connections[h]) fail(`${flag} ${h} is not a host of stack ${opts.stack}: its hosts are ${hosts.names.join(", ")}`);

    const id = await pickArchive(hosts, from, opts.args[0]);
    const listed = await hosts.run(from, manifestScript(id));
    if (listed.code !== 0) fail(`cannot read the list of apps of ${id} on ${from}: ${lastLine(listed.stderr)}`);
    const archived = appList(listed.stdout);
    if (opts.drill) return drill(opts, hosts, from, id, archived);

    step(`restore control backup ${id} (${archived.length} apps) from ${from} onto ${on}: dynoform-control stops, ${STATE_DIR}'s apps, repos and slugs are replaced (the current ones kept aside), dynoform-control starts`);
    await confirm(`This replaces the control state on ${on} with backup ${id}`, opts);
    const copied = await hosts.pipe(from, sendScript(id), on, restoreReceiveCommand());
    if (copied.code !== 0) fail(`copying ${id} from ${from} to ${on} failed (exit ${copied.code}): ${lastLine(copied.stderr)}. Nothing was changed: run control-restore.mjs again`);
    const restored = await hosts.run(on, restoreScript(), { timeoutSec: 1800 });
    if (restored.code !== 0) fail(`the restore on ${on} failed: ${lastLine(restored.stderr)}. The state it replaced is in ${STATE_DIR}.before-restore-* there; run control-restore.mjs again`);
    info(`the state it replaced is kept in ${/^aside: (.*)$/m.exec(restored.stdout)?.[1] ?? `${STATE_DIR}.before-restore-*`} on ${on}: remove it once the restore is checked`);

    if (on !== control) {
        step(`check: ${on} holds the archive's apps`);
        const r = await hosts.run(on, `ls ${STATE_DIR}/apps\n`);
        const differ = appsDiffer(archived, appList(r.stdout), { actualName: `${on}'s ${STATE_DIR}/apps` });
        if (r.code !== 0 || differ) fail(`${on} does not hold the archive's apps: ${differ ?? lastLine(r.stderr)}. Run control-restore.mjs again`);
        info(`${on} holds the ${archived.length} apps of ${id}. It is not the stack's control host (${control}): give it the control role in dynoform:hosts and run pulumi up for it to serve them`);
        return 0;
    }
    step(`check: dynoform apps lists the archive's apps`);
    const differ = appsDiffer(archived, await controlApps(opts.stack), { actualName: "dynoform apps" });
    if (differ) fail(`after the restore, ${differ}: see journalctl -u dynoform-control on ${on}, and run control-restore.mjs again`);
    info(`control on ${on} serves the ${archived.length} apps of backup ${id} again${/^service: started$/m.test(restored.stdout) ? "" : " (no dynoform-control service on this host: run pulumi up)"}`);
    return 0;
}

run(main);
