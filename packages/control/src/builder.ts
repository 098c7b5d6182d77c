// The slug compiler: a sandbox of the app's build user (build_sandbox.ts) → the pushed tree
// unpacked into it as that user → links leaving it refused → detect → compile (commands as the build
// user, under a time limit; root's own steps only while no build process is alive) → process types →
// slug. Prints Heroku's build output; throws BuildError with the reason (and the failing command's
// last output lines) when the push must be rejected.
import * as fs from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { BuildLog } from "./build_log";
import { describeLimit } from "./command_runner";
import { Buildpack, BuildError } from "./buildpacks/buildpack";
import { nodeBuildpack, NodeBuildpackOptions } from "./buildpacks/node";
import { procfileBuildpack } from "./buildpacks/procfile_only";
import { scriptBuildpack } from "./buildpacks/builtin";
import { parseBuildpacksFile, resolveBuildpack } from "./buildpacks/buildpack_source";
import { describeTypes, formationTypes, parseProcfile, ProcessTypes, ProcfileError } from "./procfile";
import { createSlug, formatSize, SlugInfo, SlugLayer } from "./slug";
import { DEFAULT_STACK } from "./app_store";
import { readAppFile, refuseEscapingLinks } from "./app_tree";
import { BuildSandbox, BuildSource, removeTree } from "./build_sandbox";
import type { BuildUser } from "./build_users";
import { LockTimeoutError, withLock } from "./app_lock";

export const DEFAULT_BUILD_TIMEOUT_MS = 15 * 60_000;

export interface BuildOptions {
    /** The pushed tree (a directory or a commit); never changed: the build works on its own copy. */
    source: BuildSource;
    /** Where each build gets its sandbox (`<state>/builds`): the control role's own directory. */
    workDir: string;
    /** The app's build cache, kept between builds: owned by its build user, 0700; root never looks inside. */
    cacheDir: string;
    /** Where the slug is written (<slugDir>/<sha256>.tgz). */
    slugDir: string;
    /** The app's config vars, visible to build commands. */
    env: Record<string, string>;
    log: BuildLog;
    /** The built-in buildpacks in detection order (defaultBuildpacks). */
    buildpacks: Buildpack[];
    /** The app's buildpacks (buildpacks:set/add), run in order, all of them; none: BUILDPACK_URL, `.buildpacks`, else detection. */
    buildpackUrls?: string[];
    /** The app's fetched buildpacks (git URLs), kept between builds; default `<cacheDir>.buildpacks`. */
    buildpackCacheDir?: string;
    /** The app's build user (build_users.ts). Required when the control role runs as root. */
    user?: BuildUser;
    timeoutMs?: number;
    stack?: string;
}

export interface BuildResult {
    slug: SlugInfo;
    /** Procfile types plus the buildpack's defaults for types the Procfile leaves out. */
    processTypes: ProcessTypes;
    /** The buildpacks that ran, in order (names or URLs as set), joined by ", ". */
    buildpack: string;
}

/** Heroku's detection order: Ruby, Python, Node.js, then Procfile-only. */
export function defaultBuildpacks(node: NodeBuildpackOptions, stack = DEFAULT_STACK): Buildpack[] {
    const layers = path.join(node.runtimeCacheDir, "layers");
    return [scriptBuildpack("ruby", stack, layers), scriptBuildpack("python", stack, layers), nodeBuildpack(node), procfileBuildpack];
}

async function readProcfile(dir: string): Promise<ProcessTypes | undefined> {
    const text = await readAppFile(dir, "Procfile");
    if (text === undefined) return undefined;
    try {
        return parseProcfile(text);
    } catch (err) {
        if (err instanceof ProcfileError) throw new BuildError(`${err.message}`);
        throw err;
    }
}

/**
 * The app's cache dir, owned by its build user and 0700. Made by root in root's own `cache/`, so
 * the build cannot have replaced it; one that is not the build user's (a shared-uid cache of an
 * older version: anyone's build could have planted files in it) is thrown away, not reused.
 */
