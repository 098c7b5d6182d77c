// Slugs: gzip tarballs served over HTTP by the control role. Downloaded once, sha256-verified,
// unpacked once into a read-only directory shared by every dyno that runs it, GC'd when unused.
//
// Layout: <dir>/<sha256>/            unpacked slug (read-only)
//         <dir>/.partial-<sha>-<rnd>.d  in-progress download+unpack, streamed through sha256 (becomes
//                                     <sha256>/ only once the whole download matched; removed on failure/GC)
// A Heroku slug has its app under ./app; when the tarball has a single top-level "app" directory,
// dynos run there, otherwise at the slug root.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import { parseSlugLayers, type SlugLayerRange, type SlugRef } from "@dynoform/contract";

/** layers.json: which unpacked slug holds the files of a layer (by the sha256 of its bytes). */
type LayerIndex = Record<string, { slug: string; path: string }>;

export class SlugError extends Error {}

const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

export class SlugStore {
  private readonly inflight = new Map<string, Promise<string>>();
  private layerIndex: LayerIndex;
  /** Slugs whose files an in-flight download will link: kept by gc until it is done. */
  private readonly pinned = new Map<string, number>();
  /** Where "slug <sha> ready in N ms" lines go (the agent: its stderr, i.e. the journal). */
  log: (line: string) => void = () => undefined;

  constructor(
    readonly dir: string,
    private readonly keep = 3,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    // traversable, not listable: a dyno cannot enumerate the other slugs on the host
    fs.chmodSync(dir, 0o711);
    try {
      this.layerIndex = JSON.parse(fs.readFileSync(path.join(dir, "layers.json"), "utf8")) as LayerIndex;
    } catch {
      this.layerIndex = {};
    }
  }

  /** Where the files of a layer already are (an unpacked slug that had it), if anywhere. */
  private layerSource(layer: SlugLayerRange): { slug: string; dir: string } | undefined {
    const known = this.layerIndex[layer.sha256];
    if (!known || known.path !== layer.path || !/^[0-9a-f]{64}$/.test(known.slug)) return undefined;
    const dir = path.join(this.dir, known.slug, known.path);
    try {
      return fs.lstatSync(dir).isDirectory() ? { slug: known.slug, dir } : undefined;
    } catch {
      return undefined;
    }
  }

