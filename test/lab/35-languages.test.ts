// Issue 14 on the lab stack: the apps of the classic stack deploy by git push. A Python app (Flask +
// gunicorn + psycopg against its PostgreSQL, release-phase migration), a Ruby Rack app on pre-forking
// Puma (Debian's gems: rubygems.org is out of the lab's reach), a third-party buildpack from a git
// repository on the control host (buildpacks:set), and a multi-buildpack app (that buildpack, then
// heroku/python): each served through nginx → varnish → router, `ps` showing its process types.
import * as fs from "fs";
import * as path from "path";
import { cli, GitRepo, until } from "../support/apps";
import { hostWithRole, labStackInfo } from "../support/lab_stack";
import { httpGet, LabShell } from "../support/lab_hosts";
import { projectRoot } from "../support/pulumi";

jest.setTimeout(20 * 60_000);

const PY = "langs-py";
const RB = "langs-rb";
const BP = "langs-bp";
const MULTI = "langs-multi";
const APPS = [PY, RB, BP, MULTI];
const edge = hostWithRole("edge").address; // the integrator: edgeAddress() once test/support has it
const control = hostWithRole("control");
const domain = labStackInfo().domain;
const dynoHosts = labStackInfo().hosts.filter((h) => h.roles.includes("dyno"));
const shell = new LabShell();
const repos: GitRepo[] = [];
const BUILDPACK_DIR = "/srv/dynoform-lab-buildpack";
const BUILDPACK_URL = `file://${BUILDPACK_DIR}#main`;

/** A buildpack as third parties write them: sh scripts, a `-----> ` topic, an export, a default web type. */
const THIRD_PARTY: Record<string, string> = {
    "bin/detect": '#!/bin/sh\n[ -f "$1/hello.txt" ] && echo "Hello" || exit 1\n',
    "bin/compile": [
        "#!/bin/sh",
        "set -e",
        'echo "-----> Hello from a third-party buildpack"',
        'mkdir -p "$1/public" "$2"',
        'date > "$2/last-build"',
        '{ echo "hello from a third-party buildpack:"; cat "$1/hello.txt"; } > "$1/public/index.html"',
        "",
    ].join("\n"),
    "bin/release": "#!/bin/sh\nprintf -- '---\\ndefault_process_types:\\n  web: cd public && exec python3 -m http.server $PORT\\n'\n",
    export: "export HELLO_BUILDPACK=was-here\n",
};

function app(name: string, files: Record<string, string>, from?: string): GitRepo {
    const repo = new GitRepo(name, from);
    for (const [f, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(repo.file(f)), { recursive: true });
        fs.writeFileSync(repo.file(f), content);
    }
    repos.push(repo);
    return repo;
}

async function createAndPush(name: string, repo: GitRepo, before: () => Promise<void> = async () => undefined) {
    await repo.init();
    expect((await cli(["apps:create", name])).code).toBe(0);
    expect((await cli(["git:remote", "-a", name], repo.dir)).code).toBe(0);
    await before();
    const pushed = await repo.push();
    if (pushed.code !== 0) throw new Error(`push of ${name} failed:\n${pushed.stderr}`);
    return pushed;
}

/** Answers through the edge (nginx → varnish → router → dyno) with 200 and a body matching `re`. */
function served(name: string, re: RegExp, urlPath = "/"): Promise<string> {
    return until(`${name} served through the edge`, async () => {
        const r = await httpGet(edge, `${name}.${domain}`, urlPath, { "cache-control": "no-cache" }).catch(() => undefined);
        return r?.status === 200 && re.test(r.body) ? r.body : undefined;
    });
}

/** The dyno host running the app's process matching `pattern` (pgrep -f), and their pids. */
async function processesOf(name: string, pattern: string): Promise<{ host: string; pids: string[] }> {
    for (const h of dynoHosts) {
        const out = await shell.on(h.name, `pgrep -u dyno-${name} -f ${JSON.stringify(pattern)} || true`);
        const pids = out.split("\n").filter(Boolean);
        if (pids.length > 0) return { host: h.name, pids };
    }
    return { host: "", pids: [] };
}

/** WEB_CONCURRENCY in the environment of `pid`, and the listening sockets of its process tree. */
async function preforked(host: string, name: string, pattern: string) {
    const master = (await shell.on(host, `pgrep -o -u dyno-${name} -f ${JSON.stringify(pattern)}`)).trim();
    const concurrency = Number(await shell.on(host, `tr '\\0' '\\n' < /proc/${master}/environ | sed -n 's/^WEB_CONCURRENCY=//p'`));
    const workers = (await shell.on(host, `pgrep -P ${master} || true`)).split("\n").filter(Boolean);
    const listening = await shell.on(host, `ss -Hltnp | grep -E "pid=(${[master, ...workers].join("|")})," | awk '{print $4}' | sort -u`);
    return { master, concurrency, workers, listening: listening.split("\n").filter(Boolean) };
}

