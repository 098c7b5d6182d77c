// Slugs: the built app as one tar.gz, addressed by its sha256.
//
// Format (the contract with dynoform-agent): gzip'd tar; entry names are relative to the app root
// ("./", "package.json", ".heroku/node/bin/node", ...) — unpack into the release's app dir.
// Every entry is owned by uid/gid 0, directories 0755, files 0755 if any execute bit was set else
// 0644, symlinks kept as symlinks; entries in sorted order so equal trees make equal tars.
// `.git` is never included; `.slugignore` patterns (Heroku's) are honoured.
//
// Layers: the gzip stream may have several members (RFC 1952 allows it; gunzip, GNU tar and
// node-tar read them as one stream). A subtree named in `layers` (the Node buildpack's vendored
// runtime, ~120 MB) is its own member, cached in `layerCacheDir` under the sha256 of its tar bytes:
// an unchanged runtime is tarred and hashed (cheap) but not compressed again (the slow part).
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { createHash, randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Readable, Transform, Writable } from "node:stream";
import * as tar from "tar";
import type { SlugLayerRange } from "@dynoform/contract";
import { fsyncDir } from "./atomic_file";
import { readAppFile } from "./app_tree";
import { slugFileName } from "./state_paths";

export interface SlugInfo {
    /** Absolute path of the slug: <destDir>/<sha256>.tgz */
    path: string;
    sha256: string;
    size: number;
    /** The layers' gzip members in the slug (empty without layers). */
    layers: SlugLayerRange[];
}

export interface SlugOptions {
    /** Set every entry's mtime (reproducible slugs). Default: keep the files' own mtimes. */
    mtime?: Date;
    /** Extra ignore patterns, added to those of `.slugignore`. */
    ignore?: string[];
    /** Subtrees kept as cached gzip members (see the top of this file). Need `layerCacheDir`. */
    layers?: SlugLayer[];
    /** Where layer members are cached (shared by all apps): <sha256 of the layer's tar bytes>.gz */
    layerCacheDir?: string;
    /** gzip level of what is compressed (default 6). */
    level?: number;
}

export interface SlugLayer {
    /** Directory relative to the app root, e.g. ".heroku/node". */
    path: string;
    /** mtime of every entry of the layer (so equal contents make equal bytes whatever the copy's times). */
    mtime?: Date;
}

/** Layer members kept in the cache (the newest by use). */
export const LAYERS_TO_KEEP = 6;
const EOF_BLOCKS = 1024; // a tar ends with two zero 512-byte blocks

const ALWAYS_IGNORED = [".git"];