  private rememberLayers(sha: string, layers: SlugLayerRange[]): void {
    if (layers.length === 0) return;
    for (const l of layers) this.layerIndex[l.sha256] = { slug: sha, path: l.path };
    for (const [k, v] of Object.entries(this.layerIndex)) if (!fs.existsSync(path.join(this.dir, v.slug))) delete this.layerIndex[k];
    const file = path.join(this.dir, "layers.json");
    const tmp = `${file}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(this.layerIndex), { mode: 0o600 });
      fs.renameSync(tmp, file);
    } catch {
      fs.rmSync(tmp, { force: true }); // only an optimisation: the next slug is unpacked in full
    }
  }

  /** Directory a slug's dynos run in (its cwd), when the slug is on disk. */
  appDir(sha256: string): string | undefined {
    const root = path.join(this.dir, sha256.toLowerCase());
    if (!fs.existsSync(root)) return undefined;
    const app = path.join(root, "app");
    try {
      const top = fs.readdirSync(root);
      if (top.length === 1 && top[0] === "app" && fs.statSync(app).isDirectory()) return app;
    } catch {
      return undefined;
    }
    return root;
  }

  /** Make a slug available on disk; resolves to its app directory. Throws SlugError on a bad slug. */
  prepare(slug: SlugRef): Promise<string> {
    const sha = String(slug.sha256 ?? "").toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(sha)) return Promise.reject(new SlugError(`slug sha256 must be 64 hex characters, got ${JSON.stringify(slug.sha256)}`));
    const ready = this.appDir(sha);
    if (ready) {
      touch(path.join(this.dir, sha));
      return Promise.resolve(ready);
    }
    let p = this.inflight.get(sha);
    if (!p) {
      p = this.fetchAndUnpack(slug.url, slug.token, sha, parseSlugLayers(slug.layers) ?? []).finally(() => this.inflight.delete(sha));
      this.inflight.set(sha, p);
    }
    return p;
  }

  private async fetchAndUnpack(url: string, token: string | undefined, sha: string, layers: SlugLayerRange[]): Promise<string> {
    const partial = path.join(this.dir, `.partial-${sha}-${crypto.randomBytes(4).toString("hex")}`);
    const root = `${partial}.d`;
    const reuse: { layer: SlugLayerRange; from: string }[] = [];
    const pinned: string[] = [];
    try {
      // Download, then hash and unpack in one pass into a private dir; it becomes the slug (and can
      // run) only once the whole download matched the sha256.
      fs.mkdirSync(root, { recursive: true, mode: 0o700 });
      const t0 = Date.now();
      for (const l of layers) {
        const from = this.layerSource(l);
        if (!from) continue;
        reuse.push({ layer: l, from: from.dir });
        this.pinned.set(from.slug, (this.pinned.get(from.slug) ?? 0) + 1);
        pinned.push(from.slug);
      }
      const { sha256: got, unpackError, bytes, skipped } = await downloadAndUnpack(url, token, root, DOWNLOAD_TIMEOUT_MS, reuse.map((r) => r.layer));
      if (got !== sha) {
        throw new SlugError(`slug checksum mismatch for ${url}: expected sha256 ${sha}, got ${got}; refusing to run it`);
      }
      for (const [i, r] of reuse.entries()) {
        if (skipped[i] !== r.layer.sha256) throw new SlugError(`slug checksum mismatch for ${url}: layer ${r.layer.path} at ${r.layer.offset} expected sha256 ${r.layer.sha256}, got ${skipped[i]}; refusing to run it`);
      }
      if (unpackError) throw new SlugError(`slug ${url} is not a valid gzip tarball: ${unpackError.message}`);
      for (const r of reuse) linkTree(r.from, path.join(root, r.layer.path));
      const t1 = Date.now();
      makeReadOnly(root, false);
      fs.chmodSync(root, 0o755);
      const final = path.join(this.dir, sha);
      fs.renameSync(root, final);
      fs.chmodSync(final, 0o555);
      this.rememberLayers(sha, layers);
      const linked = reuse.length ? ` (${reuse.map((r) => r.layer.path).join(", ")} linked from an unpacked slug)` : "";
      this.log(`slug ${sha.slice(0, 12)} ready in ${Date.now() - t0} ms: ${(bytes / 1048576).toFixed(1)} MiB downloaded, verified and unpacked in ${t1 - t0} ms${linked}, made read-only in ${Date.now() - t1} ms`);
      return this.appDir(sha)!;
    } finally {
      for (const s of pinned) {
        const n = (this.pinned.get(s) ?? 1) - 1;
        if (n > 0) this.pinned.set(s, n);
        else this.pinned.delete(s);
      }
      if (fs.existsSync(root)) removeTree(root);
    }
  }

  /** Remove unpacked slugs not in use, keeping the `keep` most recently prepared ones. */
  gc(inUse: Iterable<string>): string[] {
    const keep = new Set([...inUse].map((s) => s.toLowerCase()));
    const removed: string[] = [];
    let entries: string[];
    try {
      entries = fs.readdirSync(this.dir);
    } catch {
      return removed;
    }
    const slugs: { sha: string; mtime: number }[] = [];
    for (const e of entries) {
      const full = path.join(this.dir, e);
      if (e.startsWith(".partial-")) {
        const sha = e.slice(9, 73);
        if (!this.inflight.has(sha)) removeTree(full);
        continue;
      }
      if (/^[0-9a-f]{64}$/.test(e)) slugs.push({ sha: e, mtime: fs.statSync(full).mtimeMs });
    }
    slugs.sort((a, b) => b.mtime - a.mtime);
    let spare = this.keep;
    for (const s of slugs) {
      if (keep.has(s.sha) || this.inflight.has(s.sha) || this.pinned.has(s.sha)) continue;
      if (spare > 0) {
        spare--;
        continue;
      }
      removeTree(path.join(this.dir, s.sha));
      removed.push(s.sha);
    }
    return removed;
  }
}

type Unpacked = { sha256: string; bytes: number; unpackError?: Error; skipped: string[] };

/**
 * Fetch the slug at `url` and stream it through sha256 into a tar extraction under `root`. Resolves
 * with the sha256 of everything downloaded and the extraction's error, if any (a slug that does not
 * match its checksum is reported as such even when it is not a tarball either). Download errors throw.
 */
async function downloadAndUnpack(url: string, token: string | undefined, root: string, timeoutMs: number, skip: SlugLayerRange[] = []): Promise<Unpacked> {
  if (url.startsWith("file://")) return hashAndUnpack(fs.createReadStream(new URL(url)), url, root, skip);
  if (!/^https?:\/\//.test(url)) throw new SlugError(`slug url must be http(s):// or file://, got ${url}`);
  const file = `${root}.download`;
  try {
    await download(url, token, file, timeoutMs);
    return await hashAndUnpack(fs.createReadStream(file), url, root, skip);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/**
 * The whole response to `file` first, unpacked from there after: reading the response only as fast
 * as tar unpacks let the server's keep-alive timer close the connection under a body undici still
 * held ("terminated" on a 47 MB slug).
 */
async function download(url: string, token: string | undefined, file: string, timeoutMs: number): Promise<void> {
  try {
    const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>), fs.createWriteStream(file, { mode: 0o600 }));
  } catch (e) {
    const err = e as Error & { cause?: Error };
    throw new SlugError(`slug download from ${url} failed: ${err.message}${err.cause?.message ? ` (${err.cause.message})` : ""}`);
  }
}

/** sha256 over every byte of `source`, tar extraction of all but the `skip` layers (only hashed). */
async function hashAndUnpack(source: Readable, url: string, root: string, skip: SlugLayerRange[]): Promise<Unpacked> {
  const hash = crypto.createHash("sha256");
  const skipHashes = skip.map(() => crypto.createHash("sha256"));
  let bytes = 0;
  let unpackError: Error | undefined;
  const unpack = tar.x({ cwd: root, strict: true, preserveOwner: false });
  const unpacked = new Promise<void>((resolve) => {
    unpack.on("close", () => resolve());
    unpack.on("error", (e: Error) => {
      unpackError ??= e;
      resolve();
    });
  });
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk);
      const pos = bytes;
      bytes += chunk.length;
      // Bytes of a reused layer are hashed (to compare with the one unpacked before), not unpacked.
      let at = 0;
      while (at < chunk.length) {
        const abs = pos + at;
        const i = skip.findIndex((l) => abs >= l.offset && abs < l.offset + l.length);
        let end: number;
        if (i >= 0) {
          end = Math.min(chunk.length, skip[i].offset + skip[i].length - pos);
          skipHashes[i].update(chunk.subarray(at, end));
        } else {
          const next = Math.min(...skip.filter((l) => l.offset > abs).map((l) => l.offset), Infinity);
          end = Math.min(chunk.length, next - pos);
          if (!unpackError && !unpack.write(chunk.subarray(at, end))) await Promise.race([new Promise((r) => unpack.once("drain", r)), unpacked]);
        }
        at = end;
      }
    }
  } catch (e) {
    unpack.abort(e as Error);
    await unpacked;
    throw new SlugError(`slug download from ${url} failed: ${(e as Error).message}`);
  }
  if (!unpackError) {
    unpack.end();
    await unpacked;
  }
  return { sha256: hash.digest("hex"), bytes, skipped: skipHashes.map((h) => h.digest("hex")), ...(unpackError ? { unpackError } : {}) };
}

