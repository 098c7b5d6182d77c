// Heroku's buildpack API, run as the build user:
//
//   bin/detect BUILD_DIR                      exit 0: this buildpack applies; stdout: the name shown
//   bin/compile BUILD_DIR CACHE_DIR ENV_DIR   builds the tree in place; its output is the push's
//   bin/release BUILD_DIR                     YAML: default_process_types, config_vars
//   export                                    sourced before the next buildpack (multi-buildpack)
//
// ENV_DIR holds one file per config var (the app's own); the process environment carries only the
// build's own variables and what earlier buildpacks exported, as on Heroku. `config_vars` from
// bin/release become defaults the dyno's environment may override (.profile.d/000-buildpack-config-vars.sh).
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { CommandFailedError } from "../command_runner";
import { makeAppDir, readAppFile, writeAppFile } from "../app_tree";
import { Buildpack, BuildError, CompileContext, CompileResult, DetectContext } from "./buildpack";
import { ProcessTypes } from "../procfile";
import { RUNTIME_MTIME } from "./node";

/** Where the buildpack's files are, once its `prepare` ran (a built-in's are written, a git URL's cloned). */
export interface ApiBuildpackSource {
    /** Shown in errors ("heroku/python", the URL). */
    name: string;
    /** Stored in the release: the name or URL as given. */
    id: string;
    dir(ctx: DetectContext): Promise<string>;
    /** Subtrees the buildpack leaves that rarely change (a venv): cached slug layers, in `layerCacheDir`. */
    layers?: string[];
    layerCacheDir?: string;
}

/** Variables every buildpack command gets (no config vars: those are in ENV_DIR). */
export function buildpackEnv(ctx: Pick<CompileContext, "home" | "tmp" | "exports">, stack: string): Record<string, string> {
    const passed = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"];
    return {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        LANG: "C.UTF-8",
        HOME: ctx.home,
        TMPDIR: ctx.tmp,
        STACK: stack,
        // The host's trust store includes the CAs the control host was told to trust (update-ca-certificates).
        ...(fs.existsSync(SYSTEM_CA_BUNDLE) ? { SSL_CERT_FILE: SYSTEM_CA_BUNDLE } : {}),
        ...Object.fromEntries(passed.filter((k) => process.env[k]).map((k) => [k, process.env[k]!])),
        ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
        ...(ctx.exports ?? {}),
    };
}

export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
const EXPORT_MARK = "DYNOFORM_EXPORTED_ENV:";
const SHELL_NOISE = new Set(["PWD", "OLDPWD", "SHLVL", "_"]);

function commandFailure(what: string, err: unknown): never {
    if (err instanceof CommandFailedError) {
        if (err.timedOut) throw new BuildError(err.message, err.tail);
        throw new BuildError(`${what} exited with status ${err.exitCode ?? "(killed)"}`, err.tail);
    }
    throw err;
}

/** Parse bin/release's YAML; a BuildError naming the buildpack when it is not what the API says. */
export function parseRelease(name: string, text: string): { processTypes: ProcessTypes; configVars: Record<string, string> } {
    if (text.trim() === "") return { processTypes: {}, configVars: {} };
    let doc: unknown;
    try {
        doc = yaml.load(text);
    } catch (err) {
        throw new BuildError(`bin/release of buildpack ${name} printed invalid YAML (${(err as Error).message.split("\n")[0]}): fix the buildpack's bin/release`);
    }
    if (doc === null || doc === undefined) return { processTypes: {}, configVars: {} };
    if (typeof doc !== "object" || Array.isArray(doc)) throw new BuildError(`bin/release of buildpack ${name} must print a YAML mapping (default_process_types:, config_vars:)`);
    const strings = (key: string): Record<string, string> => {
        const v = (doc as Record<string, unknown>)[key];
        if (v === undefined || v === null) return {};
        if (typeof v !== "object" || Array.isArray(v)) throw new BuildError(`bin/release of buildpack ${name}: ${key} must be a mapping of names to strings`);
        return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
    };
    return { processTypes: strings("default_process_types"), configVars: strings("config_vars") };
}

