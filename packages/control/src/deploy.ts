// A push, end to end, minus git: build the pushed tree into a slug, make release vN (slug + config
// vars + Procfile + commit), run its release phase, roll it out. Prints Heroku's push output;
// resolves with the release, or rejects with DeployRejectedError after printing why.
// git_receive.ts calls this with the pushed commit; the build unpacks it as the app's build user.
import { apiLog, UNKNOWN_USER } from "./api_log";
import { AppStore, Release } from "./app_store";
import { BuildLog } from "./build_log";
import { build, BuildOptions } from "./builder";
import { Buildpack, BuildError } from "./buildpacks/buildpack";
import type { BuildSource } from "./build_sandbox";
import type { BuildUsers } from "./build_users";
import { Fleet } from "./fleet";
import { releaseAndRollout, ReleaseFailedError } from "./releases";

export class DeployRejectedError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DeployRejectedError";
    }
}

export interface DeployOptions {
    store: AppStore;
    fleet: Fleet;
    app: string;
    /** The pushed tree (a commit of the app's repo, or a directory); never changed. */
    source: BuildSource;
    commit: string;
    log: BuildLog;
    buildpacks: Buildpack[];
    /** The app's build cache directory. */
    cacheDir: string;
    /** The app's fetched buildpacks (git URLs). */
    buildpackCacheDir?: string;
    /** Default: the app's buildpacks (buildpacks:set); none: BUILDPACK_URL, `.buildpacks`, else detection. */
    buildpackUrls?: string[];
    /** The app's URL, printed after "Released vN". */
    webUrl?: string;
    user?: string;
    /** Where the app's build user comes from (made on its first push). None: builds run as the caller, never as root. */
    buildUsers?: BuildUsers;
    build?: Pick<BuildOptions, "user" | "timeoutMs" | "stack">;
}

function rejectWith(log: BuildLog, headline: string, reason: string, tail: string[]): never {
    log.blank();
    log.error(headline);
    log.error(reason);
    if (tail.length > 0) {
        log.error("Last lines of output:");
        for (const l of tail) log.error(`  ${l}`);
    }
    log.blank();
    log.error("Push failed: the previous release is still serving");
    throw new DeployRejectedError(reason);
}

export async function deploy(opts: DeployOptions): Promise<Release> {
    const { store, fleet, app, log } = opts;
    await store.requireApp(app);
    const env = await store.getConfig(app);
    let built;
    apiLog(fleet, app, `Build started by user ${opts.user ?? UNKNOWN_USER}`);
    try {
        const buildUser = opts.buildUsers ? await opts.buildUsers.forApp(app) : undefined;
        built = await build({
            ...(buildUser ? { user: buildUser } : {}),
            source: opts.source,
            workDir: store.paths.builds,
            cacheDir: opts.cacheDir,
            slugDir: store.slugDir(app),
            env,
            log,
            buildpacks: opts.buildpacks,
            ...(opts.buildpackCacheDir ? { buildpackCacheDir: opts.buildpackCacheDir } : {}),
            buildpackUrls: opts.buildpackUrls ?? (await store.getBuildpacks(app)),
            ...opts.build,
        });
    } catch (err) {
        apiLog(fleet, app, "Build failed -- check your build logs");
        if (err instanceof BuildError) rejectWith(log, "Push rejected, failed to compile app.", err.message, err.tail);
        rejectWith(log, "Push rejected, the build could not run.", (err as Error).message, []);
    }
    apiLog(fleet, app, "Build succeeded");
    const slug = built.slug;
    const short = opts.commit.slice(0, 7);
    return store.withAppLock(app, `deploy ${short}`, async () => {
        log.topic("Launching...");
        try {
            const release = await releaseAndRollout({ store, fleet, log }, app, {
                slug: { sha256: slug.sha256, size: slug.size, ...(slug.layers.length ? { layers: slug.layers } : {}) },
                config: await store.getConfig(app), // as of now, not as of the build's start
                processTypes: built.processTypes,
                commit: opts.commit,
                description: `Deploy ${short}`,
                buildpack: built.buildpack,
                ...(opts.user ? { user: opts.user } : {}),
            });
            log.info(`Released v${release.version}`);
            if (opts.webUrl) log.info(`${opts.webUrl} deployed to dynoform`);
            return release;
        } catch (err) {
            if (err instanceof ReleaseFailedError) {
                rejectWith(log, `Release v${err.release.version} failed.`, err.reason, err.tail);
            }
            throw err;
        }
    }, { timeoutMs: 10 * 60_000 });
}
