// Attacks of one app on another and on the platform, on the lab stack (issues 8 and 9): hostile
// pushes are refused with Heroku's ` !     ` lines while the previous release keeps serving,
// builds run as a per-app user and nothing of a build outlives it, root is never led by a symbolic
// link in the pushed tree, an app cannot capture other apps' traffic at the edge by answering an
// Upgrade without 101, a dyno reaches nothing of the platform nor other apps' dynos on the private
// network (the dyno hosts' firewall) but its add-ons, and a slug needs its own token.
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { cli, GitRepo, Result } from "../support/apps";
import { edgeAddress, hostWithRole, labStackInfo } from "../support/lab_stack";
import { httpGet, LabShell } from "../support/lab_hosts";

jest.setTimeout(10 * 60_000);

const APP = "hostile";
const OTHER = "bystander";
const control = hostWithRole("control");
/** The first edge's own address (its internal ports are probed there). */
const edge = hostWithRole("edge").address;
/** Where clients send requests: the floating address when the stack has one. */
const front = edgeAddress();
const domain = labStackInfo().domain;
const shell = new LabShell();
const repos: Record<string, GitRepo> = {};

// Every app answers "good release of <app>"; the hostile one also answers an Upgrade with a plain
// 200 (never a 101) and then "hostile" to whatever else arrives on that connection.
const SERVER_JS = `const http = require("http");
const app = process.env.APP_LABEL;
const server = http.createServer((q, s) => s.end("good release of " + app + "\\n"));
server.on("upgrade", (req, sock) => {
  sock.write("HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n");
  sock.on("data", () => sock.write("HTTP/1.1 200 OK\\r\\nContent-Length: 7\\r\\n\\r\\nhostile"));
});
server.listen(process.env.PORT);
`;

/** Commit `edit` on top of the good commit and push it. */
async function pushChange(app: string, edit: (dir: string) => void): Promise<Result> {
    await repos[app].commit("change", () => edit(repos[app].dir));
    return repos[app].push(true);
}

const page = (app = APP) => httpGet(front, `${app}.${domain}`);
let good: string;

beforeAll(async () => {
    for (const app of [APP, OTHER]) {
        const repo = (repos[app] = new GitRepo(app));
        fs.writeFileSync(repo.file("package.json"), JSON.stringify({ name: app, version: "1.0.0", engines: { node: "24.x" }, scripts: { start: "node server.js" } }));
        fs.writeFileSync(repo.file("server.js"), SERVER_JS);
        await repo.init();
        await cli(["apps:destroy", "-a", app, "--confirm", app]);
        expect((await cli(["apps:create", app])).code).toBe(0);
        expect((await cli(["config:set", `APP_LABEL=${app}`, "-a", app])).code).toBe(0);
        expect((await cli(["git:remote", "-a", app], repo.dir)).code).toBe(0);
        expect((await repo.push()).code).toBe(0);
    }
    good = await repos[APP].head();
});

afterEach(async () => {
    await repos[APP].git(["reset", "-q", "--hard", good]);
    // nothing of any build is left running on the control host
    expect(await shell.on(control.name, `ps -eo user:32= | grep -c '^build-' || true`)).toBe("0");
    expect((await page()).body).toBe(`good release of ${APP}\n`);
});

afterAll(async () => {
    for (const app of [APP, OTHER]) {
        await cli(["apps:destroy", "-a", app, "--confirm", app]);
        repos[app].remove();
    }
    shell.close();
});

function expectRejected(r: Result, reason: string): void {
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`remote:  !     ${reason}`);
    expect(r.stderr).toContain("remote:  !     Push failed: the previous release is still serving");
    expect(r.stderr).toContain("[remote rejected] main -> main (pre-receive hook declined)");
}

