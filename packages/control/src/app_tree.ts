// What root may do inside an app tree the build user owns. Root only calls these while the build's
// sandbox is sealed and no process of the build user is alive (build_sandbox.ts), so what lstat
// sees stays true; still, nothing here follows a symbolic link: a pushed `Procfile -> /etc/shadow`
// or `.profile.d/nodejs.sh -> /etc/sudoers.d/x` must not make root read or write outside the app.
import * as fs from "node:fs";
import * as path from "node:path";
import { BuildError } from "./buildpacks/buildpack";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/** A link whose target leaves the tree: absolute, `..` past the root, or through another link. */
export interface EscapingLink {
    rel: string;
    target: string;
}

function inside(root: string, p: string): boolean {
    const rel = path.relative(root, p);
    return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** Every symbolic link under `root` whose target is outside it (sorted walk, lstat only). */
export async function escapingLinks(root: string): Promise<EscapingLink[]> {
    const realRoot = await fs.promises.realpath(root);
    const out: EscapingLink[] = [];
    const walk = async (relDir: string): Promise<void> => {
        for (const name of (await fs.promises.readdir(path.join(root, relDir))).sort()) {
            const rel = relDir ? `${relDir}/${name}` : name;
            const abs = path.join(root, rel);
            const st = await fs.promises.lstat(abs);
            if (st.isDirectory()) await walk(rel);
            else if (st.isSymbolicLink()) {
                const target = await fs.promises.readlink(abs);
                let escapes = path.isAbsolute(target) || !inside(root, path.resolve(path.dirname(abs), target));
                if (!escapes) {
                    // A relative target can still leave through another link (a -> b/.., b -> /).
                    const real = await fs.promises.realpath(abs).catch(() => undefined); // dangling: stays a dangling link
                    escapes = real !== undefined && !inside(realRoot, real);
                }
                if (escapes) out.push({ rel, target });
            }
        }
    };
    await walk("");
    return out;
}

/** Refuse a pushed tree with links that leave it (BuildError naming them and the fix). */
export async function refuseEscapingLinks(root: string): Promise<void> {
    const links = await escapingLinks(root);
    if (links.length === 0) return;
    const first = links[0];
    const more = links.length > 1 ? ` (and ${links.length - 1} more: ${links.slice(1, 4).map((l) => l.rel).join(", ")}${links.length > 4 ? ", ..." : ""})` : "";
    throw new BuildError(`${first.rel} is a symbolic link to "${first.target}", outside the app${more}: commit the file itself (links must stay inside the app)`);
}

/**
 * The content of a regular file `rel` under `root`, or undefined when there is none. A link, a
 * fifo or a directory there is a BuildError (never opened through, never blocked on).
 */
export async function readAppFile(root: string, rel: string): Promise<string | undefined> {
    let fh: fs.promises.FileHandle;
    try {
        await checkParents(root, rel);
        fh = await fs.promises.open(path.join(root, rel), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") return undefined;
        if (code === "ELOOP") throw new BuildError(`${rel} is a symbolic link: commit the file itself`);
        throw err;
    }
    try {
        if (!(await fh.stat()).isFile()) throw new BuildError(`${rel} is not a regular file: commit it as a file`);
        return await fh.readFile("utf8");
    } finally {
        await fh.close();
    }
}

/** Parents of `rel` must be real directories (a missing one is fine: nothing to read there). */
async function checkParents(root: string, rel: string): Promise<void> {
    const parts = rel.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
        const p = parts.slice(0, i).join("/");
        const st = await fs.promises.lstat(path.join(root, p)).catch(() => undefined);
        if (!st) return;
        if (!st.isDirectory()) throw new BuildError(`${p} is ${st.isSymbolicLink() ? "a symbolic link" : "not a directory"}: the build writes into ${p}/, so commit it as a directory (or not at all)`);
    }
}

export interface Owner {
    uid: number;
    gid: number;
}

/** mkdir -p `rel` under `root` (new directories handed to `owner`), refusing a component that is a link or not a directory. */
export async function makeAppDir(root: string, rel: string, mode = 0o755, owner?: Owner): Promise<string> {
    const parts = rel.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
        const p = parts.slice(0, i).join("/");
        const abs = path.join(root, p);
        const st = await fs.promises.lstat(abs).catch(() => undefined);
        if (!st) {
            await fs.promises.mkdir(abs, { mode });
            if (owner) await fs.promises.lchown(abs, owner.uid, owner.gid);
        } else if (!st.isDirectory()) throw new BuildError(`${p} is ${st.isSymbolicLink() ? "a symbolic link" : "not a directory"}: the build writes into ${p}/, so commit it as a directory (or not at all)`);
    }
    return path.join(root, ...parts);
}

/** Replace `rel` under `root` with a new regular file (whatever was there, a link included, is removed, never followed). */
export async function writeAppFile(root: string, rel: string, content: string, mode = 0o644, owner?: Owner): Promise<void> {
    const dir = await makeAppDir(root, path.dirname(rel) === "." ? "" : path.dirname(rel), 0o755, owner);
    const file = path.join(dir, path.basename(rel));
    await fs.promises.rm(file, { recursive: true, force: true });
    const fh = await fs.promises.open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    try {
        await fh.writeFile(content);
        await fh.chmod(mode);
        if (owner) await fh.chown(owner.uid, owner.gid);
    } finally {
        await fh.close();
    }
}