async function prepareCacheDir(cacheDir: string, user: BuildUser | undefined): Promise<void> {
    const parent = path.dirname(cacheDir);
    await fs.promises.mkdir(parent, { recursive: true, mode: 0o711 });
    const st = await fs.promises.lstat(cacheDir).catch(() => undefined);
    const owner = user?.uid ?? process.getuid?.();
    if (st && (!st.isDirectory() || st.uid !== owner)) await discardCacheDir(cacheDir);
    if (!st || !st.isDirectory() || st.uid !== owner) {
        await fs.promises.mkdir(cacheDir, { mode: 0o700 });
        if (user) await fs.promises.lchown(cacheDir, user.uid, user.gid);
    }
    await fs.promises.chmod(cacheDir, 0o700); // a directory (lstat) in root's directory: no link to follow
}

/**
 * Remove an app's cache dir (if any): renamed aside first (the name is free at once, for a build of
 * a new owner), then removed by GNU rm, which follows no link its old owner planted.
 */
export async function discardCacheDir(cacheDir: string): Promise<void> {
    const aside = path.join(path.dirname(cacheDir), `.discarded-${path.basename(cacheDir)}-${randomBytes(4).toString("hex")}`);
    try {
        await fs.promises.rename(cacheDir, aside);
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        throw err;
    }
    await removeTree(aside);
}

/** Runs `fn` while no other build of `user` runs (`<workDir>/.<user>.lock`). */
export async function withBuildLock<T>(workDir: string, user: BuildUser, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
    await fs.promises.mkdir(workDir, { recursive: true, mode: 0o711 });
    return withLock(path.join(workDir, `.${user.name}.lock`), fn, { purpose: "build", timeoutMs });
}

/**
 * Build the pushed tree into a slug. Builds of one app (one build user) run one at a time: a
 * build ends by killing every process of its user.
 */
export async function build(opts: BuildOptions): Promise<BuildResult> {
    if (!opts.user && process.getuid?.() === 0) {
        throw new Error("builds need an unprivileged build user and none is configured: set buildUserPrefix in /etc/dynoform/control.json (components/control does); builds never run as root");
    }
    if (!opts.user) return buildInSandbox(opts);
    try {
        return await withBuildLock(opts.workDir, opts.user, () => buildInSandbox(opts));
    } catch (err) {
        if (err instanceof LockTimeoutError) throw new Error(`another build of this app is running (${err.holder.split(" ")[0] ? `pid ${err.holder.split(" ")[0]}` : "unknown"}): push again when it finishes`);
        throw err;
    }
}

async function buildInSandbox(opts: BuildOptions): Promise<BuildResult> {
    const { log } = opts;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS;
    log.topic(`Building on the ${opts.stack ?? DEFAULT_STACK} stack`);
    if (opts.user) await BuildSandbox.removeStale(opts.workDir, opts.user);
    const sandbox = await BuildSandbox.create(opts.workDir, opts.user);
    try {
        await prepareCacheDir(opts.cacheDir, opts.user);
        await prepareCacheDir(opts.buildpackCacheDir ?? `${opts.cacheDir}.buildpacks`, opts.user);
        await sandbox.writeEnv(opts.env);
        await sandbox.unpack(opts.source); // sealed from here on, but while build commands run
        const dir = sandbox.appDir;
        await refuseEscapingLinks(dir);
        return await compileAndPack(opts, sandbox, dir, timeoutMs);
    } finally {
        await sandbox.remove();
    }
}

