// PostgreSQL backups on the lab stack (issue 12, "Done when"): rows written to an app's database →
// pg:backups:capture → more rows → a chosen time → more rows → pg:backups:restore --to that time →
// exactly the rows before that time; apps:destroy → its final backup restores into a new app. Rows
// are written and read with pg:psql -c (psql on the control host, as the app's role); WAL and the
// backups travel to the control host's disk through its dynoform-backup-store forced command.
import { cli, Result } from "../support/apps";

jest.setTimeout(15 * 60_000);

const APP = "pgdrill";
const NEWAPP = "pgdrill-restored";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ok = (r: Result, what: string) => {
    if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return r;
};
/** One SQL command as the app's role: psql's output. */
const psql = async (app: string, sql: string) => ok(await cli(["pg:psql", "-a", app, "-c", sql], undefined, ""), `pg:psql ${sql}`).stdout;
/** The one value of a one-column, one-row query (psql's aligned table: header, rule, value, count). */
const value = async (app: string, sql: string) => (await psql(app, sql)).split("\n")[2].trim();
const notes = (app: string) => value(app, "select string_agg(note, ',' order by id) from notes");
const insert = (app: string, note: string) => psql(app, `insert into notes (note) values ('${note}')`);

beforeAll(async () => {
    // leftovers of an interrupted run
    for (const app of [APP, NEWAPP]) await cli(["apps:destroy", "-a", app, "--confirm", app]);
    ok(await cli(["apps:create", APP]), "apps:create");
    await psql(APP, "create table notes (id serial primary key, note text not null)");
});

afterAll(async () => {
    for (const app of [APP, NEWAPP]) await cli(["apps:destroy", "-a", app, "--confirm", app]);
});

test("pg:psql runs as the app's role, on its own database", async () => {
    expect(await value(APP, "select current_user || ' ' || current_database()")).toBe(`app_${APP} app_${APP}`);
});

test("capture, more rows, a chosen time, more rows; restore --to that time leaves exactly the rows before it", async () => {
    await insert(APP, "before-capture");
    const captured = ok(await cli(["pg:backups:capture", "-a", APP]), "pg:backups:capture");
    expect(captured.stdout.trim()).toMatch(/^b\d{3}$/);
    expect(captured.stderr).toContain(`Backing up DATABASE of ⬢ ${APP} to ${captured.stdout.trim()}... done`);
    const listed = ok(await cli(["pg:backups", "-a", APP]), "pg:backups").stdout;
    expect(listed).toContain("=== Backups");
    expect(listed).toMatch(new RegExp(`^${captured.stdout.trim()}  \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} \\+0000  Completed .*DATABASE$`, "m"));

    await insert(APP, "after-capture");
    // lab machines share this machine's clock; whole seconds on both sides of the chosen time
    await sleep(2000);
    const chosen = new Date(Math.floor(Date.now() / 1000) * 1000);
    await sleep(2000);
    await insert(APP, "after-chosen-time");
    expect(await notes(APP)).toBe("before-capture,after-capture,after-chosen-time");

    const to = chosen.toISOString().replace(/\.000Z$/, "Z");
    const refused = await cli(["pg:backups:restore", "--to", to, "-a", APP]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`--confirm ${APP}`);
    const restored = ok(await cli(["pg:backups:restore", "--to", to, "-a", APP, "--confirm", APP]), "pg:backups:restore --to");
    expect(restored.stderr).toContain(`Restoring DATABASE of ⬢ ${APP} to ${to.replace("T", " ").replace("Z", " +0000")}... done`);
    expect(await notes(APP)).toBe("before-capture,after-capture");

    // and the captured dump itself: the rows it was taken with
    ok(await cli(["pg:backups:restore", captured.stdout.trim(), "-a", APP, "--confirm", APP]), "pg:backups:restore BACKUP");
    expect(await notes(APP)).toBe("before-capture");
});

test("pg:credentials:rotate: DATABASE_URL changes, the new one connects, the old one no longer does", async () => {
    const url = async () => (JSON.parse(ok(await cli(["config", "--json", "-a", APP]), "config").stdout) as Record<string, string>).DATABASE_URL;
    const before = await url();
    ok(await cli(["pg:credentials:rotate", "-a", APP, "--confirm", APP]), "pg:credentials:rotate");
    const after = await url();
    expect(after).not.toBe(before);
    expect(await notes(APP)).toBe("before-capture"); // pg:psql uses the new DATABASE_URL
});

test("apps:destroy takes a final backup and says how to restore it; it restores into a new app", async () => {
    await insert(APP, "last-words");
    const destroyed = ok(await cli(["apps:destroy", "-a", APP, "--confirm", APP]), "apps:destroy");
    const m = new RegExp(`The final backup of its database is ${APP}::(b\\d{3}), kept on the backup host`).exec(destroyed.stderr);
    expect(m).not.toBeNull();
    const ref = `${APP}::${m![1]}`;
    expect(destroyed.stderr).toContain(`dynoform pg:backups:restore ${ref} DATABASE_URL -a NEWAPP --confirm NEWAPP`);

    ok(await cli(["apps:create", NEWAPP]), "apps:create");
    ok(await cli(["pg:backups:restore", ref, "DATABASE_URL", "-a", NEWAPP, "--confirm", NEWAPP]), "pg:backups:restore APP::ID");
    expect(await notes(NEWAPP)).toBe("before-capture,last-words");
    // the new app's role owns what the restore made: it can write
    await insert(NEWAPP, "new-life");
    expect(await notes(NEWAPP)).toBe("before-capture,last-words,new-life");
});