test("each app builds as its own user, made on its first push; the control binary and sudoers are root's", async () => {
    expect(await shell.on(control.name, `id -un build-${APP} && id -un build-${OTHER}`)).toBe(`build-${APP}\nbuild-${OTHER}`);
    expect(await shell.on(control.name, "id dynoform-build >/dev/null 2>&1 && echo present || echo gone")).toBe("gone");
    expect(await shell.on(control.name, `stat -c '%U %a' /var/lib/dynoform/cache/${APP}`)).toBe(`build-${APP} 700`);
    expect(await shell.on(control.name, "stat -c '%U' /usr/local/lib/dynoform /usr/local/lib/dynoform/dynoform-control /etc/sudoers.d")).toBe("root\nroot\nroot");
});

test("Procfile -> /etc/shadow: refused, no account name of the control host in the push output", async () => {
    const r = await pushChange(APP, (d) => fs.symlinkSync("/etc/shadow", path.join(d, "Procfile")));
    expectRejected(r, 'Procfile is a symbolic link to "/etc/shadow", outside the app: commit the file itself (links must stay inside the app)');
    expect(r.stderr).not.toContain("Procfile declares types"); // (where account names showed before)
    expect(r.stderr).not.toMatch(/\b(daemon|sshd|nobody)\b/);
});

test(".profile.d/nodejs.sh -> /etc/sudoers.d/dynoform-control: refused, sudo (the git push path) still works", async () => {
    const before = await shell.on(control.name, "sha256sum /etc/sudoers.d/dynoform-control");
    const r = await pushChange(APP, (d) => {
        fs.mkdirSync(path.join(d, ".profile.d"));
        fs.symlinkSync("/etc/sudoers.d/dynoform-control", path.join(d, ".profile.d", "nodejs.sh"));
    });
    expectRejected(r, '.profile.d/nodejs.sh is a symbolic link to "/etc/sudoers.d/dynoform-control", outside the app: commit the file itself (links must stay inside the app)');
    expect(await shell.on(control.name, "sha256sum /etc/sudoers.d/dynoform-control")).toBe(before);
    expect((await cli(["releases", "-a", APP])).code).toBe(0); // the forced command still gets through sudo
});

test("a build that swaps its cache for a link to the control binary's directory gets nothing on the next push", async () => {
    const plant = 'ln -s /usr/local/lib/dynoform "$(dirname "$npm_config_cache")/home" 2>&1; ln -s /usr/local/lib/dynoform "$HOME/x"; echo planted';
    const first = await pushChange(APP, (d) => fs.writeFileSync(path.join(d, "package.json"), JSON.stringify({ name: APP, version: "1.0.0", scripts: { start: "node server.js", build: plant } })));
    expect(first.stderr).toContain("planted");
    await repos[APP].git(["reset", "-q", "--hard", good]);
    expect((await repos[APP].push(true)).code).toBe(0);
    expect(await shell.on(control.name, "stat -c '%U' /usr/local/lib/dynoform /usr/local/lib/dynoform/dynoform-control")).toBe("root\nroot");
});

// (Two builds at once reading each other's /proc/<pid>/environ is proven by the unit test
// build_isolation.test.ts; here the snoop finds no secret in any process it can read, the control
// role's included, and cannot list another app's cache.)
test("setsid and double-forked leftovers die with the build; a build reads no other app's secret or cache and reaches no platform port", async () => {
    await cli(["config:set", "SECRET_OF_OTHER=sekrit-value", "-a", OTHER]);
    // (a `&` ends its command: joined by newlines, as lines of a script)
    const snoop = [
        "setsid sleep 1000 </dev/null >/dev/null 2>&1 &",
        "( ( sleep 1000 </dev/null >/dev/null 2>&1 & ) & )",
        'echo "environ hits: $(cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n" | grep -c "sekrit""-value")"',
        `ls /var/lib/dynoform/cache/${OTHER} 2>&1 | head -1`,
        // the control host's firewall polices build users as it does dynos: an agent is refused at once
        `node -e 'require("net").connect(5100, "${hostWithRole("dyno").address}").on("error", (e) => console.log("agent from a build:", e.code)).on("connect", () => console.log("agent from a build: connected"))'`,
    ].join("\n");
    const r = await pushChange(APP, (d) => fs.writeFileSync(path.join(d, "package.json"), JSON.stringify({ name: APP, version: "1.0.0", scripts: { start: "node server.js", build: snoop } })));
    expect(r.stderr).toContain("environ hits: 0");
    expect(r.stderr).toContain("Permission denied");
    expect(r.stderr).toContain("agent from a build: ECONNREFUSED");
    expect(r.code).toBe(0); // a build may background things; they are killed, the push succeeds
    // (afterEach: no process of any build-* user is left on the control host)
});

