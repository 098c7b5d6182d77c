#!/usr/bin/env node
// pg-backup — capture a backup of an app's database now, onto the backup host, and print its id.
//
// Runs `dynoform pg:backups:capture -a APP` (a pg_dump of the app's database, taken on the data
// host and kept on the backup host: dynoform:backupHost, else the control host), waits for it to
// finish, checks that `dynoform pg:backups` lists it, and prints its id (b001, b002, ...) alone on
// stdout, so a script can keep it: `id=$(node runbooks/pg-backup.mjs -a shop --stack test)`.
// Restore it with pg-restore.mjs. Point-in-time restores need no capture: the data host archives
// WAL continuously and takes a base backup daily (README "PostgreSQL backups").
//
// Changes nothing but adds a backup, so it does not ask; running it again takes another backup.
//
//   node runbooks/pg-backup.mjs -a APP [--stack STACK]
import { fileURLToPath } from "node:url";
import { requireApp } from "./lib/apps.mjs";
import { dynoform } from "./lib/control.mjs";
import { parseOptions } from "./lib/options.mjs";
import { fail, run, step } from "./lib/output.mjs";

async function main() {
    const opts = parseOptions(fileURLToPath(import.meta.url), { usage: "pg-backup.mjs -a APP", strings: ["app"], alias: { a: "app" }, required: ["app"] });
    const app = opts.app;
    await requireApp(opts.stack, app);
    // Progress goes to stderr: stdout carries only the id.
    step(`capture a backup of ${app}'s database (stack ${opts.stack})`, process.stderr);
    const id = (await dynoform(opts.stack, ["pg:backups:capture", "-a", app])).trim();
    if (!/^b\d{3,6}$/.test(id)) fail(`pg:backups:capture answered "${id.slice(0, 80)}", not a backup id: see "dynoform pg:backups -a ${app}"`);
    step(`check: pg:backups lists ${id}`, process.stderr);
    const listed = await dynoform(opts.stack, ["pg:backups", "-a", app], { quiet: true });
    if (!new RegExp(`^${id} .*Completed`, "m").test(listed)) fail(`${id} is not listed as completed by "dynoform pg:backups -a ${app}": run pg-backup.mjs again`);
    process.stdout.write(`${id}\n`);
    return 0;
}

run(main);
