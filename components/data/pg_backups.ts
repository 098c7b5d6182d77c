// PostgreSQL's backups (README "PostgreSQL backups"): the data host archives every WAL segment and
// takes a daily base backup and the apps' dumps (templates/data/dynoform-pg-backup), onto another
// host's disk through that host's forced command (templates/backup/dynoform-backup-store).
import { POSTGRES_PORT, POSTGRES_VERSION } from "./constants";
import { render } from "../templates/render";

/** The data host's backup script: archive_command, the timer's base backup, the add-ons' backup verbs. */
export const PG_BACKUP_COMMAND = "/usr/local/sbin/dynoform-pg-backup";
/** The backup key on the data host: postgres's (archive_command runs as postgres). */
export const PG_BACKUP_KEY_FILE = "/var/lib/postgresql/.ssh/dynoform-backup";
export const PG_BACKUP_KNOWN_HOSTS_FILE = "/var/lib/postgresql/.ssh/dynoform-backup.known_hosts";
/** The backup host's forced command and where it keeps everything. */
export const BACKUP_STORE_COMMAND = "/usr/local/sbin/dynoform-backup-store";
export const BACKUP_USER = "dynoform-backup";
export const BACKUP_DIR = "/var/lib/dynoform-backups";
export const BACKUP_KEY_MARK = "dynoform-pg-backup";
/** dynoform:pgBackupRetentionDays unset. */
export const PG_BACKUP_RETENTION_DAYS = 7;
/** The daily base backup's time (UTC) until pg:backups:schedule --at changes it. */
export const PG_BACKUP_SCHEDULE = "02:00";
/** WAL is archived at least this often (seconds): the most a point-in-time restore can miss of a quiet database. */
export const ARCHIVE_TIMEOUT_SECONDS = 60;

export interface PgBackupSettings {
    storeHost: string;
    storePort: number;
    retentionDays: number;
    /** HH:MM, UTC: the base backup timer's time of day until pg:backups:schedule changes it. */
    schedule: string;
}

export function pgBackupScript(s: PgBackupSettings): string {
    return render("data/dynoform-pg-backup", {
        storeHost: s.storeHost,
        storePort: s.storePort,
        storeUser: BACKUP_USER,
        keyFile: PG_BACKUP_KEY_FILE,
        knownHostsFile: PG_BACKUP_KNOWN_HOSTS_FILE,
        retentionDays: s.retentionDays,
        defaultSchedule: s.schedule,
        postgresVersion: POSTGRES_VERSION,
        postgresPort: POSTGRES_PORT,
    });
}

export function backupStoreScript(backupDir = BACKUP_DIR): string {
    return render("backup/dynoform-backup-store", { backupDir, user: BACKUP_USER });
}

/** The PostgreSQL settings that archive every WAL segment through the backup script. */
export function archiveSettings(): string {
    return [
        "archive_mode = on",
        `archive_command = '${PG_BACKUP_COMMAND} wal-push %p %f'`,
        `archive_timeout = ${ARCHIVE_TIMEOUT_SECONDS}`,
    ].join("\n");
}

/** The backup user's authorized_keys line on the backup host: only the data host, only the store command. */
export function backupAuthorizedKeyLine(publicKey: string, dataAddress: string): string {
    const key = publicKey.trim().split(/\s+/).slice(0, 2).join(" ");
    if (!/^ssh-ed25519 [A-Za-z0-9+/]+={0,3}$/.test(key)) throw new Error(`backup key: not an ed25519 public key: ${key.slice(0, 40)}`);
    if (!/^[0-9a-fA-F.:]+$/.test(dataAddress)) throw new Error(`backup key: data host address ${dataAddress} is not an IP address`);
    return `restrict,from="${dataAddress}",command="${BACKUP_STORE_COMMAND}" ${key} ${BACKUP_KEY_MARK}`;
}