async function compileAndPack(opts: BuildOptions, sandbox: BuildSandbox, dir: string, timeoutMs: number): Promise<BuildResult> {
    const { log } = opts;
    const runner = sandbox.runner({ deadline: Date.now() + timeoutMs, limitText: describeLimit(timeoutMs) });
    const stack = opts.stack ?? DEFAULT_STACK;
    const base = {
        dir,
        cacheDir: opts.cacheDir,
        home: sandbox.home,
        tmp: sandbox.tmp,
        envDir: sandbox.envDir,
        buildpacksDir: sandbox.buildpacksDir,
        buildpackCacheDir: opts.buildpackCacheDir ?? `${opts.cacheDir}.buildpacks`,
        ...(opts.user ? { owner: { uid: opts.user.uid, gid: opts.user.gid } } : {}),
        log,
        run: runner,
    };
    const chosen = await chosenBuildpacks(opts, dir);
    let selected: { buildpack: Buildpack; label: string }[];
    if (chosen) {
        log.info(`Using buildpack${chosen.specs.length > 1 ? "s" : ""} from ${chosen.from}: ${chosen.specs.join(", ")}`);
        selected = [];
        for (const spec of chosen.specs) {
            const buildpack = resolveBuildpack(spec, opts.buildpacks, stack);
            const detected = await buildpack.detect({ ...base, env: { ...opts.env } });
            if (!detected) {
                throw new BuildError(`App not compatible with buildpack: ${spec}: bin/detect found nothing it builds; check the buildpack's requirements (or change it with "dynoform buildpacks:set")`);
            }
            selected.push({ buildpack, label: typeof detected === "string" ? detected : buildpack.name });
        }
    } else {
        let found: { buildpack: Buildpack; label: string } | undefined;
        for (const bp of opts.buildpacks) {
            const detected = await bp.detect({ ...base, env: { ...opts.env } });
            if (detected) {
                found = { buildpack: bp, label: typeof detected === "string" ? detected : bp.name };
                break;
            }
        }
        if (!found) {
            throw new BuildError(`App not compatible with any buildpack (${opts.buildpacks.map((b) => b.name).join(", ")}): add a Gemfile (Ruby), requirements.txt (Python), package.json (Node.js) or a Procfile, or set a buildpack with "dynoform buildpacks:set"`);
        }
        selected = [found];
    }
    const declared = await readProcfile(dir); // a broken Procfile fails before a long install

    let exports: Record<string, string> = {};
    const defaults: ProcessTypes = {};
    const slugLayers: SlugLayer[] = [];
    let layerCacheDir: string | undefined;
    for (const { buildpack, label } of selected) {
        log.topic(`${label} app detected`);
        const compiled = await buildpack.compile({ ...base, env: { ...opts.env, ...exports }, exports });
        exports = { ...exports, ...(compiled.exports ?? {}) };
        Object.assign(defaults, compiled.defaultProcessTypes); // the last buildpack's defaults win, as on Heroku
        if (compiled.slugLayers && compiled.layerCacheDir) {
            slugLayers.push(...compiled.slugLayers.filter((l) => !slugLayers.some((s) => s.path === l.path)));
            layerCacheDir ??= compiled.layerCacheDir;
        }
    }
    await sandbox.seal(); // (each command seals it too) root reads the tree only with no build process alive
    if (runner.remainingMs() <= 0) throw new BuildError(`build exceeded the ${describeLimit(timeoutMs)} limit`);

    log.topic("Discovering process types");
    const processTypes: ProcessTypes = { ...(declared ?? {}) };
    const added: string[] = [];
    for (const [type, command] of Object.entries(defaults)) {
        if (!(type in processTypes)) {
            processTypes[type] = command;
            added.push(type);
        }
    }
    if (declared) log.info(`Procfile declares types     -> ${describeTypes(declared) || "(none)"}`);
    if (added.length > 0) log.info(`Default types for buildpack -> ${added.join(", ")}`);
    if (formationTypes(processTypes).length === 0) {
        throw new BuildError(`No process types: add a Procfile with a line such as "web: node server.js"`);
    }

    log.topic("Compressing...");
    const slug = await createSlug(dir, opts.slugDir, slugLayers.length > 0 && layerCacheDir ? { layers: slugLayers, layerCacheDir } : {});
    log.info(`Done: ${formatSize(slug.size)}`);
    return { slug, processTypes, buildpack: selected.map((s) => s.buildpack.id ?? s.buildpack.name).join(", ") };
}

/** The buildpacks the app names, and where: its setting, BUILDPACK_URL, or `.buildpacks`; none: detect. */
async function chosenBuildpacks(opts: BuildOptions, dir: string): Promise<{ specs: string[]; from: string } | undefined> {
    if (opts.buildpackUrls && opts.buildpackUrls.length > 0) return { specs: opts.buildpackUrls, from: "the app's settings" };
    const url = opts.env.BUILDPACK_URL?.trim();
    if (url) return { specs: [url], from: "BUILDPACK_URL" };
    const file = await readAppFile(dir, ".buildpacks");
    if (file !== undefined) {
        const specs = parseBuildpacksFile(file);
        if (specs.length === 0) throw new BuildError(".buildpacks lists no buildpack: add one per line (a git URL, heroku/python...) or remove the file");
        return { specs, from: ".buildpacks" };
    }
    return undefined;
}
