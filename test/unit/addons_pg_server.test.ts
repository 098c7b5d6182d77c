// dynoform-addons' PostgreSQL verbs against a real PostgreSQL server: a throwaway cluster on a
// loopback port with the stack's own pg_hba.conf, reached by the script as the postgres user over
// its socket (peer), as on the data host. An app's role opens only its own database and holds at
// most its connection limit. Needs root, the postgres user and PostgreSQL's server binaries
// (Debian's postgresql package, or DYNOFORM_TEST_POSTGRES_BIN=<its bin dir>): skipped without them.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ADMIN_ROLE } from "../../components/data/data";
import { render } from "../../components/templates/render";
import { freePortRun } from "../support/ports";

jest.setTimeout(60_000);

function postgresBin(): string | undefined {
    const dirs = process.env.DYNOFORM_TEST_POSTGRES_BIN ? [process.env.DYNOFORM_TEST_POSTGRES_BIN] : fs.existsSync("/usr/lib/postgresql") ? fs.readdirSync("/usr/lib/postgresql").sort().reverse().map((v) => `/usr/lib/postgresql/${v}/bin`) : [];
    return dirs.find((d) => ["initdb", "postgres", "psql"].every((b) => fs.existsSync(path.join(d, b))));
}
const bin = postgresBin();
const postgresUser = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).status === 0;
const runnable = !!bin && process.getuid?.() === 0 && postgresUser;
if (!runnable) console.warn("addons_pg_server: skipped (needs root, the postgres user and PostgreSQL's binaries)");

const PASSWORD = "0123456789abcdef0123456789abcdef0123";
const ADMIN_PASSWORD = "admin0123456789abcdef0123456789";
const asPostgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"];

let tmp = "";
let port = 0;
let server: ChildProcess | undefined;
const holders: ChildProcess[] = [];

