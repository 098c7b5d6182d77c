// The buildpack API (bin/detect, bin/compile, bin/release, export, .profile.d) with the real built-in
// Python and Ruby buildpacks (Debian's python3 and pip from PyPI; ruby and bundler when installed),
// a third-party buildpack from a local git repository, and multi-buildpack order.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { build, defaultBuildpacks } from "../src/builder";
import { memoryLog } from "./helpers/memory_log";
import { BuildError } from "../src/buildpacks/buildpack";
import { buildpackSpecProblem, checkBuildpackSpec, parseBuildpacksFile } from "../src/buildpacks/buildpack_source";
import { configVarsProfile, parseRelease } from "../src/buildpacks/buildpack_api";
import { extractSlug } from "./helpers/extract_slug";
import { BuildUser } from "../src/build_users";
import { createTestBuildUser, removeTestBuildUser, testBuildUserPrefix } from "./helpers/build_user";

jest.setTimeout(240_000);

let user: BuildUser | undefined;
beforeAll(async () => (user = await createTestBuildUser(testBuildUserPrefix(), "bpapi")));
afterAll(() => removeTestBuildUser(user));

let tmp: string;
beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-bp-"));
    fs.chmodSync(tmp, 0o755);
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function writeTree(dir: string, files: Record<string, string>, mode = 0o644): string {
    for (const [name, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), content, { mode: name.startsWith("bin/") || name === "export" ? 0o755 : mode });
    }
    return dir;
}
const opts = (files: Record<string, string>, extra: Partial<Parameters<typeof build>[0]> = {}) => {
    const { log, lines } = memoryLog();
    const dir = writeTree(path.join(tmp, "src"), files);
    return {
        lines,
        o: {
            source: { dir },
            workDir: path.join(tmp, "builds"),
            cacheDir: path.join(tmp, "cache", "app"),
            slugDir: path.join(tmp, "slugs"),
            env: { GREETING: "hi" },
            log,
            buildpacks: defaultBuildpacks({ runtimeCacheDir: path.join(tmp, "runtimes") }),
            ...(user ? { user } : {}),
            ...extra,
        },
    };
};
async function unpacked(slug: { path: string; sha256: string }): Promise<string> {
    const dir = fs.mkdtempSync(path.join(tmp, "slug-"));
    await extractSlug(slug.path, dir, slug.sha256);
    return dir;
}
/** Run `command` in an unpacked slug as the agent does: .profile.d sourced, HOME the app dir. */
function inDyno(dir: string, command: string, env: Record<string, string> = {}): string {
    const wrapper = 'for f in .profile.d/*.sh; do [ -r "$f" ] && . "./$f"; done; unset f; exec /bin/bash -c "$1"';
    const r = spawnSync("/bin/bash", ["-c", wrapper, "dyno", command], { cwd: dir, env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: dir, PORT: "5000", ...env }, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${command}: ${r.stderr}`);
    return r.stdout.trim();
}
function gitRepo(files: Record<string, string>): string {
    const dir = writeTree(fs.mkdtempSync(path.join(tmp, "bp-")), files);
    fs.chmodSync(dir, 0o755);
    const git = (...a: string[]) => execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", ...a], { stdio: "pipe" });
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-q", "-m", "buildpack");
    git("tag", "v1");
    execFileSync("chmod", ["-R", "a+rX", dir]);
    return dir;
}
const pypiReachable = spawnSync("/usr/bin/python3", ["-c", "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/flask/', timeout=10)"]).status === 0;
const hasRuby = spawnSync("sh", ["-c", "command -v ruby && command -v bundle && ruby -e 'require \"rack\"; require \"puma\"'"]).status === 0;

describe("Python", () => {
    (pypiReachable ? test : test.skip)("requirements.txt: venv in the slug, pip cache kept, gunicorn relocatable, WEB_CONCURRENCY from .profile.d", async () => {
        const app = {
            "requirements.txt": "flask\ngunicorn\n",
            "app.py": "from flask import Flask\napp = Flask(__name__)\n@app.route('/')\ndef hi():\n    return 'hi'\n",
            Procfile: "web: gunicorn app:app\n",
        };
        const { o, lines } = opts(app);
        const result = await build(o);
        expect(lines).toContain("-----> Python app detected");
        expect(lines.some((l) => /^-----> Using Python 3\.\d+\.\d+ \(Debian's python3/.test(l))).toBe(true);
        expect(lines).toContain("-----> Installing requirements with pip");
        expect(result.buildpack).toBe("heroku/python");
        expect(result.processTypes).toEqual({ web: "gunicorn app:app" });
        const dir = await unpacked(result.slug);
        expect(fs.readFileSync(path.join(dir, ".heroku/python/bin/gunicorn"), "utf8").split("\n")[0]).toBe("#!/usr/bin/env python3");
        // the venv works where the dyno host unpacks the slug, not where it was built
        expect(inDyno(dir, "gunicorn --version")).toMatch(/gunicorn/);
        expect(inDyno(dir, "python -c 'import flask, sys; print(sys.prefix)'")).toBe(path.join(dir, ".heroku/python"));
        expect(Number(inDyno(dir, "echo $WEB_CONCURRENCY"))).toBeGreaterThanOrEqual(1);
        expect(inDyno(dir, "echo $WEB_CONCURRENCY", { WEB_CONCURRENCY: "7" })).toBe("7");
        // second build, same requirements: the cached venv is reused (and still works where the slug lands)
        const again = opts(app);
        const second = await build(again.o);
        expect(again.lines).toContain("       Using the cached virtual environment (Python and the dependency files are unchanged)");
        // the venv is a slug layer, byte for byte the same: neither compressed again nor unpacked again by agents
        expect(result.slug.layers.map((l) => l.path)).toEqual([".heroku/python"]);
        expect(second.slug.layers[0].sha256).toBe(result.slug.layers[0].sha256);
        expect(inDyno(await unpacked(second.slug), "gunicorn --version")).toMatch(/gunicorn/);
    });

    test("a Python version this platform cannot run: rejected with the fix", async () => {
        const { o } = opts({ "requirements.txt": "", ".python-version": "2.7\n", Procfile: "web: python app.py\n" });
        const err = (await build(o).catch((e) => e)) as BuildError;
        expect(err).toBeInstanceOf(BuildError);
        expect(err.message).toBe("bin/compile of buildpack heroku/python exited with status 1");
        expect(err.tail.join("\n")).toMatch(/\.python-version asks for Python 2\.7, but this platform runs Python 3\.\d+\.\d+ .*: set \.python-version to 3\.\d+, or remove it/);
    });

    test("no Procfile: Heroku's rule, a Procfile is required", async () => {
        const { o } = opts({ "requirements.txt": "" });
        const err = (await build(o).catch((e) => e)) as BuildError;
        expect(err.tail.join("\n")).toContain('No Procfile: Python apps need one to say how they start. Add a Procfile with a line such as "web: gunicorn app:app"');
    });

    (pypiReachable ? test : test.skip)("a dependency that cannot be installed: pip's last lines", async () => {
        const { o } = opts({ "requirements.txt": "dynoform-no-such-package-xyz==1.0\n", Procfile: "web: x\n" });
        const err = (await build(o).catch((e) => e)) as BuildError;
        expect(err.tail.join("\n")).toMatch(/No matching distribution found for dynoform-no-such-package-xyz/);
        expect(err.tail.join("\n")).toContain("pip install failed");
    });
});

describe("Ruby", () => {
    (hasRuby ? test : test.skip)("Gemfile with Debian's gems (BUNDLE_PATH__SYSTEM), config.ru without Procfile: web: bundle exec rackup", async () => {
        const { o, lines } = opts(
            {
                Gemfile: 'source "https://rubygems.org"\ngem "rack"\ngem "puma"\n',
                "config.ru": 'run ->(env) { [200, {"content-type" => "text/plain"}, ["hi"]] }\n',
            },
            { env: { BUNDLE_PATH__SYSTEM: "true" } },
        );
        const result = await build(o);
        expect(lines).toContain("-----> Ruby app detected");
        expect(lines.some((l) => l.startsWith("-----> Using Ruby version: ruby-"))).toBe(true);
        expect(lines).toContain("       BUNDLE_WITHOUT='development:test'");
        expect(result.processTypes).toEqual({ web: "bundle exec rackup -p $PORT" });
        const dir = await unpacked(result.slug);
        expect(fs.existsSync(path.join(dir, "Gemfile.lock"))).toBe(true);
        expect(inDyno(dir, "echo $RACK_ENV; bundle exec ruby -e 'require \"rack\"; puts :ok'")).toBe("production\nok");
    });

    (hasRuby ? test : test.skip)("Gemfile.lock and vendor/cache: gems into vendor/bundle, kept in the build cache, found by bundle exec where the slug lands", async () => {
        const gemDir = writeTree(path.join(tmp, "gem"), {
            "hello_dynoform.gemspec": 'Gem::Specification.new do |s|\n  s.name = "hello_dynoform"; s.version = "1.0.0"; s.summary = "t"; s.authors = ["t"]; s.files = ["lib/hello_dynoform.rb"]\nend\n',
            "lib/hello_dynoform.rb": 'module HelloDynoform; def self.hi; "hi from a gem"; end; end\n',
        });
        execFileSync("gem", ["build", "-q", "hello_dynoform.gemspec"], { cwd: gemDir, stdio: "pipe" });
        const files = {
            Gemfile: 'source "https://rubygems.org"\ngem "hello_dynoform"\n',
            "Gemfile.lock": "GEM\n  remote: https://rubygems.org/\n  specs:\n    hello_dynoform (1.0.0)\n\nPLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  hello_dynoform\n",
            Procfile: "web: bundle exec ruby -e 'sleep'\n",
        };
        const first = opts(files);
        fs.mkdirSync(path.join(tmp, "src", "vendor", "cache"), { recursive: true });
        fs.copyFileSync(path.join(gemDir, "hello_dynoform-1.0.0.gem"), path.join(tmp, "src", "vendor", "cache", "hello_dynoform-1.0.0.gem"));
        const result = await build(first.o);
        const dir = await unpacked(result.slug);
        expect(fs.existsSync(path.join(dir, "vendor/bundle"))).toBe(true);
        expect(inDyno(dir, "bundle exec ruby -e 'require \"hello_dynoform\"; puts HelloDynoform.hi'")).toBe("hi from a gem");
        const again = opts(files);
        await build(again.o);
        expect(again.lines).toContain("       Restoring the bundle from the build cache");
    });

    (hasRuby ? test : test.skip)("a gem that cannot be had: bundler's last lines", async () => {
        const { o } = opts({ Gemfile: 'source "https://rubygems.org"\ngem "dynoform-no-such-gem"\n', Procfile: "web: x\n" }, { env: { BUNDLE_PATH__SYSTEM: "true" } });
        const err = (await build(o).catch((e) => e)) as BuildError;
        expect(err.tail.join("\n")).toContain("bundle install failed");
    });

    (hasRuby ? test : test.skip)("a Ruby version this platform cannot run: rejected with the fix", async () => {
        const { o } = opts({ Gemfile: 'source "https://rubygems.org"\nruby "2.7.8"\n', Procfile: "web: x\n" });
        const err = (await build(o).catch((e) => e)) as BuildError;
        expect(err.tail.join("\n")).toMatch(/Gemfile asks for Ruby 2\.7\.8, but this platform runs Ruby \d+\.\d+\.\d+/);
    });
});

describe("third-party buildpacks", () => {
    const thirdParty = {
        "bin/detect": "#!/bin/sh\n[ -f \"$1/hello.txt\" ] && echo Hello || exit 1\n",
        "bin/compile": '#!/bin/bash\nset -e\necho "-----> Greeting"\necho "       from $0"\nprintf "%s %s %s" "$(cat "$3/GREETING")" "$(cat "$1/hello.txt")" "$STACK" > "$1/greeting.txt"\nmkdir -p "$2/mine" "$1/.profile.d"\necho \'export HELLO_HOME=$HOME\' > "$1/.profile.d/hello.sh"\n',
        "bin/release": "#!/bin/sh\ncat <<'Y'\n---\nconfig_vars:\n  HELLO_MODE: loud\ndefault_process_types:\n  web: ./hello.sh\nY\n",
        export: "export HELLO_TOOL=/opt/hello\n",
    };

    test("from a local git repository (buildpacks:set): detect, compile, release, .profile.d, config_vars", async () => {
        const repo = gitRepo(thirdParty);
        const { o, lines } = opts({ "hello.txt": "world", "hello.sh": "echo hi" }, { buildpackUrls: [`file://${repo}#v1`] });
        const result = await build(o);
        expect(lines).toContain(`       Using buildpack from the app's settings: file://${repo}#v1`);
        expect(lines).toContain("-----> Hello app detected");
        expect(lines).toContain("-----> Greeting");
        expect(result.processTypes).toEqual({ web: "./hello.sh" });
        expect(result.buildpack).toBe(`file://${repo}#v1`);
        const dir = await unpacked(result.slug);
        expect(fs.readFileSync(path.join(dir, "greeting.txt"), "utf8")).toBe("hi world dynoform-24");
        expect(inDyno(dir, "echo $HELLO_HOME $HELLO_MODE")).toBe(`${dir} loud`);
        expect(inDyno(dir, "echo $HELLO_MODE", { HELLO_MODE: "quiet" })).toBe("quiet");
        // cached clone: a second build with the same URL works and refetches
        const again = opts({ "hello.txt": "again" }, { buildpackUrls: [`file://${repo}#v1`] });
        await build(again.o);
        expect(again.lines.some((l) => l.startsWith(`       Fetched buildpack file://${repo}#v1 (`))).toBe(true);
    });

    test("BUILDPACK_URL and .buildpacks name buildpacks too; a path on the control host works", async () => {
        const repo = gitRepo(thirdParty);
        const viaEnv = opts({ "hello.txt": "x" }, { env: { GREETING: "yo", BUILDPACK_URL: repo } });
        expect((await build(viaEnv.o)).buildpack).toBe(repo);
        expect(viaEnv.lines).toContain(`       Using buildpack from BUILDPACK_URL: ${repo}`);
        const viaFile = opts({ "hello.txt": "x", ".buildpacks": `# mine\nfile://${repo}\n` });
        expect((await build(viaFile.o)).buildpack).toBe(`file://${repo}`);
    });

    test("multi-buildpack: in order, each one's export reaches the next, the last one's defaults win", async () => {
        const first = gitRepo(thirdParty);
        const second = gitRepo({
            "bin/detect": "#!/bin/sh\necho Second\n",
            "bin/compile": '#!/bin/sh\necho "$HELLO_TOOL" > "$1/tool.txt"\n',
            "bin/release": "#!/bin/sh\nprintf -- '---\\ndefault_process_types:\\n  web: ./second\\n  worker: ./w\\n'\n",
        });
        const { o, lines } = opts({ "hello.txt": "x" }, { buildpackUrls: [`file://${first}`, `file://${second}`] });
        const result = await build(o);
        expect(lines.indexOf("-----> Hello app detected")).toBeLessThan(lines.indexOf("-----> Second app detected"));
        expect(result.processTypes).toEqual({ web: "./second", worker: "./w" });
        expect(result.buildpack).toBe(`file://${first}, file://${second}`);
        const dir = await unpacked(result.slug);
        expect(fs.readFileSync(path.join(dir, "tool.txt"), "utf8").trim()).toBe("/opt/hello");
    });

    test("errors: detect fails, URL cannot be fetched, unknown name, bin/compile fails", async () => {
        const repo = gitRepo(thirdParty);
        const fail = async (files: Record<string, string>, urls: string[]) => (await build(opts(files, { buildpackUrls: urls }).o).catch((e) => e)) as BuildError;
        expect((await fail({ "other.txt": "" }, [`file://${repo}`])).message).toBe(
            `App not compatible with buildpack: file://${repo}: bin/detect found nothing it builds; check the buildpack's requirements (or change it with "dynoform buildpacks:set")`,
        );
        expect((await fail({ "hello.txt": "" }, [`file://${tmp}/nope.git`])).message).toBe(
            `could not fetch buildpack file://${tmp}/nope.git: check the URL (git ls-remote file://${tmp}/nope.git), then push again or change it with "dynoform buildpacks:set"`,
        );
        expect((await fail({ "hello.txt": "" }, [`file://${repo}#no-such-tag`])).message).toMatch(/and that "no-such-tag" is a branch, tag or commit of it/);
        expect((await fail({ "hello.txt": "" }, ["heroku/go"])).message).toMatch(/^buildpack heroku\/go is not built in here .*https:\/\/github.com\/heroku\/heroku-buildpack-go.git$/);
        const broken = gitRepo({ ...thirdParty, "bin/compile": "#!/bin/sh\necho 'E: something broke'\nexit 3\n" });
        const err = await fail({ "hello.txt": "" }, [`file://${broken}`]);
        expect(err.message).toBe(`bin/compile of buildpack file://${broken} exited with status 3`);
        expect(err.tail).toContain("E: something broke");
    });
});