/** sh: `[ -n "${K+x}" ] || export K='v'` for each var: the release's defaults, which config vars override. */
export function configVarsProfile(vars: Record<string, string>): string {
    const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
    const lines = Object.entries(vars)
        .filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
        .map(([k, v]) => `[ -n "\${${k}+x}" ] || export ${k}=${quote(v)}`);
    return `# bin/release config_vars: defaults the app's config vars override\n${lines.join("\n")}\n`;
}

/** Run `export` (as the build user) and keep what it changed: the next buildpacks' environment. */
async function readExports(ctx: CompileContext, file: string, env: Record<string, string>): Promise<Record<string, string>> {
    let encoded = "";
    try {
        await ctx.run.run("/bin/bash", ["-c", `. "$1" >&2 || exit 1; printf '%s' '${EXPORT_MARK}'; env -0 | base64 -w0; echo`, "export", file], {
            cwd: ctx.dir,
            env,
            onLine: (l) => (l.startsWith(EXPORT_MARK) ? (encoded = l.slice(EXPORT_MARK.length)) : undefined),
        });
    } catch (err) {
        commandFailure(`sourcing ${file}`, err);
    }
    const out: Record<string, string> = {};
    for (const entry of Buffer.from(encoded, "base64").toString("utf8").split("\0")) {
        const i = entry.indexOf("=");
        if (i <= 0) continue;
        const [k, v] = [entry.slice(0, i), entry.slice(i + 1)];
        if (!SHELL_NOISE.has(k) && env[k] !== v) out[k] = v;
    }
    return out;
}

export function apiBuildpack(source: ApiBuildpackSource, stack: string): Buildpack {
    return {
        name: source.name,
        id: source.id,
        async detect(ctx) {
            const dir = await source.dir(ctx);
            const detect = path.join(dir, "bin", "detect");
            if (!fs.existsSync(detect)) throw new BuildError(`buildpack ${source.name} has no bin/detect: is it a Heroku classic buildpack (bin/detect, bin/compile, bin/release)?`);
            const lines: string[] = [];
            try {
                await ctx.run.run(detect, [ctx.dir], { cwd: dir, env: buildpackEnv(ctx, stack), onLine: (l) => lines.push(l) });
            } catch (err) {
                if (err instanceof CommandFailedError && !err.timedOut) return false;
                throw err;
            }
            return lines.find((l) => l.trim() !== "")?.trim() || source.name;
        },
        async compile(ctx) {
            const dir = await source.dir(ctx);
            const env = buildpackEnv(ctx, stack);
            try {
                await ctx.run.run(path.join(dir, "bin", "compile"), [ctx.dir, ctx.cacheDir, ctx.envDir], { cwd: dir, env, onLine: (l) => ctx.log.sink(l) });
            } catch (err) {
                commandFailure(`bin/compile of buildpack ${source.name}`, err);
            }
            const result: CompileResult = { defaultProcessTypes: {} };
            if (fs.existsSync(path.join(dir, "bin", "release"))) {
                const out: string[] = [];
                try {
                    await ctx.run.run(path.join(dir, "bin", "release"), [ctx.dir], { cwd: dir, env, onLine: (l) => out.push(l) });
                } catch (err) {
                    commandFailure(`bin/release of buildpack ${source.name}`, err);
                }
                const release = parseRelease(source.name, out.join("\n"));
                result.defaultProcessTypes = release.processTypes;
                if (Object.keys(release.configVars).length > 0) {
                    await makeAppDir(ctx.dir, ".profile.d", 0o755, ctx.owner);
                    const file = ".profile.d/000-buildpack-config-vars.sh";
                    const before = (await readAppFile(ctx.dir, file)) ?? "";
                    await writeAppFile(ctx.dir, file, before + configVarsProfile(release.configVars), 0o644, ctx.owner);
                }
            }
            const layers = [];
            for (const rel of source.layerCacheDir ? (source.layers ?? []) : []) {
                const st = await fs.promises.lstat(path.join(ctx.dir, rel)).catch(() => undefined);
                if (st?.isDirectory()) layers.push({ path: rel, mtime: RUNTIME_MTIME });
            }
            if (layers.length > 0) {
                result.slugLayers = layers;
                result.layerCacheDir = source.layerCacheDir;
            }
            const exportFile = path.join(dir, "export");
            if (fs.existsSync(exportFile)) result.exports = await readExports(ctx, exportFile, env);
            return result;
        },
    };
}
