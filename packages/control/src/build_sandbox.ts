// One build's private place on the control host, and the only way the build user gets in:
//
//   <workDir>/build-XXXXXX/   root's, 0711 while a build step runs, 0700 ("sealed") otherwise
//     app/                    the pushed tree, unpacked by the build user (tar -x runs as it)
//     home/                   $HOME of build commands: fresh every build
//     tmp/                    $TMPDIR of build commands
//
// app/, home/ and tmp/ are made by root inside a directory root just made, and handed to the build
// user (lchown) while empty, so no path root chowns was ever the build's to replace. Between build
// steps the sandbox is sealed: its root is 0700 first (nothing the build user starts later can reach
// the tree by path) and then every process of the build user is killed (nothing holds it open). Root
// reads or writes the tree (Procfile, .profile.d, the vendored runtime, the slug) only while sealed.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { BuildUser } from "./build_users";
import { CommandRunner, createRunner, RunnerOptions } from "./command_runner";
import { killProcessesOf } from "./process_reaper";
import { writeAppFile } from "./app_tree";
import { liftTopFolder } from "./source_top_folder";

/**
 * The pushed tree: a directory (copied in), a commit of a git repository (git archive), or a source
 * tarball (the builds API: its files at the top or under one top folder, as Heroku's source blobs). In a pre-receive hook the
 * pushed objects are still quarantined: `gitEnv` carries the hook's GIT_* variables
 * (GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES...) so git archive finds them.
 */
export type BuildSource = { dir: string } | { gitDir: string; commit: string; gitEnv?: Record<string, string> } | { tarball: string };

const SEALED = 0o700;
const OPEN = 0o711;
const TOOL_ENV = { PATH: "/usr/local/bin:/usr/bin:/bin", LC_ALL: "C" };

/** What writes the source as a tar stream (as root): only the build user's `tar -x` reads what is in it. */
function sourceProducer(source: BuildSource): [string, string[], Record<string, string>] {
    if ("dir" in source) return ["tar", ["-c", "-f", "-", "-C", source.dir, "."], TOOL_ENV];
    // A build API upload or source_blob URL: gzip'd or plain tar (-f passes a plain one through).
    if ("tarball" in source) return ["gzip", ["-d", "-c", "-f", source.tarball], TOOL_ENV];
    return ["git", ["archive", "--format=tar", source.commit], { ...TOOL_ENV, ...source.gitEnv, GIT_DIR: source.gitDir }];
}

export class BuildSandbox {
    private constructor(
        readonly root: string,
        readonly user: BuildUser | undefined,
    ) {}

    get appDir(): string {
        return path.join(this.root, "app");
    }
    get home(): string {
        return path.join(this.root, "home");
    }
    get tmp(): string {
        return path.join(this.root, "tmp");
    }
    /** ENV_DIR of bin/compile: the app's config vars, one file each; the build user's, 0700. */
    get envDir(): string {
        return path.join(this.root, "env");
    }
    /** Root's: built-in buildpacks' files, which the build user runs but cannot change. */
    get buildpacksDir(): string {
        return path.join(this.root, "buildpacks");
    }

    /** A new sealed sandbox under `workDir` (root's own directory, made 0711 if missing). */
    static async create(workDir: string, user: BuildUser | undefined): Promise<BuildSandbox> {
        if (user) await requireProtectedHardlinks();
        await fs.promises.mkdir(workDir, { recursive: true, mode: OPEN });
        const st = await fs.promises.lstat(workDir);
        if (!st.isDirectory() || st.uid !== process.getuid?.()) throw new Error(`${workDir} must be a directory of the control role's own user`);
        await fs.promises.chmod(workDir, OPEN);
        if (user) await reachable(workDir);
        const sandbox = new BuildSandbox(await fs.promises.mkdtemp(path.join(workDir, "build-")), user); // 0700: sealed
        for (const dir of [sandbox.appDir, sandbox.home, sandbox.tmp, sandbox.envDir]) {
            await fs.promises.mkdir(dir, { mode: 0o700 });
            if (user) await fs.promises.lchown(dir, user.uid, user.gid);
        }
        await fs.promises.mkdir(sandbox.buildpacksDir, { mode: 0o755 });
        return sandbox;
    }

    /**
     * Remove the sandboxes a crashed build of `user` left in `workDir`. Callers hold the user's build
     * lock, so none of them is in use; other users' sandboxes are left alone.
     */
    static async removeStale(workDir: string, user: BuildUser): Promise<void> {
        const names = await fs.promises.readdir(workDir).catch(() => [] as string[]);
        for (const name of names.filter((n) => n.startsWith("build-"))) {
            const app = await fs.promises.lstat(path.join(workDir, name, "app")).catch(() => undefined);
            if (app?.isDirectory() && app.uid === user.uid) {
                await killProcessesOf(user);
                await fs.promises.chmod(path.join(workDir, name), SEALED);
                await removeTree(path.join(workDir, name));
            }
        }
    }

