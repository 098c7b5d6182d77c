// The data host's backup script (templates/data/dynoform-pg-backup) and the backup host's forced
// command (templates/backup/dynoform-backup-store) for real: a throwaway cluster on a loopback port
// whose archive_command sends every WAL segment through the store command (as its SSH forced
// command would see it, SSH_ORIGINAL_COMMAND) into a temporary "backup host" directory; a base
// backup; dumps; a point-in-time restore of one app's database into a temporary cluster and back.
// Needs root, the postgres user and PostgreSQL's server binaries (as addons_pg_server.test.ts):
// skipped without them.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { backupStoreScript, pgBackupScript } from "../../components/data/pg_backups";
import { freePortRun } from "../support/ports";

jest.setTimeout(180_000);

function postgresBin(): string | undefined {
    const dirs = process.env.DYNOFORM_TEST_POSTGRES_BIN ? [process.env.DYNOFORM_TEST_POSTGRES_BIN] : fs.existsSync("/usr/lib/postgresql") ? fs.readdirSync("/usr/lib/postgresql").sort().reverse().map((v) => `/usr/lib/postgresql/${v}/bin`) : [];
    return dirs.find((d) => ["initdb", "postgres", "psql", "pg_basebackup", "pg_dump", "pg_restore"].every((b) => fs.existsSync(path.join(d, b))));
}
const bin = postgresBin();
const postgresUser = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).status === 0;
const runnable = !!bin && process.getuid?.() === 0 && postgresUser;
if (!runnable) console.warn("pg_backups_server: skipped (needs root, the postgres user and PostgreSQL's binaries)");

const asPostgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"];
let tmp = "";
let port = 0;
let server: ChildProcess | undefined;