/** Turn a .slugignore pattern into a matcher over paths relative to the app root ("a/b/c"). */
export function ignoreMatcher(patterns: string[]): (rel: string) => boolean {
    const regexes = patterns
        .map((p) => p.trim())
        .filter((p) => p !== "" && !p.startsWith("#"))
        .map((p) => {
            const anchored = p.startsWith("/") || p.replace(/\/$/, "").includes("/");
            const body = p.replace(/^\//, "").replace(/\/$/, "");
            let re = "";
            for (let i = 0; i < body.length; i++) {
                const c = body[i];
                if (c === "*" && body[i + 1] === "*") {
                    re += ".*";
                    i++;
                } else if (c === "*") re += "[^/]*";
                else if (c === "?") re += "[^/]";
                else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
            }
            // A match on a directory covers everything under it.
            return new RegExp(anchored ? `^${re}(/.*)?$` : `(^|/)${re}(/.*)?$`);
        });
    return (rel) => regexes.some((r) => r.test(rel));
}

/** All paths under `root` (relative, sorted, parents before children), minus ignored ones. */
export async function listSlugEntries(root: string, ignored: (rel: string) => boolean): Promise<string[]> {
    const out: string[] = [];
    const walk = async (relDir: string) => {
        const names = (await fs.promises.readdir(path.join(root, relDir))).sort();
        for (const name of names) {
            const rel = relDir ? `${relDir}/${name}` : name;
            if (ignored(rel)) continue;
            const st = await fs.promises.lstat(path.join(root, rel));
            if (st.isDirectory()) {
                out.push(rel);
                await walk(rel);
            } else if (st.isFile() || st.isSymbolicLink()) {
                out.push(rel);
            } // sockets, fifos, devices: never part of a slug
        }
    };
    await walk("");
    return out;
}

async function readSlugignore(root: string): Promise<string[]> {
    // The build user wrote this tree: a .slugignore that is a link or a fifo is never opened through.
    return ((await readAppFile(root, ".slugignore")) ?? "").split(/\r?\n/);
}

/** Entries split into runs: plain ones and layer subtrees (contiguous, since the walk is sorted depth-first). */
function segmentsOf(entries: string[], layers: SlugLayer[]): { entries: string[]; layer?: SlugLayer }[] {
    const segments: { entries: string[]; layer?: SlugLayer }[] = [];
    for (const rel of entries) {
        const layer = layers.find((l) => rel === l.path || rel.startsWith(l.path + "/"));
        const last = segments[segments.length - 1];
        if (last && last.layer === layer) last.entries.push(rel);
        else segments.push({ entries: [rel], ...(layer ? { layer } : {}) });
    }
    return segments;
}

/** Drops the last `n` bytes of a stream (the tar end blocks of a segment that is not the last). */
function dropTail(n: number): Transform {
    let held: Buffer = Buffer.alloc(0);
    return new Transform({
        transform(chunk: Buffer, _enc, cb) {
            held = held.length ? Buffer.concat([held, chunk]) : chunk;
            if (held.length <= n) return cb();
            const out = held.subarray(0, held.length - n);
            held = Buffer.from(held.subarray(held.length - n));
            cb(null, out);
        },
        flush(cb) {
            if (held.length !== n || held.some((b) => b !== 0)) return cb(new Error("tar stream does not end with its end blocks"));
            cb();
        },
    });
}

export async function createSlug(srcDir: string, destDir: string, opts: SlugOptions = {}): Promise<SlugInfo> {
    await fs.promises.mkdir(destDir, { recursive: true });
    const ignored = ignoreMatcher([...ALWAYS_IGNORED, ...(await readSlugignore(srcDir)), ...(opts.ignore ?? [])]);
    const entries = ["./", ...(await listSlugEntries(srcDir, ignored))];
    const level = opts.level ?? 6;
    const layers = opts.layerCacheDir ? (opts.layers ?? []).map((l) => ({ ...l, path: l.path.replace(/^\.\/|\/+$/g, "") })) : [];
    const segments = segmentsOf(entries, layers);
    const tarOf = (list: string[], mtime: Date | undefined): Readable =>
        tar.create(
            {
                cwd: srcDir,
                portable: true,
                noDirRecurse: true,
                follow: false,
                ...(mtime ? { mtime } : {}),
                onWriteEntry(written) {
                    // Header fields are plain properties on the entry; the published types omit some.
                    const entry = written as unknown as { type: string; uid: number; gid: number; mode?: number };
                    entry.uid = 0;
                    entry.gid = 0;
                    if (entry.type === "Directory") entry.mode = 0o755;
                    else if (entry.type !== "SymbolicLink") entry.mode = (entry.mode ?? 0) & 0o111 ? 0o755 : 0o644;
                },
            },
            list,
        ) as unknown as Readable;
    // Every segment but the last loses its end blocks; layers always do (their bytes must not depend
    // on where they sit), and then the end blocks follow as a member of their own.
    async function* members(): AsyncGenerator<Buffer> {
        let emitted = 0;
        for (let i = 0; i < segments.length; i++) {
            const seg = segments[i];
            const last = i === segments.length - 1;
            const mtime = seg.layer?.mtime ?? opts.mtime;
            if (!seg.layer) {
                const parts: (Readable | Transform)[] = [tarOf(seg.entries, mtime)];
                if (!last) parts.push(dropTail(EOF_BLOCKS));
                for await (const c of compressed(parts, level)) {
                    emitted += c.length;
                    yield c;
                }
                continue;
            }
            const ref = { path: seg.layer.path, offset: emitted, length: 0, sha256: "" };
            const memberHash = createHash("sha256");
            for await (const c of layerMember(() => [tarOf(seg.entries, mtime), dropTail(EOF_BLOCKS)], opts.layerCacheDir!, level)) {
                memberHash.update(c);
                ref.length += c.length;
                emitted += c.length;
                yield c;
            }
            layerRefs.push({ ...ref, sha256: memberHash.digest("hex") });
            if (last) yield zlib.gzipSync(Buffer.alloc(EOF_BLOCKS), { level });
        }
    }
    const tmp = path.join(destDir, `.slug-${process.pid}-${randomBytes(4).toString("hex")}.tgz.tmp`);
    const hash = createHash("sha256");
    let size = 0;
    const layerRefs: SlugLayerRange[] = [];
    const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            size += chunk.length;
            cb(null, chunk);
        },
    });
    try {
        await pipeline(Readable.from(members()), counter, fs.createWriteStream(tmp, { mode: 0o644 }));
        const fh = await fs.promises.open(tmp, "r");
        await fh.sync();
        await fh.close();
        const sha256 = hash.digest("hex");
        const final = path.join(destDir, slugFileName(sha256));
        await fs.promises.rename(tmp, final);
        await fsyncDir(destDir);
        return { path: final, sha256, size, layers: layerRefs };
    } finally {
        await fs.promises.rm(tmp, { force: true });
    }
}

