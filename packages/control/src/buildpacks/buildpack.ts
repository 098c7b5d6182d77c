// The buildpack interface: detect whether a pushed tree is this kind of app, then compile it in
// place into something a dyno can run. Add a language by implementing this and listing it in
// DEFAULT_BUILDPACKS (builder.ts).
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
}

export interface CompileResult {
    /** Process types used for types the Procfile does not declare (Node: web: npm start). */
    defaultProcessTypes: ProcessTypes;
    /** Subtrees that rarely change (a vendored runtime): their compressed bytes are cached in `layerCacheDir`. */
    slugLayers?: SlugLayer[];
    layerCacheDir?: string;
}

export interface Buildpack {
    /** Shown as "-----> <name> app detected". */
    name: string;
    detect(dir: string): Promise<boolean>;
    compile(ctx: CompileContext): Promise<CompileResult>;
}

/** A failure the app's author can fix; the message is the push's rejection reason. */
export class BuildError extends Error {
    constructor(message: string, readonly tail: string[] = []) {
        super(message);
        this.name = "BuildError";
    }
}