function run(argv: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
    const r = spawnSync(argv[0], argv.slice(1), { cwd: "/", input: opts.input ?? "", encoding: "utf8", env: opts.env ?? { PATH: process.env.PATH } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const storeDir = () => path.join(tmp, "store");
/** What the data host's environment would be: the store reached through a local stand-in for ssh. */
const backupEnv = (): NodeJS.ProcessEnv => ({
    PATH: `${bin}:${process.env.PATH}`,
    DYNOFORM_PG_BACKUP_STORE: path.join(tmp, "ssh-to-store"),
    DYNOFORM_PG_BACKUP_SOCKET: path.join(tmp, "sock"),
    DYNOFORM_PG_BACKUP_PORT: String(port),
    DYNOFORM_PG_BACKUP_BIN: bin!,
    DYNOFORM_PG_BACKUP_WORK: path.join(tmp, "work"),
    DYNOFORM_PG_BACKUP_TIMER_DIR: path.join(tmp, "timer.d"),
});
/** The data host's script, as root (the timer, dynoform-addons). */
const backup = (...words: string[]) => run([path.join(tmp, "dynoform-pg-backup"), ...words], { env: backupEnv() });
/** The backup host's forced command, as an SSH client's command line reaches it. */
const store = (sshCommand: string, input = "") => run([path.join(tmp, "dynoform-backup-store")], { input, env: { PATH: process.env.PATH, SSH_ORIGINAL_COMMAND: sshCommand, DYNOFORM_BACKUP_ROOT: storeDir() } });

const superuser = (sql: string, db = "postgres") => run([...asPostgres, `${bin}/psql`, "-X", "-v", "ON_ERROR_STOP=1", "-h", path.join(tmp, "sock"), "-p", String(port), "-d", db, "-tAc", sql]);
const rows = (app: string) => superuser("select string_agg(note, ',' order by id) from notes", `app_${app}`).stdout.trim();
const insert = (app: string, note: string) => expect(superuser(`insert into notes (note) values ('${note}')`, `app_${app}`).code).toBe(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function makeApp(app: string) {
    const db = `app_${app}`;
    expect(superuser(`CREATE ROLE ${db} LOGIN`).code).toBe(0);
    expect(superuser(`CREATE DATABASE ${db} OWNER ${db}`).code).toBe(0);
    expect(run([...asPostgres, `${bin}/psql`, "-X", "-h", path.join(tmp, "sock"), "-p", String(port), "-d", db, "-c", `SET ROLE ${db}; CREATE TABLE notes (id serial primary key, note text)`]).code).toBe(0);
}

const maybe = runnable ? describe : describe.skip;

maybe("PostgreSQL backups on a real cluster", () => {
    beforeAll(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-pgb-"));
        fs.chmodSync(tmp, 0o755);
        port = await freePortRun(1);
        for (const d of ["sock", "store", "work", "data"]) {
            fs.mkdirSync(path.join(tmp, d), { mode: 0o700 });
            spawnSync("chown", ["postgres:postgres", path.join(tmp, d)]);
        }
        fs.writeFileSync(path.join(tmp, "dynoform-pg-backup"), pgBackupScript({ storeHost: "192.0.2.1", storePort: 22, retentionDays: 7, schedule: "02:00" }), { mode: 0o755 });
        fs.writeFileSync(path.join(tmp, "dynoform-backup-store"), backupStoreScript("/nonexistent"), { mode: 0o755 });
        // ssh's stand-in: the client's words become SSH_ORIGINAL_COMMAND, as sshd hands them to the
        // forced command, run as one user whoever calls (there: the backup user; here: postgres)
        const as = asPostgres.join(" ");
        fs.writeFileSync(path.join(tmp, "ssh-to-store"), `#!/bin/sh\nexport SSH_ORIGINAL_COMMAND="$*" DYNOFORM_BACKUP_ROOT=${storeDir()}\n[ "$(id -u)" -ne 0 ] || exec ${as} ${path.join(tmp, "dynoform-backup-store")}\nexec ${path.join(tmp, "dynoform-backup-store")}\n`, { mode: 0o755 });
        const init = run([...asPostgres, `${bin}/initdb`, "-D", path.join(tmp, "data"), "-U", "postgres", "--auth-local=peer", "--auth-host=reject", "-E", "UTF8", "--locale=C"]);
        expect(init.code).toBe(0);
        server = spawn(
            asPostgres[0],
            [...asPostgres.slice(1), `${bin}/postgres`, "-D", path.join(tmp, "data"), "-p", String(port), "-k", path.join(tmp, "sock"), "-c", "listen_addresses=", "-c", "archive_mode=on", "-c", `archive_command=${path.join(tmp, "dynoform-pg-backup")} wal-push %p %f`, "-c", "archive_timeout=60"],
            // its log (archive_command's failures) in tmp/server.log
            { cwd: "/", stdio: ["ignore", "ignore", fs.openSync(path.join(tmp, "server.log"), "w")], env: backupEnv() },
        );
        for (let i = 0; i < 200 && superuser("select 1").stdout.trim() !== "1"; i++) await sleep(50);
        expect(superuser("select 1").stdout.trim()).toBe("1");
        makeApp("shop");
        makeApp("other");
    });

    afterAll(async () => {
        if (server?.pid && server.exitCode === null && server.signalCode === null) {
            const exited = new Promise<void>((r) => server!.once("exit", () => r()));
            process.kill(server.pid, "SIGQUIT");
            await exited;
        }
        if (process.env.DYNOFORM_TEST_KEEP) console.log(fs.readFileSync(path.join(tmp, "server.log"), "utf8").slice(-3000));
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    let pointInTime = "";

    test("archive_command sends WAL to the store; the first capture takes the first base backup, the timer's the next", () => {
        insert("shop", "a");
        insert("other", "x");
        const first = backup("capture", "other");
        expect(first).toMatchObject({ code: 0, stdout: "b001\n" });
        expect(first.stderr).toMatch(/^base backup \d{8}T\d{6}Z$/m);
        expect(store("base-list").stdout).toMatch(/^\d{8}T\d{6}Z \d+ [0-9A-F]{24} \d+\n$/);
        expect(backup("capture", "other").stderr).toBe("");
        spawnSync("sleep", ["1.1"]);
        const base = backup("base");
        expect(base).toMatchObject({ code: 0 });
        expect(base.stdout).toMatch(/^base backup \d{8}T\d{6}Z$/m);
        const list = store("base-list");
        expect(list.stdout).toMatch(/^(\d{8}T\d{6}Z \d+ [0-9A-F]{24} \d+\n){2}$/);
        expect(fs.readdirSync(path.join(storeDir(), "wal")).some((f) => /^[0-9A-F]{24}$/.test(f))).toBe(true);
    });

    test("capture: a pg_dump of one app's database, b001 then b002, listed with times and sizes", () => {
        insert("shop", "b");
        expect(backup("capture", "shop")).toMatchObject({ code: 0, stdout: "b001\n" });
        expect(backup("capture", "shop")).toMatchObject({ code: 0, stdout: "b002\n" });
        const list = backup("list", "shop");
        expect(list.code).toBe(0);
        expect(list.stdout).toMatch(/^b001 \d+ \d+ \d+\nb002 \d+ \d+ \d+\n$/);
        expect(backup("list", "other").stdout).toMatch(/^b001 .*\nb002 .*\n$/);
    });

    test("pitr: one app's database as it was at a time (rows after it gone), other apps untouched", async () => {
        insert("shop", "c");
        await sleep(1500);
        pointInTime = new Date().toISOString().replace(/\.\d+Z$/, "Z");
        await sleep(1500);
        insert("shop", "d");
        insert("other", "y");
        expect(rows("shop")).toBe("a,b,c,d");
        const r = backup("pitr", "shop", pointInTime);
        expect(r).toMatchObject({ code: 0 });
        expect(r.stdout).toContain(`restored shop to ${pointInTime} from base backup`);
        expect(rows("shop")).toBe("a,b,c");
        expect(rows("other")).toBe("x,y");
        // the role still owns what the restore made, and the temporary cluster is gone
        expect(superuser("select tableowner from pg_tables where tablename = 'notes'", "app_shop").stdout.trim()).toBe("app_shop");
        expect(fs.readdirSync(path.join(tmp, "work"))).toEqual([]);
    });

    test("pitr: refuses a time before the first base backup, a future time and a malformed one", () => {
        const early = backup("pitr", "shop", "2001-01-01T00:00:00Z");
        expect(early.code).toBe(2);
        expect(early.stderr).toContain("no base backup finished before 2001-01-01T00:00:00Z");
        expect(backup("pitr", "shop", "2999-01-01T00:00:00Z").stderr).toContain("is in the future");
        expect(backup("pitr", "shop", "yesterday").stderr).toContain("time: YYYY-MM-DDTHH:MM:SSZ (UTC) expected");
    });

    test("restore: a dump replaces the app's database; one of another (destroyed) app's restores into a new app", () => {
        expect(backup("restore", "shop", "shop", "b001")).toMatchObject({ code: 0 });
        expect(rows("shop")).toBe("a,b");
        makeApp("newshop");
        expect(backup("restore", "newshop", "shop", "b002")).toMatchObject({ code: 0 });
        expect(rows("newshop")).toBe("a,b");
        expect(superuser("select tableowner from pg_tables where tablename = 'notes'", "app_newshop").stdout.trim()).toBe("app_newshop");
        const missing = backup("restore", "shop", "shop", "b009");
        expect(missing.code).not.toBe(0);
        expect(missing.stderr).toContain("no backup b009 of shop");
        expect(rows("shop")).toBe("a,b");
        // a dump pg_restore cannot restore: the database stays as it was, no half-restored copy is left
        fs.writeFileSync(path.join(storeDir(), "dumps", "shop", "b009.dump"), "PGDMP not really");
        fs.writeFileSync(path.join(storeDir(), "dumps", "shop", "b009.info"), "created=1\nfinished=1\n");
        const broken = backup("restore", "shop", "shop", "b009");
        expect(broken.code).toBe(2);
        expect(broken.stderr).toContain("the restore into shop's database failed (above); its database is unchanged");
        expect(rows("shop")).toBe("a,b");
        expect(superuser("select count(*) from pg_database where datname like '%restoring'").stdout.trim()).toBe("0");
    });

    test("schedule: HH:MM UTC into the timer's drop-in; the default until then; a bad time refused", () => {
        expect(backup("schedule")).toMatchObject({ code: 0, stdout: "02:00 UTC\n" });
        expect(backup("schedule", "03:30")).toMatchObject({ code: 0, stdout: "03:30 UTC\n" });
        expect(fs.readFileSync(path.join(tmp, "timer.d", "schedule.conf"), "utf8")).toBe("[Timer]\nOnCalendar=\nOnCalendar=*-*-* 03:30:00 UTC\n");
        expect(backup("schedule", "25:00")).toMatchObject({ code: 2, stderr: expect.stringContaining("schedule: HH:MM (UTC) expected") });
    });
});

maybe("the backup host's forced command", () => {
    beforeAll(() => {
        if (!tmp) tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-pgb-"));
        fs.mkdirSync(storeDir(), { recursive: true });
        fs.writeFileSync(path.join(tmp, "dynoform-backup-store"), backupStoreScript("/nonexistent"), { mode: 0o755 });
    });

    test("a command outside its verbs, a shell, and names that are paths are refused; nothing is written", () => {
        const before = spawnSync("find", [storeDir()], { encoding: "utf8" }).stdout;
        for (const [command, message] of [
            ["sh -c id", "unknown command sh"],
            ["rsync --server . /etc", "unknown command rsync"],
            ["cat /etc/shadow", "unknown command cat"],
            ["wal-put ../../etc/passwd", "not a WAL file name"],
            ["wal-get 000000010000000000000001/../x", "not a WAL file name"],
            ["dump-put ../root", "invalid app name"],
            ["dump-get shop ../../x", "not a backup id"],
            ["base-get 20260101T000000Z;id", "not a base backup id"],
            ["wal-put", "1 argument(s) expected"],
            ["prune 0", "retention: 1..9999 days expected"],
        ]) {
            const r = store(command, "data");
            expect([command, r.code]).toEqual([command, 2]);
            expect(r.stderr).toContain(message);
        }
        expect(spawnSync("find", [storeDir()], { encoding: "utf8" }).stdout.split("\n").filter((l) => l.includes(".part"))).toEqual([]);
        expect(before.length).toBeGreaterThan(0);
    });

    test("wal-put keeps an existing segment: the same contents succeed, other contents are refused", () => {
        const name = "0000000100000000000000F1";
        expect(store(`wal-put ${name}`, "one").code).toBe(0);
        expect(store(`wal-put ${name}`, "one").code).toBe(0);
        const other = store(`wal-put ${name}`, "two");
        expect(other.code).toBe(2);
        expect(other.stderr).toContain("exists with other contents");
        expect(store(`wal-get ${name}`).stdout).toBe("one");
        expect(store("wal-get 0000000100000000000000F9").code).toBe(1);
    });

    test("prune: base backups past retention go (never the newest), and WAL older than the oldest kept", () => {
        const root = storeDir();
        for (const d of ["base", "wal"]) fs.rmSync(path.join(root, d), { recursive: true, force: true });
        expect(store("base-put 20260101T000000Z 000000010000000000000010", "old").code).toBe(0);
        expect(store("base-put 20260201T000000Z 000000010000000000000020", "kept").code).toBe(0);
        expect(store("base-put 20260301T000000Z 000000010000000000000030", "new").code).toBe(0);
        const day = 86400;
        const now = Math.floor(Date.now() / 1000);
        fs.writeFileSync(path.join(root, "base", "20260101T000000Z.info"), `finished=${now - 30 * day}\nstart_wal=000000010000000000000010\n`);
        fs.writeFileSync(path.join(root, "base", "20260201T000000Z.info"), `finished=${now - 3 * day}\nstart_wal=000000010000000000000020\n`);
        for (const w of ["000000010000000000000011", "00000001000000000000001F", "000000010000000000000020", "000000010000000000000020.00000028.backup", "000000010000000000000031", "00000002.history"]) {
            expect(store(`wal-put ${w}`, w).code).toBe(0);
        }
        const pruned = store("prune 7");
        expect(pruned).toMatchObject({ code: 0, stdout: "pruned base backup 20260101T000000Z\n" });
        expect(store("base-list").stdout.split("\n").filter(Boolean).map((l) => l.split(" ")[0])).toEqual(["20260201T000000Z", "20260301T000000Z"]);
        expect(fs.readdirSync(path.join(root, "wal")).sort()).toEqual(["000000010000000000000020", "000000010000000000000020.00000028.backup", "000000010000000000000031", "00000002.history"]);
        // a retention shorter than every backup's age still keeps the newest
        fs.writeFileSync(path.join(root, "base", "20260301T000000Z.info"), `finished=${now - 10 * day}\nstart_wal=000000010000000000000030\n`);
        fs.writeFileSync(path.join(root, "base", "20260201T000000Z.info"), `finished=${now - 10 * day}\nstart_wal=000000010000000000000020\n`);
        expect(store("prune 1").code).toBe(0);
        expect(store("base-list").stdout.split("\n").filter(Boolean).map((l) => l.split(" ")[0])).toEqual(["20260301T000000Z"]);
        expect(fs.readdirSync(path.join(root, "wal")).sort()).toEqual(["000000010000000000000031", "00000002.history"]);
    });
});
