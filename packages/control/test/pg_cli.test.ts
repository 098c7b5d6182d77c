// pg:* verbs against a fake data host: their parsing, output (Heroku's wording and tables) and
// refusals; pg:psql with a fake psql (the password in its environment, never its arguments);
// apps:destroy's final backup.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CliContext } from "../src/cli/context";
import { parseRestoreTime } from "../src/cli/pg";
import { harness, Harness, NOW } from "./helpers/cli_harness";
import { push } from "./helpers/push";

let h: Harness;
beforeEach(async () => {
    h = await harness();
    await h.cli("apps:create", "shop");
});
afterEach(() => h.cleanup());

const refusal = async (argv: string[], message: string | RegExp) => {
    const r = await h.cli(...argv);
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(typeof message === "string" ? ` ▸    ${message}` : message);
};

test("pg:backups:capture, then pg:backups lists them newest first (id, created at, status, size, database)", async () => {
    expect((await h.cli("pg:backups", "-a", "shop")).out).toEqual(["=== Backups", 'No backups. Capture one with "dynoform pg:backups:capture -a shop"']);
    expect(await h.cli("pg:backups:capture", "-a", "shop")).toMatchObject({ code: 0, out: ["b001"], err: ["Backing up DATABASE of ⬢ shop to b001... done"] });
    expect((await h.cli("pg:backups:capture", "DATABASE_URL", "-a", "shop")).out).toEqual(["b002"]);
    expect((await h.cli("pg:backups", "-a", "shop")).out).toEqual([
        "=== Backups",
        "ID    Created at                 Status                               Size  Database",
        "────  ─────────────────────────  ───────────────────────────────────  ────  ────────",
        "b002  2026-11-21 18:53:46 +0000  Completed 2026-11-21 18:53:48 +0000  4K    DATABASE",
        "b001  2026-11-21 18:53:46 +0000  Completed 2026-11-21 18:53:48 +0000  2K    DATABASE",
    ]);
    expect((await h.cli("pg:backups:list", "-a", "shop")).code).toBe(0);
    await refusal(["pg:backups:capture", "HEROKU_POSTGRESQL_RED", "-a", "shop"], "Unknown database HEROKU_POSTGRESQL_RED: an app has one database, DATABASE_URL");
    await refusal(["pg:backups", "-a", "nope"], /Couldn't find that app: nope/);
});

test("pg:backups:restore: the latest, a named one, another app's; only with --confirm", async () => {
    await refusal(["pg:backups:restore", "-a", "shop", "--confirm", "shop"], 'shop has no backups: capture one with "dynoform pg:backups:capture -a shop"');
    await h.cli("pg:backups:capture", "-a", "shop");
    await h.cli("pg:backups:capture", "-a", "shop");
    await refusal(["pg:backups:restore", "-a", "shop"], `This overwrites all data in shop's database (DATABASE): to proceed, run "dynoform pg:backups:restore b002 DATABASE -a shop --confirm shop"`);
    await refusal(["pg:backups:restore", "b001", "-a", "shop", "--confirm", "other"], 'Confirmation "other" did not match shop: pass --confirm shop');
    expect(await h.cli("pg:backups:restore", "-a", "shop", "--confirm", "shop")).toMatchObject({ code: 0, err: ["Restoring b002 to DATABASE of ⬢ shop... done"] });
    expect(await h.cli("pg:backups:restore", "b001", "DATABASE_URL", "-a", "shop", "--confirm", "shop")).toMatchObject({ code: 0, err: ["Restoring b001 to DATABASE of ⬢ shop... done"] });
    await h.cli("apps:create", "newshop");
    expect(await h.cli("pg:backups:restore", "shop::b002", "DATABASE_URL", "-a", "newshop", "--confirm", "newshop")).toMatchObject({ code: 0, err: ["Restoring shop::b002 to DATABASE of ⬢ newshop... done"] });
    expect(h.fleet.calls.filter((c) => c.startsWith("pg restore"))).toEqual(["pg restore shop shop::b002", "pg restore shop shop::b001", "pg restore newshop shop::b002"]);
    await refusal(["pg:backups:restore", "b009", "-a", "shop", "--confirm", "shop"], "PostgreSQL backups (data host 10.99.0.4): dynoform-backup-store: no backup b009 of shop");
    await refusal(["pg:backups:restore", "backup1", "-a", "shop", "--confirm", "shop"], /Backup backup1 is not a backup id: use b001/);
    await refusal(["pg:backups:restore", "../x::b001", "-a", "shop", "--confirm", "shop"], /is not a backup id/);
});

test("pg:backups:restore --to TIME: point-in-time, to the second, with its zone, in the past", async () => {
    const r = await h.cli("pg:backups:restore", "--to", "2026-11-21 19:40:05 UTC", "-a", "shop", "--confirm", "shop");
    expect(r).toMatchObject({ code: 0, err: ["Restoring DATABASE of ⬢ shop to 2026-11-21 19:40:05 +0000... done"] });
    expect(await h.cli("pg:backups:restore", "DATABASE_URL", "--to", "2026-11-21T20:40:05.750+01:00", "-a", "shop", "--confirm", "shop")).toMatchObject({ code: 0 });
    expect(h.fleet.calls.filter((c) => c.startsWith("pg pitr"))).toEqual(["pg pitr shop 2026-11-21T19:40:05.000Z", "pg pitr shop 2026-11-21T19:40:05.000Z"]);
    await refusal(["pg:backups:restore", "--to", "2026-11-21 19:40", "-a", "shop", "--confirm", "shop"], "--to 2026-11-21 19:40 is not a time with its zone: use e.g. --to '2026-11-21 01:41:12 UTC' or --to 2026-11-30T01:41:12Z".replace("2026-11-21 01:41:12", "2026-11-30 01:41:12"));
    await refusal(["pg:backups:restore", "--to", "yesterday", "-a", "shop", "--confirm", "shop"], /--to yesterday is not a time with its zone/);
    await refusal(["pg:backups:restore", "--to", "2026-11-22T00:00:00Z", "-a", "shop", "--confirm", "shop"], "--to 2026-11-22T00:00:00Z is in the future: pick a time before now (2026-11-21 19:53:46 +0000)");
    await refusal(["pg:backups:restore", "b001", "--to", "2026-11-21T19:00:00Z", "-a", "shop", "--confirm", "shop"], "Pass either a backup or --to TIME, not both: --to restores from the continuous archive");
    await refusal(["pg:backups:restore", "--to", "2026-11-21T19:00:00Z", "-a", "shop"], `This overwrites all data in shop's database (DATABASE): to proceed, run "dynoform pg:backups:restore DATABASE --to '2026-11-21T19:00:00Z' -a shop --confirm shop"`);
    expect(parseRestoreTime("2026-11-21T19:00:00Z", NOW).toISOString()).toBe("2026-11-21T19:00:00.000Z");
});

test("pg:backups:schedule shows and sets the daily base backup's time; a bad --at is refused", async () => {
    expect(await h.cli("pg:backups:schedule", "-a", "shop")).toMatchObject({ code: 0, out: ["Daily base backups at 02:00 UTC (point-in-time restores reach back to the oldest one kept)"] });
    const r = await h.cli("pg:backups:schedule", "DATABASE_URL", "--at", "3:30 UTC", "-a", "shop");
    expect(r).toMatchObject({ code: 0, err: ["Scheduling daily base backups of every database at 03:30 UTC... done"] });
    expect(h.fleet.calls).toContain("pg schedule shop 03:30");
    await refusal(["pg:backups:schedule", "--at", "02:00 America/Los_Angeles", "-a", "shop"], "--at 02:00 America/Los_Angeles is not a time of day in UTC: use e.g. --at '02:00 UTC'");
    await refusal(["pg:backups:schedule", "--at", "24:00", "-a", "shop"], /is not a time of day in UTC/);
});

test("pg:credentials:rotate: a new password, DATABASE_URL changed in a new release; only with --confirm", async () => {
    await refusal(["pg:credentials:rotate", "-a", "shop"], `This gives shop's database role a new password; its dynos restart with it: to proceed, run "dynoform pg:credentials:rotate -a shop --confirm shop"`);
    const pushed = await push(h, { Procfile: "web: ./serve\n" }, "1a2b3c4d5e6f", "shop");
    expect(pushed.result).not.toBeInstanceOf(Error);
    const r = await h.cli("pg:credentials:rotate", "-a", "shop", "--confirm", "shop");
    expect(r.code).toBe(0);
    expect(r.err.at(-1)).toBe("Rotating credentials of DATABASE on ⬢ shop... done, v2");
    expect(await h.store.currentRelease("shop")).toMatchObject({ version: 2, description: "Rotate DATABASE_URL credentials", config: { DATABASE_URL: "postgres://shop:rotated1@10.99.0.4:5432/shop" } });
    expect(h.fleet.calls.filter((c) => c.startsWith("rollout shop")).length).toBe(2);
    // a release that fails keeps the old DATABASE_URL, and the role gets that password back
    h.fleet.failRollout = "web.1 crashed at start";
    const failed = await h.cli("pg:credentials:rotate", "-a", "shop", "--confirm", "shop");
    expect(failed.code).toBe(1);
    expect(failed.err.at(-1)).toMatch(/failed and shop keeps its previous config vars: web\.1 crashed at start/);
    expect((await h.store.getConfig("shop")).DATABASE_URL).toBe("postgres://shop:rotated1@10.99.0.4:5432/shop");
    expect(h.fleet.calls.filter((c) => c.startsWith("pg rotate"))).toEqual(["pg rotate shop", "pg rotate shop", "pg rotate shop back to rotated1"]);
});

test("pg:psql: psql as the app's role and its build user (never root), the password in its environment only; -c runs one command", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-psql-"));
    fs.chmodSync(dir, 0o755);
    const fake = path.join(dir, "psql");
    fs.writeFileSync(fake, `#!/bin/sh\necho "argv: $*"\necho "as $PGUSER@$PGHOST:$PGPORT/$PGDATABASE password-set=\${PGPASSWORD:+yes} uid=$(id -u)"\n`, { mode: 0o755 });
    process.env.DYNOFORM_PSQL = fake;
    // a uid of the unit tests' build range with no process (jest.config.js), as BuildUsers gives
    const uid = process.getuid?.() === 0 ? 2_150_321 : process.getuid!();
    h.extra.buildUsers = { forApp: async (app: string) => ({ name: `build-${app}`, uid, gid: uid }) } as unknown as CliContext["buildUsers"];
    try {
        const r = await h.cli("pg:psql", "-c", "select 1", "-a", "shop");
        expect(r).toMatchObject({ code: 0, err: ["--> Connecting to DATABASE of ⬢ shop"] });
        expect(r.stdout).toBe(`argv: -X -v ON_ERROR_STOP=1 -c select 1\nas shop@10.99.0.4:5432/shop password-set=yes uid=${uid}\n`);
        expect(r.stdout).not.toContain("secret");
        process.env.DYNOFORM_PSQL = path.join(dir, "missing");
        const missing = await h.cli("pg:psql", "-a", "shop");
        expect(missing).toMatchObject({ code: 1, err: ["--> Connecting to DATABASE of ⬢ shop", " ▸    psql is not installed on the control host: install postgresql-client there (apt-get install postgresql-client)"] });
        if (process.getuid?.() === 0) {
            h.extra = {};
            await refusal(["pg:psql", "-a", "shop"], "pg:psql needs the control host's build users (buildUserPrefix in /etc/dynoform/control.json): psql never runs as root");
        }
    } finally {
        delete process.env.DYNOFORM_PSQL;
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test("apps:destroy takes a final backup first; if it fails nothing is destroyed", async () => {
    h.fleet.databases.fail = "PostgreSQL backups (data host 10.99.0.4): ssh: connect to host 10.99.0.2 port 22: Connection refused";
    await refusal(["apps:destroy", "-a", "shop", "--confirm", "shop"], /^ ▸    The final backup of shop's database failed, so nothing was destroyed: .*Connection refused\. Fix the backup host, then run apps:destroy again$/);
    expect((await h.cli("apps")).out).toEqual(["=== Apps", "shop"]);
    const d = await h.cli("apps:destroy", "-a", "shop", "--confirm", "shop");
    expect(d.err[0]).toBe("Backing up DATABASE of ⬢ shop to b001... done");
    expect(d.err.at(-1)).toBe("  dynoform pg:backups:restore shop::b001 DATABASE_URL -a NEWAPP --confirm NEWAPP");
});
