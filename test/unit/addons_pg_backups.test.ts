// dynoform-addons' backup and credential verbs (the data host's forced command for the control
// role): pg-password with a fake psql (the password only on its stdin), the pg-backup verbs handed
// to dynoform-pg-backup (a fake recording its words), and every other shape of command refused.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { render } from "../../components/templates/render";

let tmp: string;
const PASSWORD = "0123456789abcdef0123456789abcdef0123";

beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-addons-pgb-"));
    fs.writeFileSync(path.join(tmp, "dynoform-addons"), render("data/dynoform-addons", { listenAddress: "10.213.1.30", firstPort: 11300, lastPort: 11999 }), { mode: 0o755 });
    fs.writeFileSync(path.join(tmp, "psql"), `#!/bin/sh\nprintf '%s\\n' "$@" > ${tmp}/psql.argv\ncat > ${tmp}/psql.stdin\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(tmp, "pg-backup"), `#!/bin/sh\nprintf '%s\\n' "$@" > ${tmp}/pg-backup.argv\necho b007\n`, { mode: 0o755 });
});

afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function addons(sshCommand: string, stdin = "") {
    const r = spawnSync(path.join(tmp, "dynoform-addons"), [], {
        input: stdin,
        encoding: "utf8",
        env: { PATH: process.env.PATH, SSH_ORIGINAL_COMMAND: sshCommand, DYNOFORM_ADDONS_PSQL: path.join(tmp, "psql"), DYNOFORM_ADDONS_PG_BACKUP: path.join(tmp, "pg-backup") },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const read = (f: string) => fs.readFileSync(path.join(tmp, f), "utf8");

test("pg-password: a new password for the app's role only (its connection limit kept), on psql's stdin; prints DATABASE_URL", () => {
    const r = addons("pg-password my-app", `${PASSWORD}\n`);
    expect(r).toMatchObject({ code: 0, stdout: `DATABASE_URL=postgres://app_my_app:${PASSWORD}@10.213.1.30:5432/app_my_app\n` });
    expect(read("psql.argv")).not.toContain(PASSWORD);
    const sql = read("psql.stdin");
    expect(sql).toContain(`\\set pw '${PASSWORD}'`);
    expect(sql).toContain("SELECT format('ALTER ROLE %I PASSWORD %L', :'name', :'pw') \\gexec");
    expect(sql).not.toContain("CONNECTION LIMIT");
    expect(sql).not.toContain("CREATE");
    expect(addons("pg-password my-app", "short\n")).toMatchObject({ code: 2, stderr: expect.stringContaining("password: 24-128 letters and digits expected on stdin") });
});

test.each([
    ["pg-backup-capture shop", "capture\nshop\n"],
    ["pg-backups shop", "list\nshop\n"],
    ["pg-backup-restore shop old-shop b003", "restore\nshop\nold-shop\nb003\n"],
    ["pg-backup-pitr shop 2026-11-30T01:41:12Z", "pitr\nshop\n2026-11-30T01:41:12Z\n"],
    ["pg-backup-schedule shop", "schedule\n"],
    ["pg-backup-schedule shop 03:30", "schedule\n03:30\n"],
])("%s runs dynoform-pg-backup with the checked words", (command, argv) => {
    expect(addons(command)).toMatchObject({ code: 0, stdout: "b007\n" });
    expect(read("pg-backup.argv")).toBe(argv);
});

test.each([
    ["pg-backup-capture ../etc", "invalid app name"],
    ["pg-backup-capture shop extra", "usage:"],
    ["pg-backup-restore shop b003", "usage:"],
    ["pg-backup-pitr shop", "usage:"],
    ["pg-backups", "usage:"],
    ["pg-backup-base shop", "usage:"],
    ["sh -c id", "usage:"],
])("%s is refused before anything runs", (command, message) => {
    const r = addons(command);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(fs.existsSync(path.join(tmp, "pg-backup.argv"))).toBe(false);
});
