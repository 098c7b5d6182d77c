// Which buildpacks a build runs: the app's setting (buildpacks:set/add), else the BUILDPACK_URL
// config var, else a `.buildpacks` file in the tree, else detection over the built-in ones. A
// buildpack is a built-in name (heroku/python), a git URL (`#ref` picks a branch, tag or commit;
// fetched by the build user into the app's own buildpack cache) or a directory on the control host.
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { CommandFailedError } from "../command_runner";
import { UserError } from "../errors";
import { Buildpack, BuildError, DetectContext } from "./buildpack";
import { apiBuildpack, buildpackEnv } from "./buildpack_api";

/** Names users may give for the built-in buildpacks → the id the built-in carries. */
export const BUILTIN_NAMES: Record<string, string> = {
    "heroku/ruby": "heroku/ruby",
    ruby: "heroku/ruby",
    "heroku/python": "heroku/python",
    python: "heroku/python",
    "heroku/nodejs": "heroku/nodejs",
    nodejs: "heroku/nodejs",
    node: "heroku/nodejs",
    "heroku/procfile": "heroku/procfile",
    procfile: "heroku/procfile",
};

const GIT_URL = /^(?:(?:https?|git|ssh|file):\/\/[^\s#]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s#]+)(?:#[A-Za-z0-9._/-]+)?$/;

export function isGitUrl(spec: string): boolean {
    return GIT_URL.test(spec);
}

/** Why `spec` cannot name a buildpack (with the fix), or undefined. */
export function buildpackSpecProblem(spec: string): string | undefined {
    if (spec in BUILTIN_NAMES || isGitUrl(spec)) return undefined;
    if (path.isAbsolute(spec)) return /[\s#]/.test(spec) ? `buildpack path "${spec}" may not contain spaces or "#"` : undefined;
    if (/^heroku\/[a-z0-9-]+$/.test(spec)) {
        return `buildpack ${spec} is not built in here (built in: heroku/ruby, heroku/python, heroku/nodejs, heroku/procfile): use its git URL instead, e.g. https://github.com/heroku/heroku-buildpack-${spec.slice(7)}.git`;
    }
    return `unknown buildpack "${spec}": use a built-in name (heroku/ruby, heroku/python, heroku/nodejs, heroku/procfile), a git URL (https://github.com/owner/buildpack.git, optionally #branch-or-tag) or an absolute path on the control host`;
}

export function checkBuildpackSpec(spec: string): string {
    const problem = buildpackSpecProblem(spec);
    if (problem) throw new UserError(problem);
    return BUILTIN_NAMES[spec] ?? spec;
}

/** `.buildpacks`: one buildpack per line; blank lines and `#` comments ignored. */
export function parseBuildpacksFile(text: string): string[] {
    return text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== "" && !l.startsWith("#"));
}

/** The buildpack `spec` names; built-ins come from `builtins` (the build's detection list). */
export function resolveBuildpack(spec: string, builtins: Buildpack[], stack: string): Buildpack {
    const problem = buildpackSpecProblem(spec);
    if (problem) throw new BuildError(problem);
    const builtin = BUILTIN_NAMES[spec];
    if (builtin) {
        const found = builtins.find((b) => b.id === builtin);
        if (!found) throw new BuildError(`buildpack ${spec} is not available on this control host`);
        return found;
    }
    if (path.isAbsolute(spec)) {
        return apiBuildpack({ name: spec, id: spec, dir: async () => localBuildpack(spec) }, stack);
    }
    let fetched: Promise<string> | undefined;
    return apiBuildpack({ name: spec, id: spec, dir: (ctx) => (fetched ??= fetchBuildpack(ctx, spec, stack)) }, stack);
}

async function localBuildpack(dir: string): Promise<string> {
    const st = await fs.promises.stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new BuildError(`buildpack ${dir} is not a directory on the control host: put the buildpack there (readable by all), or use a git URL`);
    return dir;
}

/**
 * Fetch `spec` (URL[#ref]) into the app's buildpack cache as the build user: a fresh fetch each
 * build, the cached checkout when the URL cannot be reached but was fetched before.
 */
async function fetchBuildpack(ctx: DetectContext, spec: string, stack: string): Promise<string> {
    const [url, ref] = spec.split("#");
    const dir = path.join(ctx.buildpackCacheDir, createHash("sha256").update(spec).digest("hex").slice(0, 16));
    const env = { ...buildpackEnv(ctx, stack), GIT_TERMINAL_PROMPT: "0" };
    // A repository on the control host belongs to another user: its upload-pack (which git runs
    // with the local-transport environment cleared) must be told to trust it.
    const local = url.startsWith("file://") ? ["--upload-pack=git -c safe.directory=* upload-pack"] : [];
    const git = async (args: string[], onLine?: (l: string) => void) => ctx.run.run("git", args, { cwd: ctx.buildpackCacheDir, env, ...(onLine ? { onLine } : {}) });
    const cached = fs.existsSync(path.join(dir, "bin"));
    try {
        if (!fs.existsSync(path.join(dir, ".git"))) await git(["init", "-q", dir]);
        await git(["-C", dir, "fetch", "-q", "--depth", "1", ...local, url, ref ?? "HEAD"]);
        await git(["-C", dir, "checkout", "-q", "--force", "--detach", "FETCH_HEAD"]);
        await git(["-C", dir, "clean", "-q", "-f", "-d", "-x"]);
    } catch (err) {
        if (!(err instanceof CommandFailedError) || err.timedOut) throw err;
        if (cached) {
            ctx.log.info(`Warning: could not fetch buildpack ${spec} (${err.tail.slice(-1)[0] ?? "git failed"}); using the copy fetched by an earlier build`);
            return dir;
        }
        throw new BuildError(`could not fetch buildpack ${spec}: check the URL${ref ? ` and that "${ref}" is a branch, tag or commit of it` : ""} (git ls-remote ${url}), then push again or change it with "dynoform buildpacks:set"`, err.tail);
    }
    let commit = "";
    await git(["-C", dir, "rev-parse", "--short", "HEAD"], (l) => (commit ||= l.trim())).catch(() => undefined);
    ctx.log.info(`Fetched buildpack ${spec}${commit ? ` (${commit})` : ""}`);
    return dir;
}
