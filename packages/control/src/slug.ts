// Slugs: the built app as one tar.gz, addressed by its sha256.
//
// Format (the contract with dynoform-agent): gzip'd tar; entry names are relative to the app root
// ("./", "package.json", ".heroku/node/bin/node", ...) — unpack into the release's app dir.
// Every entry is owned by uid/gid 0, directories 0755, files 0755 if any execute bit was set else
// 0644, symlinks kept as symlinks; entries in sorted order so equal trees make equal tars.
// `.git` is never included; `.slugignore` patterns (Heroku's) are honoured.
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import * as tar from "tar";
import { fsyncDir } from "./atomic_file";

export interface SlugInfo {
    /** Absolute path of the slug: <destDir>/<sha256>.tgz */
    path: string;
    sha256: string;
    size: number;
    /** Entries in the tarball (dirs, files, links). */
    entries: number;
}

export interface SlugOptions {
    /** Set every entry's mtime (reproducible slugs). Default: keep the files' own mtimes. */
    mtime?: Date;
    /** Extra ignore patterns, added to those of `.slugignore`. */
    ignore?: string[];
}

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
    try {
        return (await fs.promises.readFile(path.join(root, ".slugignore"), "utf8")).split(/\r?\n/);
    } catch {
        return [];
    }
}

/** Tar + gzip `srcDir` into `<destDir>/<sha256>.tgz` (written to a temp name, renamed when complete). */
export async function createSlug(srcDir: string, destDir: string, opts: SlugOptions = {}): Promise<SlugInfo> {
    await fs.promises.mkdir(destDir, { recursive: true });
    const ignored = ignoreMatcher([...ALWAYS_IGNORED, ...(await readSlugignore(srcDir)), ...(opts.ignore ?? [])]);
    const entries = await listSlugEntries(srcDir, ignored);
    const tmp = path.join(destDir, `.slug-${process.pid}-${randomBytes(4).toString("hex")}.tgz.tmp`);
    const hash = createHash("sha256");
    let size = 0;
    const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            size += chunk.length;
            cb(null, chunk);
        },
    });
    const pack = tar.create(
        {
            gzip: { level: 6 },
            cwd: srcDir,
            portable: true,
            noDirRecurse: true,
            follow: false,
            ...(opts.mtime ? { mtime: opts.mtime } : {}),
            onWriteEntry(written) {
                // Header fields are plain properties on the entry; the published types omit some.
                const entry = written as unknown as { type: string; uid: number; gid: number; mode?: number };
                entry.uid = 0;
                entry.gid = 0;
                if (entry.type === "Directory") entry.mode = 0o755;
                else if (entry.type !== "SymbolicLink") entry.mode = (entry.mode ?? 0) & 0o111 ? 0o755 : 0o644;
            },
        },
        ["./", ...entries],
    );
    try {
        await pipeline(pack, counter, fs.createWriteStream(tmp, { mode: 0o644 }));
        const fh = await fs.promises.open(tmp, "r");
        await fh.sync();
        await fh.close();
        const sha256 = hash.digest("hex");
        const final = path.join(destDir, `${sha256}.tgz`);
        await fs.promises.rename(tmp, final);
        await fsyncDir(destDir);
        return { path: final, sha256, size, entries: entries.length + 1 };
    } finally {
        await fs.promises.rm(tmp, { force: true });
    }
}

export async function sha256File(file: string): Promise<string> {
    const hash = createHash("sha256");
    await pipeline(fs.createReadStream(file), hash);
    return hash.digest("hex");
}

/** Unpack a slug after checking its sha256 (what the agent does with a downloaded slug). */
export async function extractSlug(file: string, destDir: string, expectedSha256: string): Promise<void> {
    const actual = await sha256File(file);
    if (actual !== expectedSha256) throw new Error(`slug ${file} has sha256 ${actual}, expected ${expectedSha256}: refusing to unpack`);
    await fs.promises.mkdir(destDir, { recursive: true });
    await tar.extract({ file, cwd: destDir, preserveOwner: false, strict: true });
}

/** "918K", "12.3M", "1.2G": the size in Heroku's "Done: 12.3M" line. */
export function formatSize(bytes: number): string {
    if (bytes < 1024) return `${bytes}B`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)}K`;
    if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)}M`;
    return `${(bytes / 1024 / 1024 / 1024).toFixed(1)}G`;
}
