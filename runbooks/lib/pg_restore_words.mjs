// The `dynoform pg:backups:restore` command line pg-restore.mjs runs, from its own: checked here,
// before anything is asked of the stack, with the verb's own rules (a backup id, or a time with its
// zone, never both).
import { RunbookError } from "./output.mjs";

const BACKUP = /^(?:[a-z][a-z0-9-]*::)?b\d{3,6}$/;
const TIME_WITH_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|UTC|[+-]\d{2}:?\d{2})$/i;

/** The verb's words for restoring `backup` (or the latest, or the database as it was at `to`) into `app`. */
export function restoreWords({ app, backup, to }) {
    if (backup !== undefined && to !== undefined) throw new RunbookError(`pass either a backup or --to TIME, not both: --to restores from the continuous WAL archive`);
    if (backup !== undefined && !BACKUP.test(backup)) throw new RunbookError(`${backup} is not a backup id: use b001 (see "dynoform pg:backups -a ${app}") or APP::b001 (another app's)`);
    if (to !== undefined && !TIME_WITH_ZONE.test(to.trim())) throw new RunbookError(`--to ${to} is not a time with its zone: use e.g. --to '2026-11-30 01:41:12 UTC' or --to 2026-11-30T01:41:12Z`);
    return ["pg:backups:restore", ...(backup !== undefined ? [backup] : []), "DATABASE_URL", ...(to !== undefined ? ["--to", to.trim()] : []), "-a", app, "--confirm", app];
}

/** What the restore brings back, in the operator's words. */
export function restoreWhat({ app, backup, to }) {
    return to !== undefined ? `${app}'s database as it was at ${to.trim()}` : backup !== undefined ? `backup ${backup}` : `the latest backup of ${app}`;
}
