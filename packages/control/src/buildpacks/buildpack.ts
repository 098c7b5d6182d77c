// The buildpack interface: detect whether a pushed tree is this kind of app, then compile it in
// place into something a dyno can run. Node.js runs in-process (node.ts); every other buildpack,
// built-in (builtin.ts) or third-party (buildpack_source.ts), runs through Heroku's buildpack API
// (buildpack_api.ts: bin/detect, bin/compile, bin/release) as the build user.
import { BuildLog } from "../build_log";
import { CommandRunner } from "../command_runner";
import { ProcessTypes } from "../procfile";
import { SlugLayer } from "../slug";

export interface CompileContext {
    /**
     * The app's tree (the build user's), compiled in place; becomes the slug. Outside `run`, no
     * build process is alive: code here runs as root and touches the tree only through app_tree.ts.
     */
    dir: string;
    /** Kept between builds of the same app (dependency caches); only build commands look inside. */
    cacheDir: string;
    /** $HOME and $TMPDIR for build commands: fresh each build, the build user's. */
    home: string;
    tmp: string;
    /** The build user: directories and files root adds to the tree are handed to it (none: the caller's). */
    owner?: { uid: number; gid: number };
    /** Config vars of the app, visible to build commands. */
    env: Record<string, string>;
    log: BuildLog;
    /** Runs commands as the build user, under the build's time limit; kills what each leaves behind. */
    run: CommandRunner;
    /** ENV_DIR: one file per config var, readable by the build user only. */
    envDir: string;
    /** What earlier buildpacks' `export` files set (multi-buildpack). */
    exports?: Record<string, string>;
    /** Root's directory in the sandbox where built-in buildpacks' files are written (read-only to the build user). */
    buildpacksDir: string;
    /** The app's own buildpack clones (git URLs), kept between builds: the build user's, 0700. */
    buildpackCacheDir: string;
}

/** What detect may use: the tree, and the build user's commands (bin/detect runs as it). */
export type DetectContext = Pick<CompileContext, "dir" | "home" | "tmp" | "env" | "run" | "log" | "exports" | "buildpacksDir" | "buildpackCacheDir" | "owner">;

export interface CompileResult {
    /** Process types used for types the Procfile does not declare (Node: web: npm start). */
    defaultProcessTypes: ProcessTypes;
    /** Subtrees that rarely change (a vendored runtime): their compressed bytes are cached in `layerCacheDir`. */
    slugLayers?: SlugLayer[];
    layerCacheDir?: string;
    /** Variables the buildpack's `export` file sets: the environment of the buildpacks after it (multi-buildpack). */
    exports?: Record<string, string>;
}

export interface Buildpack {
    /** Shown as "-----> <name> app detected" (or bin/detect's own output), and in errors. */
    name: string;
    /** How the app's setting names it (heroku/python, a git URL, a path); stored with the release. */
    id?: string;
    /** Whether the tree is this kind of app; a string is the name to show (bin/detect's output). */
    detect(ctx: DetectContext): Promise<boolean | string>;
    compile(ctx: CompileContext): Promise<CompileResult>;
}

/** A failure the app's author can fix; the message is the push's rejection reason. */
export class BuildError extends Error {
    constructor(message: string, readonly tail: string[] = []) {
        super(message);
        this.name = "BuildError";
    }
}
