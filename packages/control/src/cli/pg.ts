// pg:backups, pg:backups:capture, pg:backups:restore, pg:backups:schedule, pg:psql,
// pg:credentials:rotate: an app's PostgreSQL database (its DATABASE_URL), Heroku's verbs. Backups
// are pg_dumps kept on the backup host; --to restores the database as it was at a time from the
// cluster's base backups and WAL (README "PostgreSQL backups").
import { spawn } from "node:child_process";
import { appNameProblem } from "../app_store";
import { BackupRef, Databases, PgBackup } from "../databases";
import { UserError } from "../errors";
import { formatSize } from "../slug";
import { styledHeader, table } from "../text";
import { APP_FLAG, FlagSpec } from "./args";
import { changeConfig, releaseSuffix } from "./config";
import { appLabel, CliContext, flagString, Verb } from "./context";

const DATABASE = "DATABASE";
const CONFIRM_FLAG: FlagSpec = { name: "confirm", short: "c", value: true, description: "the app's name, to confirm" };

/** The one database an app has: `DATABASE_URL` or `DATABASE` name it (Heroku's attachment names). */
function checkDatabaseArg(arg: string | undefined): void {
    if (arg === undefined || arg === "DATABASE_URL" || arg === DATABASE) return;
    throw new UserError(`Unknown database ${arg}: an app has one database, DATABASE_URL`);
}

async function databasesOf(ctx: CliContext, app: string): Promise<Databases> {
    await ctx.store.requireApp(app);
    const databases = ctx.fleet.databases;
    if (!databases) throw new UserError(`This platform has no data host: add the data role to a host of dynoform:hosts`);
    if ((await ctx.store.getConfig(app)).DATABASE_URL === undefined) throw new UserError(`${app} has no database (no DATABASE_URL config var)`);
    return databases;
}

function confirmed(app: string, confirm: string | boolean | undefined, what: string, command: string): void {
    if (confirm === undefined) throw new UserError(`${what}: to proceed, run "dynoform ${command} --confirm ${app}"`);
    if (confirm !== app) throw new UserError(`Confirmation "${confirm}" did not match ${app}: pass --confirm ${app}`);
}

/** "2026-11-30 01:41:12 +0000", Heroku's pg:backups column. */
export function backupTime(d: Date): string {
    return `${d.toISOString().slice(0, 19).replace("T", " ")} +0000`;
}

export function backupsTable(backups: PgBackup[]): string[] {
    const rows = [...backups].reverse().map((b) => [b.id, backupTime(b.createdAt), `Completed ${backupTime(b.finishedAt)}`, formatSize(b.size), DATABASE]);
    return table(rows, ["ID", "Created at", "Status", "Size", "Database"]);
}

/** The other apps a restore's arguments name (`APP::b003`): the caller needs read on each (cli/authorize.ts). */
export function backupSourceApps(positional: string[]): string[] {
    return positional.map((p) => /^([a-z][a-z0-9-]*)::b\d+$/.exec(p)?.[1]).filter((a): a is string => a !== undefined);
}

/** `b003` (the app's own), `APP::b003` (another app's, destroyed or not); none: the app's latest. */
export async function backupRef(arg: string | undefined, app: string, databases: Databases): Promise<BackupRef> {
    if (arg === undefined) {
        const latest = (await databases.backups(app)).at(-1);
        if (!latest) throw new UserError(`${app} has no backups: capture one with "dynoform pg:backups:capture -a ${app}"`);
        return { app, id: latest.id };
    }
    const m = /^(?:([a-z][a-z0-9-]*)::)?(b\d{3,6})$/.exec(arg);
    if (!m || (m[1] !== undefined && appNameProblem(m[1]))) throw new UserError(`Backup ${arg} is not a backup id: use b001 (this app's, see "dynoform pg:backups -a ${app}") or APP::b001 (another app's)`);
    return { app: m[1] ?? app, id: m[2] };
}

/**
 * --to TIME: a time with its zone ("2026-11-30 01:41:12 UTC", "2026-11-30T01:41:12Z",
 * "2026-11-30T02:41:12+01:00"), in the past, to the second (PostgreSQL replays to whole seconds).
 */
export function parseRestoreTime(text: string, now: Date): Date {
    const normal = text.trim().replace(/ UTC$/i, "Z").replace(" ", "T");
    const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(normal);
    const ms = Date.parse(normal);
    if (!hasZone || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?/.test(normal) || Number.isNaN(ms)) {
        throw new UserError(`--to ${text} is not a time with its zone: use e.g. --to '2026-11-30 01:41:12 UTC' or --to 2026-11-30T01:41:12Z`);
    }
    const at = new Date(Math.floor(ms / 1000) * 1000);
    if (at.getTime() > now.getTime()) throw new UserError(`--to ${text} is in the future: pick a time before now (${backupTime(now)})`);
    return at;
}

