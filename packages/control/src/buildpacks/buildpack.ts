// The buildpack interface: detect whether a pushed tree is this kind of app, then compile it in
// place into something a dyno can run. Add a language by implementing this and listing it in
// DEFAULT_BUILDPACKS (builder.ts).
import { BuildLog } from "../build_log";
import { CommandRunner } from "../command_runner";
import { ProcessTypes } from "../procfile";
import { SlugLayer } from "../slug";

export interface CompileContext {
    /** The app's tree, compiled in place; becomes the slug. */
    dir: string;
    /** Kept between builds of the same app (dependency caches). */
    cacheDir: string;
    /** Config vars of the app, visible to build commands. */
    env: Record<string, string>;
    log: BuildLog;
    /** Runs commands as the build user, under the build's time limit. */
    run: CommandRunner;
    /** mkdir -p a directory the build user's commands may write to (owned by the build user). */
    mkdirForBuild(dir: string): Promise<void>;
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
