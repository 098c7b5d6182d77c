// dynoform-addons' PostgreSQL verbs (the data host's forced command), with a fake psql standing in
// for `runuser -u postgres -- psql`: the SQL it gets, and that the password is never in an argv.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ADMIN_ROLE } from "../../components/data/data";
import { render } from "../../components/templates/render";

let tmp: string;
let script: string;
const PASSWORD = "0123456789abcdef0123456789abcdef0123";

beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-addons-pg-"));
    script = path.join(tmp, "dynoform-addons");
    fs.writeFileSync(script, render("data/dynoform-addons", { listenAddress: "10.213.1.30", firstPort: 11300, lastPort: 11999 }), { mode: 0o755 });
    fs.writeFileSync(
        path.join(tmp, "psql"),
        `#!/bin/sh\nprintf '%s\\n' "$@" > ${tmp}/psql.argv\ncat > ${tmp}/psql.stdin\n[ ! -f ${tmp}/psql.fail ] || { echo 'ERROR:  database "app_x" is being accessed by other users' >&2; exit 3; }\n`,
        { mode: 0o755 },
    );
});

afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function addons(sshCommand: string, stdin = "") {
    const r = spawnSync(script, [], { input: stdin, encoding: "utf8", env: { PATH: process.env.PATH, SSH_ORIGINAL_COMMAND: sshCommand, DYNOFORM_ADDONS_PSQL: path.join(tmp, "psql") } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const read = (f: string) => fs.readFileSync(path.join(tmp, f), "utf8");

test("pg-create: role + database app_<app> made as postgres, the password only on psql's stdin; prints DATABASE_URL", () => {
    const r = addons("pg-create my-app", `${PASSWORD}\n`);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toBe(`DATABASE_URL=postgres://app_my_app:${PASSWORD}@10.213.1.30:5432/app_my_app\n`);
    expect(read("psql.argv")).toBe("-X\n-q\n-v\nON_ERROR_STOP=1\n-d\npostgres\n");
    const sql = read("psql.stdin");
    expect(sql.startsWith(`\\set name 'app_my_app'\n\\set pw '${PASSWORD}'\n\\set connlimit '20'\n`)).toBe(true);
    // Heroku's essential-0 plan: 20 connections, so one app cannot take all of max_connections
    expect(sql).toContain("SELECT format('CREATE ROLE %I LOGIN PASSWORD %L CONNECTION LIMIT %s', :'name', :'pw', (:'connlimit')::int)");
    expect(sql).toContain("SELECT format('ALTER ROLE %I PASSWORD %L CONNECTION LIMIT %s', :'name', :'pw', (:'connlimit')::int) \\gexec");
    expect(sql).toContain("SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \\gexec");
    // no role opens postgres or template1 by default; the operators' admin role keeps postgres
    expect(sql).toContain("REVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC;");
    expect(sql).toContain(`SELECT 'GRANT CONNECT ON DATABASE postgres TO ${ADMIN_ROLE}' WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ADMIN_ROLE}') \\gexec`);
    // and that is the only grant: no other role becomes a member of the app's role
    expect(sql.match(/GRANT/g)).toHaveLength(1);
});

test("pg-create APP LIMIT: another connection limit for the app's role (made or changed)", () => {
    expect(addons("pg-create my-app 5", `${PASSWORD}\n`)).toMatchObject({ code: 0, stderr: "" });
    expect(read("psql.stdin")).toContain("\\set connlimit '5'\n");
    for (const cmd of ["pg-create my-app 0", "pg-create my-app 1e3", "pg-create my-app 10000", "pg-create my-app -1", "pg-create my-app 5 6", "memcache-create my-app 5", "pg-destroy my-app 5"]) {
        const r = addons(cmd, `${PASSWORD}\n`);
        expect([cmd, r.code]).toEqual([cmd, 2]);
        expect(r.stderr).toMatch(/connection limit: 1\.\.9999 expected|usage:/);
    }
});

test("pg-destroy: drops the database (closing its connections) and the role", () => {
    expect(addons("pg-destroy my-app")).toMatchObject({ code: 0, stdout: "" });
    const sql = read("psql.stdin");
    expect(sql.startsWith("\\set name 'app_my_app'\nSELECT")).toBe(true);
    expect(sql).toContain("DROP DATABASE IF EXISTS %I WITH (FORCE)");
    expect(sql).toContain("DROP ROLE IF EXISTS %I");
});

test("a psql failure is the script's failure, with psql's message", () => {
    fs.writeFileSync(path.join(tmp, "psql.fail"), "");
    const r = addons("pg-destroy my-app");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("is being accessed by other users");
});

test("pg-create refuses a bad name or password before running psql", () => {
    for (const [cmd, stdin, message] of [
        ["pg-create app_x", PASSWORD, "invalid app name"],
        ["pg-create my-app", "", "password expected on stdin"],
        ["pg-create my-app", `x' OR '1'='1${PASSWORD}`, "password: 24-128 letters and digits"],
    ]) {
        const r = addons(cmd, stdin);
        expect([cmd, r.code]).toEqual([cmd, 2]);
        expect(r.stderr).toContain(message);
    }
    expect(fs.existsSync(path.join(tmp, "psql.argv"))).toBe(false);
});
