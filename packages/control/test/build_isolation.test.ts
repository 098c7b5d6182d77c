// Issue 9 (items 1 and 2): a build must not get root on the control host, nor reach another app's build.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { build } from "../src/builder";
import { memoryLog } from "../src/build_log";
import { BuildError } from "../src/buildpacks/buildpack";
import { nodeBuildpack } from "../src/buildpacks/node";
import { procfileBuildpack } from "../src/buildpacks/procfile_only";
import { FakeRegistry } from "./helpers/fake_registry";

import { BuildUser } from "../src/build_users";
import { createTestBuildUser, isRoot, processesOf, removeTestBuildUser, testBuildUserPrefix } from "./helpers/build_user";

jest.setTimeout(60_000);
const asRoot = isRoot ? test : test.skip;

let user: BuildUser;
let tmp: string;
let registry: FakeRegistry;
beforeAll(async () => {
    if (isRoot) user = (await createTestBuildUser(testBuildUserPrefix(), "isolation"))!;
});
afterAll(() => removeTestBuildUser(user));
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
