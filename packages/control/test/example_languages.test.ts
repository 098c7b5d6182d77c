// examples/python-flask and examples/ruby-rack built by the real buildpacks and started as a dyno
// would start them (.profile.d, $PORT, HOME the app): gunicorn and Puma pre-fork WEB_CONCURRENCY
// workers on one socket. The lab test (35-languages) deploys them against PostgreSQL for real.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { build, defaultBuildpacks } from "../src/builder";
import { memoryLog } from "./helpers/memory_log";
import { extractSlug } from "./helpers/extract_slug";
import { BuildUser } from "../src/build_users";
import { createTestBuildUser, removeTestBuildUser, testBuildUserPrefix } from "./helpers/build_user";
import { parseProcfile } from "../src/procfile";
import { freePortRun } from "../../../test/support/ports";

jest.setTimeout(240_000);

const EXAMPLES = path.resolve(__dirname, "../../../examples");
const WRAPPER = 'for f in .profile.d/*.sh; do [ -r "$f" ] && . "./$f"; done; unset f; exec /bin/bash -c "$1"';

let user: BuildUser | undefined;
beforeAll(async () => (user = await createTestBuildUser(testBuildUserPrefix(), "examples")));
afterAll(() => removeTestBuildUser(user));
let tmp: string;
beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-ex-"));
    fs.chmodSync(tmp, 0o755);
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function buildExample(name: string, env: Record<string, string> = {}) {
    const { log, lines } = memoryLog();
    const result = await build({
        source: { dir: path.join(EXAMPLES, name) },
        workDir: path.join(tmp, "builds"),
        cacheDir: path.join(tmp, "cache", name),
        slugDir: path.join(tmp, "slugs"),
        env,
        log,
        buildpacks: defaultBuildpacks({ runtimeCacheDir: path.join(tmp, "runtimes") }),
        ...(user ? { user } : {}),
    });
    const dir = fs.mkdtempSync(path.join(tmp, "slug-"));
    await extractSlug(result.slug.path, dir, result.slug.sha256);
    return { result, dir, lines };
}

/** Start `command` as a dyno; resolve once GET `urlPath` answers; the children of its main process then. */
async function serve(dir: string, command: string, env: Record<string, string>, urlPath = "/"): Promise<{ body: string; workers: number; stop: () => void }> {
    const port = await freePortRun(1);
    const child = spawn("/bin/bash", ["-c", WRAPPER, "dyno", command], { cwd: dir, env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: dir, PORT: String(port), DYNO: "web.1", ...env }, stdio: "ignore", detached: true });
    const stop = () => {
        try {
            process.kill(-child.pid!, "SIGKILL");
        } catch {
            /* gone */
        }
    };
    try {
        for (let i = 0; ; i++) {
            const res = await fetch(`http://127.0.0.1:${port}${urlPath}`).catch(() => undefined);
            if (res?.ok) {
                const body = await res.text();
                await new Promise((r) => setTimeout(r, 1000)); // all workers forked
                const children = spawnSync("pgrep", ["-P", String(child.pid)], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
                return { body, workers: children.length, stop };
            }
            if (i > 100 || child.exitCode !== null) throw new Error(`${command} did not serve on ${port}`);
            await new Promise((r) => setTimeout(r, 200));
        }
    } catch (err) {
        stop();
        throw err;
    }
}

const pypiReachable = spawnSync("/usr/bin/python3", ["-c", "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/flask/', timeout=10)"]).status === 0;
const hasRuby = spawnSync("sh", ["-c", "command -v ruby && command -v bundle && ruby -e 'require \"rack\"; require \"puma\"'"]).status === 0;

(pypiReachable ? test : test.skip)("python-flask: web under gunicorn with WEB_CONCURRENCY workers, release: python migrate.py, psycopg importable", async () => {
    expect(parseProcfile(fs.readFileSync(path.join(EXAMPLES, "python-flask", "Procfile"), "utf8"))).toEqual({ web: "gunicorn app:app --access-logfile -", release: "python migrate.py" });
    const { result, dir, lines } = await buildExample("python-flask");
    expect(lines).toContain("-----> Python app detected");
    expect(result.processTypes.release).toBe("python migrate.py");
    const check = spawnSync("/bin/bash", ["-c", WRAPPER, "dyno", "python -c 'import psycopg, flask, app; print(psycopg.pq.__impl__)'"], { cwd: dir, env: { PATH: "/usr/bin:/bin", HOME: dir }, encoding: "utf8" });
    expect(check.stdout.trim()).toBe("binary");
    // /health needs no database: gunicorn's master and WEB_CONCURRENCY workers
    const served = await serve(dir, "gunicorn app:app --access-logfile -", { WEB_CONCURRENCY: "3" }, "/health");
    served.stop();
    expect(served.workers).toBe(3);
});

(hasRuby ? test : test.skip)("ruby-rack: Puma pre-forks WEB_CONCURRENCY workers (Debian's gems: BUNDLE_PATH__SYSTEM=true)", async () => {
    const { result, dir, lines } = await buildExample("ruby-rack", { BUNDLE_PATH__SYSTEM: "true" });
    expect(lines).toContain("-----> Ruby app detected");
    expect(result.processTypes).toEqual({ web: "bundle exec puma -C config/puma.rb" });
    const served = await serve(dir, result.processTypes.web, { WEB_CONCURRENCY: "2" });
    served.stop();
    expect(served.body).toMatch(/^ruby-rack pid=\d+ workers=2 dyno=web\.1\n$/);
    expect(served.workers).toBe(2);
    // what a config.ru without Procfile gets (RACK_ENV=production from .profile.d: rackup binds every address)
    const rackup = await serve(dir, "bundle exec rackup -p $PORT", {});
    rackup.stop();
    expect(rackup.body).toMatch(/^ruby-rack pid=\d+ workers=\d+ dyno=web\.1\n$/);
});