export const pgBackups: Verb = {
    name: "pg:backups",
    summary: "list an app's database backups",
    usage: "pg:backups -a APP",
    needsApp: true,
    access: "read",
    flags: [APP_FLAG],
    args: { min: 0, max: 0 },
    async run(ctx, { app }) {
        const backups = await (await databasesOf(ctx, app)).backups(app);
        ctx.out(styledHeader("Backups"));
        if (backups.length === 0) ctx.out(`No backups. Capture one with "dynoform pg:backups:capture -a ${app}"`);
        else backupsTable(backups).forEach((l) => ctx.out(l));
        return 0;
    },
};

export const pgBackupsCapture: Verb = {
    name: "pg:backups:capture",
    summary: "capture a backup (pg_dump) of an app's database onto the backup host",
    usage: "pg:backups:capture [DATABASE_URL] -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: () => "Capture a backup of DATABASE", apiLine: true },
    flags: [APP_FLAG],
    args: { min: 0, max: 1 },
    async run(ctx, { app, positional }) {
        checkDatabaseArg(positional[0]);
        const databases = await databasesOf(ctx, app);
        const id = await databases.capture(app);
        ctx.err(`Backing up ${DATABASE} of ${appLabel(app)} to ${id}... done`);
        ctx.out(id);
        return 0;
    },
};

export const pgBackupsRestore: Verb = {
    name: "pg:backups:restore",
    summary: "restore a backup, or the database as it was at a time (--to), into an app's database",
    usage: "pg:backups:restore [BACKUP] [DATABASE_URL] [--to TIME] -a APP --confirm APP",
    needsApp: true,
    access: "operate",
    readsApps: ({ positional }) => backupSourceApps(positional),
    audit: { detail: ({ positional, flags }) => `Restore ${typeof flags.to === "string" ? `DATABASE to ${flags.to}` : `${positional.find((p) => !/^DATABASE(_URL)?$/.test(p)) ?? "the latest backup"} to DATABASE`}`, apiLine: true },
    flags: [APP_FLAG, { name: "to", value: true, description: "the time to restore to, with its zone ('2026-11-30 01:41:12 UTC')" }, CONFIRM_FLAG],
    args: { min: 0, max: 2 },
    async run(ctx, { app, positional, flags }) {
        // Heroku's forms: [BACKUP] [DATABASE], or only DATABASE
        const [backupArg, databaseArg] = positional.length === 1 && /^DATABASE(_URL)?$/.test(positional[0]) ? [undefined, positional[0]] : positional;
        checkDatabaseArg(databaseArg);
        const to = flagString({ flags, positional }, "to");
        if (to !== undefined && backupArg !== undefined) throw new UserError(`Pass either a backup or --to TIME, not both: --to restores from the continuous archive`);
        const at = to === undefined ? undefined : parseRestoreTime(to, ctx.now());
        const databases = await databasesOf(ctx, app);
        const ref = at ? undefined : await backupRef(backupArg, app, databases);
        confirmed(app, flags.confirm, `This overwrites all data in ${app}'s database (${DATABASE})`, `pg:backups:restore ${ref ? `${ref.app === app ? ref.id : `${ref.app}::${ref.id}`} ` : ""}${DATABASE} ${to !== undefined ? `--to '${to}' ` : ""}-a ${app}`);
        if (at) {
            await databases.restoreToTime(app, at);
            ctx.err(`Restoring ${DATABASE} of ${appLabel(app)} to ${backupTime(at)}... done`);
        } else {
            await databases.restore(app, ref!);
            ctx.err(`Restoring ${ref!.app === app ? ref!.id : `${ref!.app}::${ref!.id}`} to ${DATABASE} of ${appLabel(app)}... done`);
        }
        return 0;
    },
};

export const pgBackupsSchedule: Verb = {
    name: "pg:backups:schedule",
    summary: "show or set the time of day of the daily base backup (the platform's, not one app's)",
    usage: "pg:backups:schedule [DATABASE_URL] [--at '02:00 UTC'] -a APP",
    needsApp: true,
    access: "admin",
    audit: { detail: ({ flags }) => (typeof flags.at === "string" ? `Schedule daily base backups at ${flags.at}` : undefined), apiLine: false },
    flags: [APP_FLAG, { name: "at", value: true, description: "time of day, UTC ('02:00 UTC')" }],
    args: { min: 0, max: 1 },
    async run(ctx, { app, positional, flags }) {
        checkDatabaseArg(positional[0]);
        const atText = flagString({ flags, positional }, "at");
        const m = atText === undefined ? undefined : /^\s*(\d{1,2}):(\d{2})\s*(?:UTC|Z)?\s*$/i.exec(atText);
        if (atText !== undefined && (!m || Number(m[1]) > 23 || Number(m[2]) > 59)) {
            throw new UserError(`--at ${atText} is not a time of day in UTC: use e.g. --at '02:00 UTC'`);
        }
        const at = m ? `${m[1].padStart(2, "0")}:${m[2]}` : undefined;
        const databases = await databasesOf(ctx, app);
        const now = await databases.schedule(app, at);
        if (at) ctx.err(`Scheduling daily base backups of every database at ${now}... done`);
        ctx.out(`Daily base backups at ${now} (point-in-time restores reach back to the oldest one kept)`);
        return 0;
    },
};

