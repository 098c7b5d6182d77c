#!/usr/bin/env node
// pg-restore — restore an app's database from a backup, or as it was at a point in time.
//
// Runs `dynoform pg:backups:restore`: with BACKUP (b003, or APP::b003 for another app's, a
// destroyed one's included) that pg_dump; with neither, the app's latest backup; with --to TIME
// (with its zone: '2026-11-30 01:41:12 UTC', 2026-11-30T01:41:12Z) the database as it was then,
// replayed from the data host's base backups and WAL archive. Everything in the app's database now
// is replaced. Then checks that the database answers a query as the app's role (pg:psql).
//
// Idempotent: restoring the same backup or time again gives the same database. Asks before it
// overwrites (on a terminal), unless --yes. Take a backup first (pg-backup.mjs) to be able to undo.
//
//   node runbooks/pg-restore.mjs -a APP [BACKUP] [--to TIME] [--stack STACK] [--yes]
import { fileURLToPath } from "node:url";
import { databaseAnswers, requireApp } from "./lib/apps.mjs";
import { confirm } from "./lib/confirm.mjs";
import { dynoformLive } from "./lib/control.mjs";
import { parseOptions } from "./lib/options.mjs";
import { fail, info, run, RunbookError, step } from "./lib/output.mjs";
import { restoreWhat, restoreWords } from "./lib/pg_restore_words.mjs";

async function main() {
    const opts = parseOptions(fileURLToPath(import.meta.url), {
        usage: "pg-restore.mjs -a APP [BACKUP] [--to TIME]",
        args: { min: 0, max: 1 },
        strings: ["app", "to"],
        alias: { a: "app" },
        required: ["app"],
        asks: true,
    });
    const wanted = { app: opts.app, backup: opts.args[0], to: opts.to };
    let words;
    try {
        words = restoreWords(wanted);
    } catch (err) {
        if (!(err instanceof RunbookError)) throw err;
        process.stderr.write(`${err.message}\n`);
        return 2;
    }
    await requireApp(opts.stack, opts.app);
    step(`restore ${restoreWhat(wanted)} into ${opts.app}'s database (stack ${opts.stack}): everything in it now is replaced`);
    await confirm(`This overwrites all data in ${opts.app}'s database`, opts);
    await dynoformLive(opts.stack, words);
    step(`check: ${opts.app}'s database answers as the app's role`);
    if (!(await databaseAnswers(opts.stack, opts.app))) fail(`${opts.app}'s database does not answer after the restore: try "dynoform pg:psql -a ${opts.app}", then run pg-restore.mjs again`);
    info(`${opts.app}'s database is restored from ${restoreWhat(wanted)} and answers`);
    return 0;
}

run(main);