/** Recreate `src` at `dest`: directories made, files hard-linked (copied across filesystems), symlinks copied. */
function linkTree(src: string, dest: string): void {
  fs.mkdirSync(dest, { recursive: true, mode: 0o755 });
  for (const e of fs.readdirSync(src, { withFileTypes: true })) {
    const from = path.join(src, e.name);
    const to = path.join(dest, e.name);
    if (e.isDirectory()) linkTree(from, to);
    else if (e.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), to);
    else if (e.isFile()) {
      try {
        fs.linkSync(from, to);
      } catch (err) {
        if (!["EXDEV", "EPERM", "EMLINK"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
        fs.copyFileSync(from, to);
      }
    }
  }
}

/** Strip write bits everywhere (keep the top dir writable when asked, to rename it). */
function makeReadOnly(dir: string, includeTop: boolean): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) {
      makeReadOnly(full, true);
    } else {
      const mode = fs.statSync(full).mode & 0o777;
      fs.chmodSync(full, (mode & 0o555) | 0o444);
    }
  }
  if (includeTop) fs.chmodSync(dir, 0o555);
}

function removeTree(dir: string): void {
  const writable = (d: string) => {
    try {
      fs.chmodSync(d, 0o755);
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) writable(path.join(d, e.name));
    } catch {
      /* best effort */
    }
  };
  writable(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

function touch(p: string): void {
  const now = new Date();
  try {
    fs.utimesSync(p, now, now);
  } catch {
    /* read-only fs: fine */
  }
}