describe("parsing", () => {
    test("buildpack names, URLs and paths", () => {
        expect(checkBuildpackSpec("python")).toBe("heroku/python");
        expect(checkBuildpackSpec("heroku/ruby")).toBe("heroku/ruby");
        expect(checkBuildpackSpec("https://github.com/heroku/heroku-buildpack-go.git#v200")).toBe("https://github.com/heroku/heroku-buildpack-go.git#v200");
        expect(checkBuildpackSpec("git@github.com:me/bp.git")).toBe("git@github.com:me/bp.git");
        expect(checkBuildpackSpec("/opt/buildpacks/mine")).toBe("/opt/buildpacks/mine");
        expect(buildpackSpecProblem("pyhton")).toMatch(/^unknown buildpack "pyhton": use a built-in name/);
        expect(buildpackSpecProblem("https://x/y.git#bad ref")).toMatch(/^unknown buildpack/);
        expect(parseBuildpacksFile("# c\n\nhttps://a/b.git\r\nheroku/python\n")).toEqual(["https://a/b.git", "heroku/python"]);
    });
    test("bin/release YAML", () => {
        expect(parseRelease("x", "---\ndefault_process_types:\n  web: a -p $PORT\nconfig_vars:\n  N: 1\n")).toEqual({ processTypes: { web: "a -p $PORT" }, configVars: { N: "1" } });
        expect(parseRelease("x", "")).toEqual({ processTypes: {}, configVars: {} });
        expect(() => parseRelease("x", "- a\n")).toThrow("bin/release of buildpack x must print a YAML mapping (default_process_types:, config_vars:)");
        expect(() => parseRelease("x", "a: [\n")).toThrow(/^bin\/release of buildpack x printed invalid YAML/);
        expect(configVarsProfile({ A: "it's" })).toContain(`[ -n "\${A+x}" ] || export A='it'\\''s'`);
    });
});
