// What the pg:* verbs ask of the data host: an app's logical backups (pg_dump, kept on the backup
// host), restoring one or restoring to a point in time (base backup + WAL through a temporary
// cluster), the base backup schedule and a new password. addons_client.ts is the real one.

/** One pg_dump of an app's database, as the backup host lists it. */
export interface PgBackup {
    /** "b001", "b002", ... per app */
    id: string;
    createdAt: Date;
    finishedAt: Date;
    size: number;
}

/** A backup to restore: `id` of `app` (the app itself, or another one, destroyed or not). */
export interface BackupRef {
    app: string;
    id: string;
}

export interface Databases {
    /** A pg_dump of the app's database onto the backup host: its id. */
    capture(app: string): Promise<string>;
    backups(app: string): Promise<PgBackup[]>;
    /** The backup replaces the app's database. */
    restore(app: string, from: BackupRef): Promise<void>;
    /** The app's database as it was at `at` (whole seconds, UTC). */
    restoreToTime(app: string, at: Date): Promise<void>;
    /** The daily base backup's time ("HH:MM", UTC): set to `at`, or as it is. */
    schedule(app: string, at?: string): Promise<string>;
    /** A new password for the app's role (`password`: that one): the DATABASE_URL that carries it. */
    rotatePassword(app: string, password?: string): Promise<string>;
}

/** `ID CREATED_EPOCH FINISHED_EPOCH SIZE` lines (dynoform-backup-store dump-list). */
export function parseBackupList(stdout: string): PgBackup[] {
    const out: PgBackup[] = [];
    for (const line of stdout.split("\n")) {
        const m = /^(b\d{3,6}) (\d+) (\d+) (\d+)$/.exec(line.trim());
        if (m) out.push({ id: m[1], createdAt: new Date(Number(m[2]) * 1000), finishedAt: new Date(Number(m[3]) * 1000), size: Number(m[4]) });
    }
    return out;
}

/** The time word dynoform-pg-backup takes: YYYY-MM-DDTHH:MM:SSZ. */
export function pitrTimeWord(at: Date): string {
    return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}