/** One gzip member of what `parts` (a tar stream and its filters) produce. */
async function* compressed(parts: (Readable | Transform)[], level: number, sha?: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
    const chain: NodeJS.ReadWriteStream[] = [...(parts as unknown as NodeJS.ReadWriteStream[])];
    if (sha) chain.push(new Transform({ transform: (c: Buffer, _e, cb) => (sha.update(c), cb(null, c)) }));
    const gz = zlib.createGzip({ level });
    const piped = pipeline([...chain, gz]).catch((e: Error) => gz.destroy(e));
    yield* gz as AsyncIterable<Buffer>;
    await piped;
}

/** A layer's gzip member: from the cache when its tar bytes are known, else compressed (and cached). */
async function* layerMember(tarStream: () => (Readable | Transform)[], cacheDir: string, level: number): AsyncGenerator<Buffer> {
    const keyHash = createHash("sha256");
    await pipeline(...(tarStream() as [Readable, Transform]), new Writable({ write: (c: Buffer, _e, cb) => (keyHash.update(c), cb()) }));
    const key = keyHash.digest("hex");
    const cached = path.join(cacheDir, `${key}.gz`);
    try {
        const fd = await fs.promises.open(cached, "r");
        try {
            const now = new Date();
            await fs.promises.utimes(cached, now, now).catch(() => undefined); // recently used: kept by the GC
            yield* fd.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>;
        } finally {
            await fd.close();
        }
        return;
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    // Not cached: compress it into the slug and into the cache (kept only if the bytes still hash to the key).
    await fs.promises.mkdir(cacheDir, { recursive: true });
    const tmp = path.join(cacheDir, `.${key}.${randomBytes(4).toString("hex")}.tmp`);
    const out = fs.createWriteStream(tmp, { mode: 0o644 });
    const check = createHash("sha256");
    try {
        for await (const c of compressed(tarStream(), level, check)) {
            if (!out.write(c)) await new Promise<void>((r) => out.once("drain", () => r()));
            yield c;
        }
        await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
        if (check.digest("hex") === key) {
            await fs.promises.rename(tmp, cached);
            await gcLayers(cacheDir, cached);
        }
    } finally {
        out.destroy();
        await fs.promises.rm(tmp, { force: true });
    }
}

/** Keep the LAYERS_TO_KEEP most recently used layer members. */
async function gcLayers(cacheDir: string, keep: string): Promise<void> {
    const names = (await fs.promises.readdir(cacheDir)).filter((n) => /^[0-9a-f]{64}\.gz$/.test(n));
    const stats = await Promise.all(names.map(async (n) => ({ file: path.join(cacheDir, n), mtime: (await fs.promises.stat(path.join(cacheDir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
    stats.sort((a, b) => b.mtime - a.mtime);
    for (const s of stats.slice(LAYERS_TO_KEEP)) if (s.file !== keep) await fs.promises.rm(s.file, { force: true });
}

/** "918K", "12.3M", "1.2G": the size in Heroku's "Done: 12.3M" line. */
export function formatSize(bytes: number): string {
    if (bytes < 1024) return `${bytes}B`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)}K`;
    if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)}M`;
    return `${(bytes / 1024 / 1024 / 1024).toFixed(1)}G`;
}
