// What builds leave of an app on the control host, removed by apps:destroy (and by apps:create of
// the name, for what an older destroy left): its build cache and fetched buildpacks, sandboxes a crashed build left, and
// its build user with every process it runs. Otherwise a new app of the same name would get the old
// user and the old cache, with anything the old app's builds planted in it.
import { spawn } from "node:child_process";
import { LockTimeoutError } from "./app_lock";
import { BuildSandbox } from "./build_sandbox";
import { BuildUsers } from "./build_users";
import { discardCacheDir, withBuildLock } from "./builder";
import { killProcessesOf } from "./process_reaper";
import { StatePaths } from "./state_paths";

/** World-writable places a build user can leave files in: a later user with its uid would own them. */
const SHARED_TMP_DIRS = ["/tmp", "/var/tmp", "/dev/shm"];

export async function removeBuildState(paths: StatePaths, app: string, buildUsers?: BuildUsers): Promise<void> {
    const cacheDir = paths.buildCache(app);
    const user = buildUsers?.existing(app);
    if (!user || !buildUsers) {
        await discardCacheDir(cacheDir);
        await discardCacheDir(paths.buildpackCache(app));
        return;
    }
    const workDir = paths.builds;
    // A build of the app may be running: each round kills its current command (the build then fails
    // and lets go of its lock); bounded, a build that keeps the lock fails the destroy, which can be run again.
    for (let round = 0; ; round++) {
        await killProcessesOf(user);
        try {
            await withBuildLock(
                workDir,
                user,
                async () => {
                    await BuildSandbox.removeStale(workDir, user);
                    await discardCacheDir(cacheDir);
                    await discardCacheDir(paths.buildpackCache(app));
                    await killProcessesOf(user);
                    // While the uid is still this user's: once deleted, useradd may give it to another.
                    for (const dir of SHARED_TMP_DIRS) await removeFilesOwnedBy(dir, user.uid);
                    await buildUsers.remove(user);
                },
                2000,
            );
            return;
        } catch (err) {
            if (!(err instanceof LockTimeoutError)) throw err;
            if (round >= 30) throw new Error(`a build of ${app} is still running (${err.holder}): run the command again when it ends`);
        }
    }
}

/** GNU find -delete: walks by file descriptor and follows no link; what it cannot remove (a non-empty dir) stays. */
function removeFilesOwnedBy(dir: string, uid: number): Promise<void> {
    return new Promise((resolve) => {
        const child = spawn("find", [dir, "-xdev", "-mindepth", "1", "-uid", String(uid), "-delete"], { stdio: "ignore", env: { PATH: "/usr/bin:/bin", LC_ALL: "C" } });
        child.on("error", () => resolve());
        child.on("close", () => resolve());
    });
}
