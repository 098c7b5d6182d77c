// The built-in buildpacks in Heroku's detection order: Ruby, Python, Node.js, then Procfile-only.
// Python and Ruby are classic buildpacks (builtin_scripts.ts) written into each build's sandbox and
// run through the buildpack API like any third-party one; Node.js and Procfile-only run in-process.
import * as fs from "node:fs";
import * as path from "node:path";
import { Buildpack } from "./buildpack";
import { apiBuildpack } from "./buildpack_api";
import { PYTHON_COMPILE, PYTHON_DETECT, PYTHON_RELEASE, RUBY_COMPILE, RUBY_DETECT, RUBY_RELEASE } from "./builtin_scripts";

const SCRIPTS = {
    ruby: { "bin/detect": RUBY_DETECT, "bin/compile": RUBY_COMPILE, "bin/release": RUBY_RELEASE },
    python: { "bin/detect": PYTHON_DETECT, "bin/compile": PYTHON_COMPILE, "bin/release": PYTHON_RELEASE },
} as const;

export type ScriptBuildpackName = keyof typeof SCRIPTS;

/** Write the buildpack's files into `buildpacksDir` (root's, in the sandbox): read-only to the build user. */
export async function installBuiltin(buildpacksDir: string, name: ScriptBuildpackName): Promise<string> {
    const dir = path.join(buildpacksDir, name);
    if (fs.existsSync(path.join(dir, "bin", "compile"))) return dir;
    await fs.promises.mkdir(path.join(dir, "bin"), { recursive: true, mode: 0o755 });
    for (const [rel, text] of Object.entries(SCRIPTS[name])) {
        await fs.promises.writeFile(path.join(dir, rel), text, { mode: 0o755 });
        await fs.promises.chmod(path.join(dir, rel), 0o755);
    }
    return dir;
}

/** The venv is the bulk of a Python slug and the same push after push: a cached slug layer. */
const LAYERS: Record<ScriptBuildpackName, string[]> = { python: [".heroku/python"], ruby: [] };

export function scriptBuildpack(name: ScriptBuildpackName, stack: string, layerCacheDir?: string): Buildpack {
    return apiBuildpack(
        { name: `heroku/${name}`, id: `heroku/${name}`, dir: (ctx) => installBuiltin(ctx.buildpacksDir, name), layers: LAYERS[name], ...(layerCacheDir ? { layerCacheDir } : {}) },
        stack,
    );
}
