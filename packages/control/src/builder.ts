// The slug compiler: detect → compile (as the build user, under a time limit) → process types →
// slug. Prints Heroku's build output; throws BuildError with the reason (and the failing command's
// last output lines) when the push must be rejected.
import * as fs from "node:fs";
import * as path from "node:path";
import { BuildLog } from "./build_log";
import { CommandRunner, createRunner, describeLimit } from "./command_runner";
import { Buildpack, BuildError } from "./buildpacks/buildpack";
import { nodeBuildpack, NodeBuildpackOptions } from "./buildpacks/node";
import { procfileBuildpack } from "./buildpacks/procfile_only";
import { formationTypes, parseProcfile, ProcessTypes, ProcfileError } from "./procfile";
import { createSlug, formatSize, SlugInfo } from "./slug";
import { DEFAULT_STACK } from "./app_store";

export const DEFAULT_BUILD_TIMEOUT_MS = 15 * 60_000;

export interface BuildOptions {
    /** The pushed tree, compiled in place. */
    dir: string;
    /** The app's build cache, kept between builds. */
    cacheDir: string;
    /** Where the slug is written (<slugDir>/<sha256>.tgz). */
    slugDir: string;
    /** The app's config vars, visible to build commands. */
    env: Record<string, string>;
    log: BuildLog;
    buildpacks: Buildpack[];
    /** Build user. When set, dir and cacheDir are chowned to it and every command runs as it. */
    uid?: number;
    gid?: number;
    timeoutMs?: number;
    stack?: string;
    /** Injected in tests. */
    runner?: CommandRunner;
}

export interface BuildResult {
    slug: SlugInfo;
    /** Procfile types plus the buildpack's defaults for types the Procfile leaves out. */
    processTypes: ProcessTypes;
    buildpack: string;
}

export function defaultBuildpacks(node: NodeBuildpackOptions): Buildpack[] {
    return [nodeBuildpack(node), procfileBuildpack];
}

async function chownTree(root: string, uid: number, gid: number): Promise<void> {
    await fs.promises.lchown(root, uid, gid);
    for (const entry of await fs.promises.readdir(root, { withFileTypes: true })) {
        const p = path.join(root, entry.name);
        if (entry.isDirectory()) await chownTree(p, uid, gid);
        else await fs.promises.lchown(p, uid, gid);
    }
}

async function readProcfile(dir: string): Promise<ProcessTypes | undefined> {
    let text: string;
    try {
        text = await fs.promises.readFile(path.join(dir, "Procfile"), "utf8");
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
    }
    try {
        return parseProcfile(text);
    } catch (err) {
        if (err instanceof ProcfileError) throw new BuildError(`${err.message}`);
        throw err;
    }
}

export async function build(opts: BuildOptions): Promise<BuildResult> {
    const { log, dir } = opts;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS;
    const runner =
        opts.runner ?? createRunner({ uid: opts.uid, gid: opts.gid, deadline: Date.now() + timeoutMs, limitText: describeLimit(timeoutMs) });

    log.topic(`Building on the ${opts.stack ?? DEFAULT_STACK} stack`);
    let buildpack: Buildpack | undefined;
    for (const bp of opts.buildpacks) {
        if (await bp.detect(dir)) {
            buildpack = bp;
            break;
        }
    }
    if (!buildpack) {
        throw new BuildError(`App not compatible with any buildpack (${opts.buildpacks.map((b) => b.name).join(", ")}): add a package.json for a Node.js app, or a Procfile`);
    }
    log.topic(`${buildpack.name} app detected`);
    const declared = await readProcfile(dir); // a broken Procfile fails before a long install

    await fs.promises.mkdir(opts.cacheDir, { recursive: true });
    const owned = opts.uid !== undefined && opts.gid !== undefined;
    if (owned) {
        await chownTree(dir, opts.uid!, opts.gid!);
        await chownTree(opts.cacheDir, opts.uid!, opts.gid!);
    }
    const compiled = await buildpack.compile({
        dir,
        cacheDir: opts.cacheDir,
        env: { ...opts.env },
        log,
        run: runner,
        async mkdirForBuild(p) {
            await fs.promises.mkdir(p, { recursive: true });
            if (owned) await fs.promises.chown(p, opts.uid!, opts.gid!);
        },
    });
    if (runner.remainingMs() <= 0) throw new BuildError(`build exceeded the ${describeLimit(timeoutMs)} limit`);

    log.topic("Discovering process types");
    const defaults = compiled.defaultProcessTypes;
    const processTypes: ProcessTypes = { ...(declared ?? {}) };
    const added: string[] = [];
    for (const [type, command] of Object.entries(defaults)) {
        if (!(type in processTypes)) {
            processTypes[type] = command;
            added.push(type);
        }
    }
    if (declared) log.info(`Procfile declares types     -> ${Object.keys(declared).join(", ") || "(none)"}`);
    if (added.length > 0) log.info(`Default types for buildpack -> ${added.join(", ")}`);
    if (formationTypes(processTypes).length === 0) {
        throw new BuildError(`No process types: add a Procfile with a line such as "web: node server.js"`);
    }

    log.topic("Compressing...");
    const slug = await createSlug(dir, opts.slugDir, compiled.slugLayers && compiled.layerCacheDir ? { layers: compiled.slugLayers, layerCacheDir: compiled.layerCacheDir } : {});
    log.info(`Done: ${formatSize(slug.size)}`);
    return { slug, processTypes, buildpack: buildpack.name };
}