    /** The config vars into ENV_DIR (sealed: no build process alive; files made new, never opened through a link). */
    async writeEnv(vars: Record<string, string>): Promise<void> {
        for (const [key, value] of Object.entries(vars)) {
            if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) continue;
            await writeAppFile(this.envDir, key, value, 0o600, this.user ? { uid: this.user.uid, gid: this.user.gid } : undefined);
        }
    }

    /** Kill every process of the build user; the sandbox's root stays as it is. */
    async reap(): Promise<void> {
        if (this.user) await killProcessesOf(this.user);
    }

    /** No process of the build user can reach the tree any more: 0700 first, then kill them all. */
    async seal(): Promise<void> {
        await fs.promises.chmod(this.root, SEALED);
        await this.reap();
    }

    private async open(): Promise<void> {
        await fs.promises.chmod(this.root, OPEN);
    }

    /**
     * `git archive` / `tar -c` / `gzip -dc` (as root) piped into `tar -x` (as the build user) in app/.
     * Sealed after; a tarball's one top folder (GitHub's archive links) then becomes app/.
     */
    async unpack(source: BuildSource): Promise<void> {
        const [producer, args, env] = sourceProducer(source);
        await this.open();
        try {
            await new Promise<void>((resolve, reject) => {
                const errors: string[] = [];
                const from = spawn(producer, args, { stdio: ["ignore", "pipe", "pipe"], env });
                const into = spawn("tar", ["-x", "-f", "-", "--no-same-owner", "-C", this.appDir], {
                    stdio: ["pipe", "ignore", "pipe"],
                    env: TOOL_ENV,
                    ...(this.user ? { uid: this.user.uid, gid: this.user.gid } : {}),
                });
                from.stdout.pipe(into.stdin!);
                into.stdin!.on("error", () => undefined); // tar gave up: its own status says why
                from.stderr.on("data", (d: Buffer) => errors.push(d.toString()));
                into.stderr!.on("data", (d: Buffer) => errors.push(d.toString()));
                let pending = 2;
                let failed = false;
                const done = (what: string) => {
                    let called = false;
                    return (code: number | null, signal?: NodeJS.Signals | null) => {
                        if (called) return;
                        called = true;
                        finish(what, code, signal);
                    };
                };
                const finish = (what: string, code: number | null, signal?: NodeJS.Signals | null) => {
                    if (code !== 0) failed = true;
                    if (code !== 0 && errors.length === 0) errors.push(`${what} ${signal ? `was killed by ${signal}` : `exited with status ${code}`}`);
                    if (--pending > 0) return;
                    if (failed) reject(new Error(`could not unpack the pushed tree: ${errors.join("").trim().split("\n").slice(-3).join("; ")}`));
                    else resolve();
                };
                const fromDone = done(producer);
                const intoDone = done("tar");
                from.on("error", (e) => (errors.push(`${producer}: ${e.message}`), fromDone(null)));
                into.on("error", (e) => (errors.push(`tar: ${e.message}`), intoDone(null)));
                from.on("close", fromDone);
                into.on("close", intoDone);
            });
        } finally {
            await this.seal();
        }
        if ("tarball" in source) await liftTopFolder(this.appDir);
    }

    /** Runs build commands as the build user: the sandbox is open during each one and sealed after. */
    runner(opts: Omit<RunnerOptions, "uid" | "gid" | "reap">): CommandRunner {
        const inner = createRunner({ ...opts, ...(this.user ? { uid: this.user.uid, gid: this.user.gid, reap: () => this.reap() } : {}) });
        return {
            remainingMs: () => inner.remainingMs(),
            run: async (command, args, runOpts) => {
                await this.open();
                try {
                    await inner.run(command, args, runOpts);
                } finally {
                    await this.seal();
                }
            },
        };
    }

    /** Seal, then remove everything (GNU rm: no symbolic link followed, no other filesystem entered). */
    async remove(): Promise<void> {
        await this.seal();
        await removeTree(this.root);
    }
}

/**
 * Root reads every file of the built tree into the slug. With fs.protected_hardlinks=0 a build user
 * could hard-link a file it cannot read (/etc/shadow) into its tree, and root would pack it.
 */
export async function requireProtectedHardlinks(sysctl = "/proc/sys/fs/protected_hardlinks"): Promise<void> {
    const value = await fs.promises.readFile(sysctl, "utf8").catch(() => undefined);
    if (value?.trim() === "0") throw new Error("fs.protected_hardlinks is 0 on this host: builds could hard-link files they cannot read into their slug; set it to 1 (sysctl -w fs.protected_hardlinks=1, and in /etc/sysctl.d)");
}

/** The build user must be able to pass through every directory above the sandboxes (o+x, e.g. 0711). */
async function reachable(dir: string): Promise<void> {
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
        const st = await fs.promises.stat(d);
        if ((st.mode & 0o001) === 0) throw new Error(`build users cannot reach ${dir}: ${d} is mode 0${(st.mode & 0o777).toString(8)}; make it 0711 (or 0755)`);
        if (d === path.dirname(d)) return;
    }
}

/** rm -rf a tree another user may have written: GNU rm walks it by file descriptor, never through a link. */
export function removeTree(dir: string): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn("rm", ["-rf", "--one-file-system", "--", dir], { stdio: ["ignore", "ignore", "pipe"], env: TOOL_ENV });
        let err = "";
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`rm -rf ${dir}: ${err.trim() || `status ${code}`}`))));
    });
}