/** The psql environment for DATABASE_URL: the password in PGPASSWORD, never in psql's arguments. */
export function psqlEnv(databaseUrl: string): Record<string, string> {
    const u = new URL(databaseUrl);
    if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") throw new UserError(`DATABASE_URL is not a postgres:// URL: set it back with "dynoform pg:credentials:rotate"`);
    return {
        PGHOST: u.hostname,
        PGPORT: u.port || "5432",
        PGUSER: decodeURIComponent(u.username),
        PGPASSWORD: decodeURIComponent(u.password),
        PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
        PGCONNECT_TIMEOUT: "10",
        PGAPPNAME: "dynoform pg:psql",
    };
}

export const pgPsql: Verb = {
    name: "pg:psql",
    summary: "open a psql session to an app's database (as its role), or run one command (-c)",
    usage: "pg:psql [DATABASE_URL] [-c COMMAND] -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ flags }) => (typeof flags.command === "string" ? "Run a pg:psql command" : "Open a pg:psql session"), apiLine: true },
    flags: [APP_FLAG, { name: "command", short: "c", value: true, description: "SQL command to run" }],
    args: { min: 0, max: 1 },
    async run(ctx, { app, positional, flags }) {
        checkDatabaseArg(positional[0]);
        await ctx.store.requireApp(app);
        const url = (await ctx.store.getConfig(app)).DATABASE_URL;
        if (url === undefined) throw new UserError(`${app} has no database (no DATABASE_URL config var)`);
        const command = flagString({ flags, positional }, "command");
        const args = ["-X", ...(command !== undefined ? ["-v", "ON_ERROR_STOP=1", "-c", command] : [])];
        // psql runs what it is given, `\! sh` included: as the app's build user, which already runs
        // the app's own code at each push (same firewall: the data host, the edges, the internet),
        // never as the control role's root.
        const user = ctx.buildUsers ? await ctx.buildUsers.forApp(app) : undefined;
        if (!user && process.getuid?.() === 0) throw new UserError(`pg:psql needs the control host's build users (buildUserPrefix in /etc/dynoform/control.json): psql never runs as root`);
        ctx.err(`--> Connecting to ${DATABASE} of ${appLabel(app)}`);
        return runPsql(ctx, args, psqlEnv(url), process.env.DYNOFORM_PSQL ?? "psql", user);
    },
};

function runPsql(ctx: CliContext, args: string[], env: Record<string, string>, psql: string, user?: { uid: number; gid: number }): Promise<number> {
    return new Promise((resolve, reject) => {
        const child = spawn(psql, args, {
            cwd: "/",
            env: { PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8", HOME: "/nonexistent", ...env },
            stdio: ["pipe", "pipe", "pipe"],
            ...(user ? { uid: user.uid, gid: user.gid } : {}),
        });
        child.on("error", (e: NodeJS.ErrnoException) =>
            reject(e.code === "ENOENT" ? new UserError(`psql is not installed on the control host: install postgresql-client there (apt-get install postgresql-client)`) : e),
        );
        child.stdout.on("data", (d: Buffer) => ctx.writeStdout(d));
        child.stderr.on("data", (d: Buffer) => ctx.writeStderr(d));
        child.stdin.on("error", () => undefined); // psql exits before its input ends: its exit code tells
        if (ctx.stdin) ctx.stdin.pipe(child.stdin);
        else child.stdin.end();
        child.on("close", (code) => resolve(code ?? 1));
    });
}

export const pgCredentialsRotate: Verb = {
    name: "pg:credentials:rotate",
    summary: "give an app's database role a new password (DATABASE_URL changes; makes a new release)",
    usage: "pg:credentials:rotate [DATABASE_URL] -a APP --confirm APP",
    needsApp: true,
    access: "operate",
    audit: { detail: () => "Rotate DATABASE credentials", apiLine: true },
    flags: [APP_FLAG, CONFIRM_FLAG],
    args: { min: 0, max: 1 },
    async run(ctx, { app, positional, flags }) {
        checkDatabaseArg(positional[0]);
        const databases = await databasesOf(ctx, app);
        confirmed(app, flags.confirm, `This gives ${app}'s database role a new password; its dynos restart with it`, `pg:credentials:rotate -a ${app}`);
        const oldPassword = decodeURIComponent(new URL((await ctx.store.getConfig(app)).DATABASE_URL!).password);
        const url = await databases.rotatePassword(app);
        const release = await changeConfig(ctx, app, (cur) => ({ ...cur, DATABASE_URL: url }), "Rotate DATABASE_URL credentials").catch(async (err: Error) => {
            // The release failed and the app keeps its old DATABASE_URL: so does its role.
            await databases.rotatePassword(app, oldPassword).catch(() => undefined);
            throw err;
        });
        ctx.err(`Rotating credentials of ${DATABASE} on ${appLabel(app)}... done${releaseSuffix(release)}`);
        return 0;
    },
};
