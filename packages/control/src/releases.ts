// Making a release and putting it in service: the one path shared by deploys, config changes and
// rollbacks. The caller holds the app lock.
//
//   create vN (pending) → release phase (if the Procfile has `release:`)
//   → formation follows the new process types → rollout → vN succeeded.
//   Any failure → vN failed with the reason; the previous release keeps serving.
import { apiLog, UNKNOWN_USER } from "./api_log";
import { AppStore, DEFAULT_SIZE, Formation, Release, ReleaseDraft } from "./app_store";
import { BuildLog } from "./build_log";
import { cacheHostnames, purgeFailureWarning, purgeOnRelease } from "./cache_purge";
import { formationTypes, ProcessTypes, releaseCommand } from "./procfile";
import { Fleet, FleetError } from "./fleet";

export class ReleaseFailedError extends Error {
    constructor(readonly release: Release, readonly reason: string, readonly tail: string[] = []) {
        super(reason);
        this.name = "ReleaseFailedError";
    }
}

/** The formation for new process types: keep counts of kept types, web starts at 1, others 0. */
export function formationFor(current: Formation, processTypes: ProcessTypes): Formation {
    const next: Formation = {};
    for (const type of formationTypes(processTypes)) {
        next[type] = current[type] ?? { quantity: type === "web" && !current.web ? 1 : 0, size: DEFAULT_SIZE };
    }
    return next;
}

export interface ReleaseContext {
    store: AppStore;
    fleet: Fleet;
    log: BuildLog;
}

export async function releaseAndRollout(ctx: ReleaseContext, app: string, draft: ReleaseDraft): Promise<Release> {
    const { store, fleet, log } = ctx;
    const release = await store.createRelease(app, draft);
    const user = release.user ?? UNKNOWN_USER;
    apiLog(fleet, app, `${release.description} by user ${user}`);
    apiLog(fleet, app, `Release v${release.version} created by user ${user}`);
    const fail = async (reason: string, tail: string[] = []): Promise<never> => {
        await store.setReleaseStatus(app, release.version, "failed", reason);
        throw new ReleaseFailedError({ ...release, status: "failed", reason }, reason, tail);
    };
    const command = releaseCommand(release.processTypes);
    if (command) {
        log.topic(`Running release command: ${command}`);
        const tail: string[] = [];
        let buffered = "";
        const sink = (chunk: string | Buffer) => {
            buffered += chunk.toString();
            const lines = buffered.split("\n");
            buffered = lines.pop() ?? "";
            for (const l of lines) {
                tail.push(l);
                if (tail.length > 20) tail.shift();
                log.output(l);
            }
        };
        let exitCode: number;
        try {
            ({ exitCode } = await fleet.runOneOff(app, release, command, { stdout: sink, stderr: sink }, "release"));
        } catch (err) {
            return fail(`release command could not run: ${(err as Error).message}`, (err as FleetError).tail ?? tail);
        }
        if (buffered) sink("\n");
        if (exitCode !== 0) return fail(`release command "${command}" exited with status ${exitCode}`, tail);
    }
    const previous = await store.getFormation(app);
    const formation = formationFor(previous, release.processTypes);
    const summary = Object.entries(formation).map(([t, f]) => `${t}=${f.quantity}`).join(", ");
    log.topic(`Starting dynos: ${summary || "none"}`);
    try {
        await fleet.rollout(app, release, formation, log);
    } catch (err) {
        return fail(err instanceof FleetError ? err.message : `rollout failed: ${(err as Error).message}`, (err as FleetError).tail ?? []);
    }
    await store.setFormation(app, formation);
    await store.setReleaseStatus(app, release.version, "succeeded");
    await purgeAfterRelease(ctx, app, release);
    return { ...release, status: "succeeded" };
}

/**
 * The new release is current: every edge bans the app's cached pages, so none of the old release's
 * is served until its TTL ends. An edge that cannot be told is a warning; the release is out.
 */
async function purgeAfterRelease(ctx: ReleaseContext, app: string, release: Release): Promise<void> {
    const caches = ctx.fleet.edgeCaches;
    if (!caches || !purgeOnRelease(release.config)) return;
    try {
        const failures = await caches.purge(cacheHostnames(await ctx.store.getDomains(app)));
        for (const f of failures) ctx.log.error(purgeFailureWarning(f, app));
    } catch (err) {
        // The release is current whatever happened here: a warning, never a failed release.
        ctx.log.error(`Warning: the edges' cache of ${app} could not be purged (${(err as Error).message}): run "dynoform cache:purge -a ${app}"`);
    }
}