function run(argv: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
    const r = spawnSync(argv[0], argv.slice(1), { cwd: "/", input: opts.input ?? "", encoding: "utf8", env: opts.env ?? { PATH: process.env.PATH } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** SQL as the postgres superuser over the cluster's socket. */
const superuser = (sql: string) => run([...asPostgres, `${bin}/psql`, "-X", "-h", path.join(tmp, "sock"), "-p", String(port), "-d", "postgres", "-tAc", sql]);

/** A login over TCP on loopback, as a dyno would over the private network. */
const login = (user: string, password: string, db: string, sql = "select current_user") =>
    run([`${bin}/psql`, "-X", "-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", db, "-tAc", sql], { env: { PATH: process.env.PATH, PGPASSWORD: password, PGCONNECT_TIMEOUT: "5" } });

/** The real script, as the add-ons key's forced command runs it. */
function addons(sshCommand: string, stdin = "") {
    const psql = [...asPostgres, `${bin}/psql`, "-h", path.join(tmp, "sock"), "-p", String(port)].join(" ");
    return run([path.join(tmp, "dynoform-addons")], { input: stdin, env: { PATH: process.env.PATH, SSH_ORIGINAL_COMMAND: sshCommand, DYNOFORM_ADDONS_PSQL: psql } });
}

const hba = (text: string) => fs.writeFileSync(path.join(tmp, "data", "pg_hba.conf"), text);

/** Reloads pg_hba.conf and waits (bounded) until a probe login answers as expected. */
async function reloadUntil(probe: () => boolean): Promise<void> {
    expect(superuser("select pg_reload_conf()").stdout.trim()).toBe("t");
    for (let i = 0; i < 100 && !probe(); i++) await new Promise((r) => setTimeout(r, 50));
}

const maybe = runnable ? describe : describe.skip;

maybe("dynoform-addons on a real PostgreSQL", () => {
    beforeAll(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-pg-"));
        fs.chmodSync(tmp, 0o755);
        fs.mkdirSync(path.join(tmp, "sock"));
        spawnSync("chown", ["postgres:postgres", path.join(tmp, "sock")]);
        fs.writeFileSync(path.join(tmp, "dynoform-addons"), render("data/dynoform-addons", { listenAddress: "127.0.0.1", firstPort: 11300, lastPort: 11999 }), { mode: 0o755 });
        fs.mkdirSync(path.join(tmp, "data"), { mode: 0o700 });
        spawnSync("chown", ["postgres:postgres", path.join(tmp, "data")]);
        const init = run([...asPostgres, `${bin}/initdb`, "-D", path.join(tmp, "data"), "-U", "postgres", "--auth-local=peer", "--auth-host=reject", "-E", "UTF8", "--locale=C"]);
        expect(init.code).toBe(0);
        // the stack's pg_hba.conf; its private subnet is one this machine is not on
        hba(render("postgresql/pg_hba.conf", { privateSubnet: "192.0.2.0/24", rejects: "" }));
        port = await freePortRun(1);
        server = spawn(asPostgres[0], [...asPostgres.slice(1), `${bin}/postgres`, "-D", path.join(tmp, "data"), "-p", String(port), "-k", path.join(tmp, "sock"), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=30", "-c", "password_encryption=scram-sha-256"], { cwd: "/", stdio: "ignore" });
        for (let i = 0; i < 200 && superuser("select 1").stdout.trim() !== "1"; i++) await new Promise((r) => setTimeout(r, 50));
        expect(superuser("select 1").stdout.trim()).toBe("1");
        // the stack's admin role, as components/data makes it (not a superuser)
        expect(superuser(`CREATE ROLE ${ADMIN_ROLE} LOGIN CREATEDB CREATEROLE PASSWORD '${ADMIN_PASSWORD}'`).code).toBe(0);
    });

    afterAll(async () => {
        const gone = (c: ChildProcess, signal: NodeJS.Signals) => {
            if (c.exitCode !== null || c.signalCode !== null || !c.pid) return Promise.resolve();
            const exited = new Promise<void>((r) => c.once("exit", () => r()));
            process.kill(c.pid, signal);
            return exited;
        };
        // immediate shutdown: the backends still in pg_sleep go with it
        await Promise.all([...holders.map((h) => gone(h, "SIGKILL")), ...(server ? [gone(server, "SIGQUIT")] : [])]);
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    test("pg-create: the app's role opens its own database, not postgres, template1 or another app's; the admin role opens postgres", () => {
        const made = addons("pg-create shop 3", `${PASSWORD}\n`);
        expect(made).toMatchObject({ code: 0, stderr: "", stdout: `DATABASE_URL=postgres://app_shop:${PASSWORD}@127.0.0.1:5432/app_shop\n` });
        expect(addons("pg-create other", `${"9".repeat(24)}\n`).code).toBe(0);
        expect(login("app_shop", PASSWORD, "app_shop")).toMatchObject({ code: 0, stdout: "app_shop\n" });
        for (const db of ["postgres", "template1", "app_other"]) {
            const r = login("app_shop", PASSWORD, db);
            expect([db, r.code]).toEqual([db, 2]);
            expect(r.stderr).toContain(`no pg_hba.conf entry for host "127.0.0.1", user "app_shop", database "${db}"`);
        }
        expect(login(ADMIN_ROLE, ADMIN_PASSWORD, "postgres")).toMatchObject({ code: 0, stdout: `${ADMIN_ROLE}\n` });
    });

    test("pg-create: with its own connection limit (default 20); the next connection is refused", async () => {
        expect(superuser("select rolname, rolconnlimit from pg_roles where rolname like 'app_%' order by 1").stdout).toBe("app_other|20\napp_shop|3\n");
        for (let i = 0; i < 3; i++) {
            const h = spawn(`${bin}/psql`, ["-X", "-h", "127.0.0.1", "-p", String(port), "-U", "app_shop", "-d", "app_shop", "-tAc", "select pg_sleep(300)"], { cwd: "/", env: { PATH: process.env.PATH, PGPASSWORD: PASSWORD }, stdio: "ignore" });
            holders.push(h);
        }
        const count = () => superuser("select count(*) from pg_stat_activity where usename = 'app_shop'").stdout.trim();
        for (let i = 0; i < 200 && count() !== "3"; i++) await new Promise((r) => setTimeout(r, 50));
        expect(count()).toBe("3");
        const fourth = login("app_shop", PASSWORD, "app_shop");
        expect(fourth.code).toBe(2);
        expect(fourth.stderr).toContain('too many connections for role "app_shop"');
        // other roles are not affected by one app's full quota
        expect(login("app_other", "9".repeat(24), "app_other")).toMatchObject({ code: 0, stdout: "app_other\n" });
        // pg-create again (idempotent) changes the limit of an existing role
        expect(addons("pg-create shop 4", `${PASSWORD}\n`).code).toBe(0);
        expect(login("app_shop", PASSWORD, "app_shop")).toMatchObject({ code: 0, stdout: "app_shop\n" });
    });

    test("with a permissive pg_hba.conf, privileges still keep the app's role out of postgres, template1 and other apps' databases", async () => {
        hba("local all postgres peer\nhost all all 127.0.0.1/32 scram-sha-256\n");
        await reloadUntil(() => !login("app_other", "9".repeat(24), "postgres").stderr.includes("no pg_hba.conf entry"));
        for (const db of ["postgres", "template1", "app_shop"]) {
            const r = login("app_other", "9".repeat(24), db);
            expect([db, r.code]).toEqual([db, 2]);
            expect(r.stderr).toContain(`permission denied for database "${db}"`);
            expect(r.stderr).toContain("User does not have CONNECT privilege.");
        }
        expect(login(ADMIN_ROLE, ADMIN_PASSWORD, "postgres")).toMatchObject({ code: 0, stdout: `${ADMIN_ROLE}\n` });
        // role and database names stay readable in the shared catalogs, as on any PostgreSQL
        expect(login("app_other", "9".repeat(24), "app_other", "select count(*) from pg_database where datname = 'app_shop'").stdout).toBe("1\n");
    });

    test("pg-destroy: the database and the role are gone, its connections closed", () => {
        expect(addons("pg-destroy shop")).toMatchObject({ code: 0, stdout: "" });
        expect(superuser("select count(*) from pg_roles where rolname = 'app_shop'").stdout).toBe("0\n");
        expect(superuser("select count(*) from pg_database where datname = 'app_shop'").stdout).toBe("0\n");
    });
});
