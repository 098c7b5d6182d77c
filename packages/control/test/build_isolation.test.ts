// Issue 9 (items 1 and 2): a build must not get root on the control host, nor reach another app's build.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { build } from "../src/builder";
import { memoryLog } from "./helpers/memory_log";
import { BuildError } from "../src/buildpacks/buildpack";
import { nodeBuildpack } from "../src/buildpacks/node";
import { procfileBuildpack } from "../src/buildpacks/procfile_only";
import { FakeRegistry } from "./helpers/fake_registry";
import { extractSlug } from "./helpers/extract_slug";
import { requireProtectedHardlinks } from "../src/build_sandbox";

import { BuildUser } from "../src/build_users";
import { createTestBuildUser, isRoot, processesOf, removeTestBuildUser, testBuildUserPrefix } from "./helpers/build_user";

jest.setTimeout(60_000);
const asRoot = isRoot ? test : test.skip;

let user: BuildUser;
let other: BuildUser;
let tmp: string;
let registry: FakeRegistry;
beforeAll(async () => {
    if (!isRoot) return;
    const prefix = testBuildUserPrefix();
    user = (await createTestBuildUser(prefix, "isolation"))!;
    other = (await createTestBuildUser(prefix, "other"))!;
});
afterAll(() => {
    removeTestBuildUser(user);
    removeTestBuildUser(other);
});
beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-isolation-"));
    fs.chmodSync(tmp, 0o755);
    registry = new FakeRegistry(path.join(tmp, "registry"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A pushed tree: files, and symlinks given as { link: target }. */
function writeApp(files: Record<string, string | { link: string }>): string {
    const dir = path.join(tmp, "src");
    for (const [file, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        if (typeof content === "string") fs.writeFileSync(path.join(dir, file), content);
        else fs.symlinkSync(content.link, path.join(dir, file));
    }
    return dir;
}

async function runBuild(files: Record<string, string | { link: string }>, extra: object = {}) {
    fs.rmSync(path.join(tmp, "src"), { recursive: true, force: true });
    const dir = writeApp(files);
    const { log, lines } = memoryLog();
    const result = await build({
        source: { dir },
        workDir: path.join(tmp, "builds"),
        cacheDir: path.join(tmp, "cache"),
        slugDir: path.join(tmp, "slugs"),
        env: { DATABASE_URL: "postgres://secret" },
        log,
        buildpacks: [nodeBuildpack({ runtimeCacheDir: path.join(tmp, "runtimes"), source: registry }), procfileBuildpack],
        user,
        ...extra,
    }).catch((e: Error) => e);
    return { result, lines };
}

asRoot("a Procfile linking out of the app is refused; nothing of its target reaches the output", async () => {
    const { result, lines } = await runBuild({ Procfile: { link: "/etc/shadow" } });
    expect(result).toBeInstanceOf(BuildError);
    expect((result as BuildError).message).toBe('Procfile is a symbolic link to "/etc/shadow", outside the app: commit the file itself (links must stay inside the app)');
    const shadowNames = fs.readFileSync("/etc/shadow", "utf8").split("\n").map((l) => l.split(":")[0]).filter(Boolean);
    const output = [...lines, (result as Error).message].join("\n");
    for (const n of shadowNames) expect(output).not.toMatch(new RegExp(`\\b${n}\\b`));
});

asRoot("a .profile.d/nodejs.sh linking to a root-owned file leaves that file untouched", async () => {
    const victim = path.join(tmp, "victim");
    fs.writeFileSync(victim, "root's\n", { mode: 0o600 });
    const { result } = await runBuild({ "package.json": JSON.stringify({ name: "t", version: "1.0.0" }), ".profile.d/nodejs.sh": { link: victim } });
    expect(result).toBeInstanceOf(BuildError);
    expect((result as BuildError).message).toMatch(/^\.profile\.d\/nodejs\.sh is a symbolic link to ".*victim", outside the app/);
    expect(fs.readFileSync(victim, "utf8")).toBe("root's\n");
    expect(fs.statSync(victim).uid).toBe(0);
});

asRoot("a link a build leaves in its cache (its old $HOME) does not hand a root-owned directory to the next build", async () => {
    const victim = fs.mkdtempSync(path.join(tmp, "victim-"));
    fs.chmodSync(victim, 0o755);
    const plant = { "package.json": JSON.stringify({ name: "t", version: "1.0.0", scripts: { build: `ln -s ${victim} "$(dirname "$npm_config_cache")/home" && touch "$HOME/mine"` } }) };
    expect((await runBuild(plant)).result).not.toBeInstanceOf(Error);
    expect(fs.readlinkSync(path.join(tmp, "cache", "home"))).toBe(victim); // the cache is the build's own
    const { result } = await runBuild({ "package.json": JSON.stringify({ name: "t", version: "1.0.0", scripts: { build: 'test ! -e "$HOME/mine" && touch "$HOME/owned" ../owned-too 2>/dev/null; true' } }) });
    expect(result).not.toBeInstanceOf(Error);
    expect(fs.statSync(victim).uid).toBe(0);
    expect(fs.readdirSync(victim)).toEqual([]);
});

asRoot("a process the build leaves behind (setsid, in the background) is gone when build() returns", async () => {
    const { result } = await runBuild({
        "package.json": JSON.stringify({ name: "t", version: "1.0.0", scripts: { build: "setsid sleep 1000 & echo started" } }),
    }, { timeoutMs: 30_000 });
    expect(result).not.toBeInstanceOf(Error);
    expect(processesOf(user.uid)).toEqual([]);
});

asRoot("as root without a build user, the build is refused (never runs as root)", async () => {
    const { result, lines } = await runBuild({ Procfile: "web: ./serve\n" }, { user: undefined });
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).message).toMatch(/^builds need an unprivileged build user/);
    expect(lines).toEqual([]);
});

asRoot("two apps building at once: neither reads the other's build environment nor writes into its cache", async () => {
    const sync = path.join(tmp, "sync");
    fs.mkdirSync(sync, { mode: 0o777 });
    fs.chmodSync(sync, 0o777);
    const wait = (file: string) => `i=0; while [ ! -e ${sync}/${file} ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done`;
    const appDir = (name: string, script: string) => {
        const dir = path.join(tmp, name);
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", scripts: { build: script } }));
        return dir;
    };
    const victimCache = path.join(tmp, "cache-victim");
    const victim = appDir("victim", `touch ${sync}/victim-building; ${wait("snoop-done")}`);
    const snoop = appDir(
        "snoop",
        `${wait("victim-building")}; cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c "secret-of-vic""tim" > found.txt; ` +
            // (split: npm puts this script in its own environment, which the snoop may read)
            `echo 'script-shell=/tmp/x' > ${victimCache}/npm/.npmrc 2>/dev/null; ls ${victimCache} > cache.txt 2>&1; touch ${sync}/snoop-done`,
    );
    const run = (dir: string, cacheDir: string, env: Record<string, string>, as: BuildUser) =>
        build({
            source: { dir },
            workDir: path.join(tmp, "builds"),
            cacheDir,
            slugDir: path.join(tmp, "slugs"),
            env,
            log: memoryLog().log,
            // (a runtime cache and fake registry each: the fake registry is not safe for concurrent downloads)
            buildpacks: [nodeBuildpack({ runtimeCacheDir: path.join(tmp, `runtimes-${as.name}`), source: new FakeRegistry(path.join(tmp, `registry-${as.name}`)) })],
            user: as,
        });
    const [, snooped] = await Promise.all([
        run(victim, victimCache, { DATABASE_URL: "postgres://secret-of-victim@db/victim" }, user),
        run(snoop, path.join(tmp, "cache-snoop"), {}, other),
    ]);
    const out = fs.mkdtempSync(path.join(tmp, "slug-"));
    await extractSlug(snooped.slug.path, out, snooped.slug.sha256);
    expect(fs.readFileSync(path.join(out, "found.txt"), "utf8").trim()).toBe("0");
    expect(fs.readFileSync(path.join(out, "cache.txt"), "utf8")).toMatch(/Permission denied/);
    expect(fs.existsSync(path.join(victimCache, "npm", ".npmrc"))).toBe(false);
});

asRoot("a sandbox a crashed build left behind is removed by the app's next build; other apps' are not", async () => {
    const workDir = path.join(tmp, "builds");
    const leftover = (owner: BuildUser) => {
        const d = fs.mkdtempSync(path.join(workDir, "build-"));
        fs.mkdirSync(path.join(d, "app"));
        fs.lchownSync(path.join(d, "app"), owner.uid, owner.gid);
        return d;
    };
    fs.mkdirSync(workDir, { mode: 0o711 });
    const mine = leftover(user);
    const theirs = leftover(other);
    expect((await runBuild({ Procfile: "web: ./serve\n" })).result).not.toBeInstanceOf(Error);
    expect(fs.existsSync(mine)).toBe(false);
    expect(fs.existsSync(theirs)).toBe(true);
    expect(fs.readdirSync(workDir).filter((n) => n.startsWith("build-"))).toEqual([path.basename(theirs)]);
});

test("builds refuse a host where users may hard-link files they cannot read (root packs every file of the tree)", async () => {
    const sysctl = path.join(tmp, "protected_hardlinks");
    fs.writeFileSync(sysctl, "0\n");
    await expect(requireProtectedHardlinks(sysctl)).rejects.toThrow(/^fs.protected_hardlinks is 0 on this host/);
    fs.writeFileSync(sysctl, "1\n");
    await expect(requireProtectedHardlinks(sysctl)).resolves.toBeUndefined();
});