/** One raw request to the edge; resolves with everything the edge sent before closing (or 3 s of quiet). */
function rawRequest(text: string): Promise<string> {
    return new Promise((resolve) => {
        const sock = net.connect(80, front);
        let got = "";
        let quiet = setTimeout(() => sock.destroy(), 3000);
        sock.on("data", (d) => {
            got += d.toString("latin1");
            clearTimeout(quiet);
            quiet = setTimeout(() => sock.destroy(), 3000);
        });
        sock.on("close", () => {
            clearTimeout(quiet);
            resolve(got);
        });
        sock.on("error", () => undefined);
        sock.write(text);
    });
}

test("an app answering Upgrade with 200 captures none of another app's traffic at the edge (nginx → Varnish → router)", async () => {
    const upgrade = (i: number) =>
        `GET /ws/${i} HTTP/1.1\r\nHost: ${APP}.${domain}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => rawRequest(upgrade(i))));
    // The hostile 200 reaches its client as an ordinary answer, and the connection ends with it.
    for (const a of answers) expect(a).toMatch(/^HTTP\/1\.1 200 /);
    // 1,000 requests for the other app: fresh connections and one keep-alive connection.
    const bodies: string[] = [];
    for (let i = 0; i < 500; i++) bodies.push((await page(OTHER)).body);
    const keepAlive = await rawRequest(Array.from({ length: 500 }, () => `GET / HTTP/1.1\r\nHost: ${OTHER}.${domain}\r\n\r\n`).join(""));
    const kept = keepAlive.match(/good release of \w+\n|hostile/g) ?? [];
    expect(bodies.filter((b) => b !== `good release of ${OTHER}\n`)).toEqual([]);
    expect(kept.filter((b) => b !== `good release of ${OTHER}\n`)).toEqual([]);
    expect(kept).toHaveLength(500);
});

/** What a one-off dyno of APP gets connecting to each `address:port`: "open", or the error's code. */
async function connectFromDyno(targets: string[]): Promise<Record<string, string>> {
    // one line: the command travels as words over SSH to the dyno
    const probe = [
        'const net = require("net");',
        "const one = (t) => new Promise((resolve) => { const i = t.lastIndexOf(\":\"); const s = net.connect(Number(t.slice(i + 1)), t.slice(0, i));",
        '  const done = (r) => { s.destroy(); resolve([t, r]); }; s.on("connect", () => done("open")); s.on("error", (e) => done(e.code)); s.setTimeout(5000, () => done("timeout")); });',
        "Promise.all(process.argv.slice(1).map(one)).then((r) => { console.log(JSON.stringify(Object.fromEntries(r))); process.exit(0); });",
    ].join(" ");
    const r = await cli(["run", "-a", APP, "--", "node", "-e", probe, ...targets], undefined, "");
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

test("a dyno reaches the data host's PostgreSQL, its own Memcached and the edge's nginx, and is refused at once by every platform port and another app's dyno", async () => {
    const data = hostWithRole("data").address;
    const dynoHosts = labStackInfo().hosts.filter((h) => h.roles.includes("dyno"));
    const own = JSON.parse((await cli(["config", "--json", "-a", APP])).stdout) as Record<string, string>;
    // Where the bystander's web dyno listens (address:port), found on whichever dyno host runs it.
    let bystander = "";
    for (const h of dynoHosts) {
        const found = await shell.on(h.name, `for p in $(pgrep -u dyno-${OTHER}); do ss -Hltnp | grep "pid=$p," | awk '{print $4}'; done | head -1`);
        if (found) bystander = `${h.address}:${found.slice(found.lastIndexOf(":") + 1)}`;
    }
    expect(bystander).toMatch(/^[\d.]+:\d+$/);
    const refused = [
        `${edge}:8080`, // router traffic
        `${edge}:8081`, // router control API
        `${edge}:6081`, // Varnish
        `${control.address}:5080`, // slug server
        ...dynoHosts.map((h) => `${h.address}:5100`), // agents
        "127.0.0.1:5100", // the agent on loopback (it listens on the private address only: refused either way)
        bystander,
        `127.0.0.1:${bystander.split(":")[1]}`, // another dyno on loopback, in case it shares the host
    ];
    // (nginx: the way in for anyone, on the edge's own address and the floating one)
    const allowed = [...new Set([`${data}:5432`, own.MEMCACHE_SERVERS, `${edge}:80`, `${front}:80`])];
    const started = Date.now();
    const seen = await connectFromDyno([...refused, ...allowed]);
    expect(seen).toEqual(Object.fromEntries([...refused.map((t) => [t, "ECONNREFUSED"]), ...allowed.map((t) => [t, "open"])]));
    expect(Date.now() - started).toBeLessThan(60_000); // (no probe waited for its 5 s timeout: all answered)
    // The bystander's dyno itself is up: the edge (through the routers) still reaches it.
    expect((await page(OTHER)).body).toBe(`good release of ${OTHER}\n`);
});

test("another app's slug needs its own token: without one even a dyno host's root gets 403 from the slug server (dynos cannot reach it at all)", async () => {
    const sha = await shell.on(control.name, `ls /var/lib/dynoform/slugs/${OTHER}/ | head -1 | sed 's/\\.tgz$//'`);
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    const dynoHost = hostWithRole("dyno");
    const request = `GET /slugs/${OTHER}/${sha}.tgz HTTP/1.0\\r\\nHost: ${control.address}\\r\\n\\r\\n`;
    const status = await shell.on(dynoHost.name, `timeout 10 bash -c 'exec 3<>/dev/tcp/${control.address}/5080; printf "${request}" >&3; head -1 <&3'`);
    expect(status).toMatch(/^HTTP\/1\.1 403 /);
});

test("an app's database role opens no other database and holds at most 20 connections", async () => {
    const data = hostWithRole("data");
    const url = (await cli(["config:get", "DATABASE_URL", "-a", APP])).stdout.trim();
    expect(url).toMatch(/^postgres:\/\/app_hostile:[^@]+@[\d.]+:5432\/app_hostile$/);
    const other = url.replace(/\/app_hostile$/, "/app_bystander");
    const admin = url.replace(/\/app_hostile$/, "/postgres");
    // (the URLs travel to the data host on stdin, never in a command line)
    const psql = (target: string, sql: string) => shell.on(data.name, `read -r u; psql "$u" -XAtc ${JSON.stringify(sql)} 2>&1 || true`, `${target}\n`);
    expect(await psql(url, "select current_database()")).toBe("app_hostile");
    for (const target of [admin, other]) expect(await psql(target, "select 1")).toMatch(/no pg_hba\.conf entry|permission denied/);
    // 21 sessions at once: the role's limit is 20, sessions it already holds (its dynos') included,
    // so 1 + held are refused and the rest are served.
    const held = Number(await psql(url, "select count(*) - 1 from pg_stat_activity where usename = current_user"));
    expect(held).toBeGreaterThanOrEqual(0);
    const burst = await shell.on(
        data.name,
        `read -r u; for i in $(seq 21); do (psql "$u" -XAtc "select pg_sleep(3)" >/dev/null 2>/tmp/pg-burst.$i || true) & done; wait; cat /tmp/pg-burst.* ; rm -f /tmp/pg-burst.*`,
        `${url}\n`,
    );
    expect(burst.match(/too many connections for role "app_hostile"/g)).toHaveLength(1 + held);
});