beforeAll(async () => {
    for (const a of APPS) await cli(["apps:destroy", "-a", a, "--confirm", a]); // leftovers of an interrupted run
    // The third-party buildpack: a git repository on the control host, root's, readable by all.
    const script = [
        `rm -rf ${BUILDPACK_DIR} && mkdir -p ${BUILDPACK_DIR}/bin && cd ${BUILDPACK_DIR}`,
        ...Object.entries(THIRD_PARTY).map(([f, content]) => `printf '%s' ${shellQuote(content)} > ${f}`),
        "chmod 0755 bin/detect bin/compile bin/release",
        "git init -q -b main && git add -A && git -c user.name=lab -c user.email=lab@lab commit -q -m buildpack",
        `chmod -R a+rX ${BUILDPACK_DIR}`,
    ].join(" && ");
    await shell.on(control.name, script);
});

afterAll(async () => {
    for (const a of APPS) await cli(["apps:destroy", "-a", a, "--confirm", a]);
    await shell.on(control.name, `rm -rf ${BUILDPACK_DIR}`).catch(() => undefined);
    shell.close();
    for (const r of repos) r.remove();
});

function shellQuote(s: string): string {
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

test("Python: Flask + gunicorn + psycopg, release-phase migration, WEB_CONCURRENCY workers on one socket", async () => {
    const repo = app(PY, {}, path.join(projectRoot, "examples/python-flask"));
    const pushed = await createAndPush(PY, repo);
    expect(pushed.stderr).toContain("remote: -----> Python app detected");
    expect(pushed.stderr).toMatch(/remote: -----> Using Python 3\.11\.\d+ \(Debian's python3; \.python-version asks for 3\.11\)/);
    expect(pushed.stderr).toContain("remote: -----> Installing requirements with pip");
    expect(pushed.stderr).toContain("remote: -----> Running release command: python migrate.py");
    expect(pushed.stderr).toContain("remote:        migrated: visits");
    const body = JSON.parse(await served(PY, /"app":\s*"python-flask"/));
    expect(body.visits).toBeGreaterThanOrEqual(1);
    expect((await cli(["ps", "-a", PY])).stdout).toMatch(/=== web \(standard-1x\): gunicorn app:app --access-logfile - \(1\)/);

    // standard-2x: a CPU share of two, so two workers (at most the host's CPUs)
    expect((await cli(["ps:scale", "web=1:standard-2x", "-a", PY])).code).toBe(0);
    await until("the standard-2x dyno is up", async () => ((await cli(["ps", "-a", PY])).stdout.includes("=== web (standard-2x)") ? true : undefined));
    await served(PY, /"app"/);
    // (the standard-1x dyno stopped: one master and its workers are all the app's gunicorns, on one host)
    const { host, g } = await until("gunicorn's workers are up", async () => {
        const found = await processesOf(PY, "gunicorn app:app");
        if (!found.host) return undefined;
        const p = await preforked(found.host, PY, "gunicorn app:app");
        const elsewhere = (await Promise.all(dynoHosts.filter((h) => h.name !== found.host).map((h) => shell.on(h.name, `pgrep -u dyno-${PY} -f gunicorn || true`)))).join("").trim();
        return p.concurrency >= 1 && p.workers.length === p.concurrency && found.pids.length === 1 + p.concurrency && !elsewhere ? { host: found.host, g: p } : undefined;
    });
    // One per CPU share: the dyno's cpu.max (standard-2x: 200%), at most the host's CPUs; where the
    // cpu controller is not the dyno's (the lab's machines mount it read-only), the host's CPUs.
    const nproc = Number(await shell.on(host, "nproc"));
    const cpuMax = (await shell.on(host, `cat "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/${g.master}/cgroup)/cpu.max" 2>/dev/null || echo max`)).trim().split(/\s+/);
    const share = cpuMax[0] === "max" ? nproc : Math.ceil(Number(cpuMax[0]) / Number(cpuMax[1]));
    expect(g.concurrency).toBe(Math.min(share, nproc));
    expect(g.listening).toHaveLength(1); // every worker accepts on the master's one socket
});

test("Ruby: a Rack app on Puma pre-forking WEB_CONCURRENCY workers, Debian's gems through BUNDLE_PATH__SYSTEM", async () => {
    const repo = app(RB, {}, path.join(projectRoot, "examples/ruby-rack"));
    const pushed = await createAndPush(RB, repo, async () => {
        expect((await cli(["config:set", "BUNDLE_PATH__SYSTEM=true", "-a", RB])).code).toBe(0);
    });
    expect(pushed.stderr).toContain("remote: -----> Ruby app detected");
    expect(pushed.stderr).toMatch(/remote: -----> Using Ruby version: ruby-3\.\d+\.\d+/);
    expect(pushed.stderr).toContain("remote: -----> Installing dependencies using bundler");
    await served(RB, /^ruby-rack pid=\d+ workers=\d+ dyno=web\.1\n$/);
    expect((await cli(["ps", "-a", RB])).stdout).toMatch(/=== web \(standard-1x\): bundle exec puma -C config\/puma\.rb \(1\)/);
    const { host } = await until("puma runs", async () => ((await processesOf(RB, "puma")).pids.length > 0 ? processesOf(RB, "puma") : undefined));
    const p = await until("puma's workers are up", async () => {
        const x = await preforked(host, RB, "puma");
        return x.concurrency >= 1 && x.workers.length === x.concurrency ? x : undefined;
    });
    expect(p.listening).toHaveLength(1);

    // A Rack app without a Procfile: web is rackup's
    await repo.commit("no Procfile", () => fs.rmSync(repo.file("Procfile")));
    const again = await repo.push();
    expect(again.stderr).toContain("remote:        Default types for buildpack -> web");
    await until("rackup serves", async () => ((await cli(["ps", "-a", RB])).stdout.includes("bundle exec rackup -p $PORT") ? true : undefined));
    await served(RB, /^ruby-rack pid=\d+/);
});

test("a third-party buildpack from a git repository on the control host (buildpacks:set)", async () => {
    const repo = app(BP, { "hello.txt": "third-party works\n" });
    const pushed = await createAndPush(BP, repo, async () => {
        const set = await cli(["buildpacks:set", BUILDPACK_URL, "-a", BP]);
        expect(set.stdout).toContain(`Next release on ${BP} will use ${BUILDPACK_URL}.`);
    });
    expect(pushed.stderr).toContain(`remote:        Using buildpack from the app's settings: ${BUILDPACK_URL}`);
    expect(pushed.stderr).toMatch(/remote:        Fetched buildpack file:\/\/\S+#main \([0-9a-f]+\)/);
    expect(pushed.stderr).toContain("remote: -----> Hello app detected");
    expect(pushed.stderr).toContain("remote: -----> Hello from a third-party buildpack");
    await served(BP, /hello from a third-party buildpack:\nthird-party works/);
    expect((await cli(["ps", "-a", BP])).stdout).toMatch(/=== web \(standard-1x\): cd public && exec python3 -m http\.server \$PORT \(1\)/);
    expect((await cli(["buildpacks", "-a", BP])).stdout).toContain(`=== ${BP} Buildpack URL\n${BUILDPACK_URL}`);
    // the fetch is the app's build user's, in the app's own buildpack cache
    expect(await shell.on(control.name, `stat -c '%U %a' /var/lib/dynoform/cache/${BP}.buildpacks`)).toBe(`build-${BP} 700`);
});

test("multi-buildpack: the third-party one, then heroku/python, in order; ps shows web and worker", async () => {
    const repo = app(MULTI, {
        "hello.txt": "multi\n",
        "requirements.txt": "gunicorn>=22\n",
        "app.py": [
            "import os",
            "def app(environ, start_response):",
            "    body = ('multi web: ' + open('public/index.html').read()).encode()",
            "    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])",
            "    return [body]",
            "",
        ].join("\n"),
        "worker.py": "import time\nwhile True:\n    time.sleep(60)\n",
        Procfile: "web: gunicorn app:app\nworker: python worker.py\n",
    });
    const pushed = await createAndPush(MULTI, repo, async () => {
        expect((await cli(["buildpacks:set", BUILDPACK_URL, "-a", MULTI])).code).toBe(0);
        const added = await cli(["buildpacks:add", "heroku/python", "-a", MULTI]);
        expect(added.stdout).toContain(`  1. ${BUILDPACK_URL}\n  2. heroku/python`);
    });
    const hello = pushed.stderr.indexOf("remote: -----> Hello app detected");
    const python = pushed.stderr.indexOf("remote: -----> Python app detected");
    expect(hello).toBeGreaterThan(0);
    expect(python).toBeGreaterThan(hello);
    await served(MULTI, /^multi web: hello from a third-party buildpack:\nmulti/);
    expect((await cli(["ps:scale", "worker=1", "-a", MULTI])).code).toBe(0);
    await until("web and worker up", async () => {
        const out = (await cli(["ps", "-x", "-a", MULTI])).stdout;
        return /^web\.1 +up /m.test(out) && /^worker\.1 +up /m.test(out) ? out : undefined;
    });
    const ps = (await cli(["ps", "-a", MULTI])).stdout;
    expect(ps).toMatch(/=== web \(standard-1x\): gunicorn app:app \(1\)/);
    expect(ps).toMatch(/=== worker \(standard-1x\): python worker\.py \(1\)/);
});
