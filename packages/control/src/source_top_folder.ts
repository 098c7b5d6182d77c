// A source tarball of the builds API holds the app at its top, or under one top folder as GitHub's
// archive links make them (`node-js-sample-master/package.json`, which Heroku's own build docs use):
// Heroku builds the contents of that folder. Done after the build user's `tar -x`, by root while the
// sandbox is sealed (no process of the build user alive to swap what is renamed), by renames only:
// nothing is read, followed or copied, and a top "folder" that is a symbolic link is left as it is.
import * as fs from "node:fs";
import * as path from "node:path";

/** When `appDir` holds one directory and nothing else, that directory becomes `appDir`; its name, or undefined. */
export async function liftTopFolder(appDir: string): Promise<string | undefined> {
    const entries = await fs.promises.readdir(appDir);
    if (entries.length !== 1) return undefined;
    const top = entries[0];
    if (!(await fs.promises.lstat(path.join(appDir, top))).isDirectory()) return undefined;
    const aside = `${appDir}.unpacked`;
    await fs.promises.rename(appDir, aside);
    await fs.promises.rename(path.join(aside, top), appDir);
    await fs.promises.rmdir(aside);
    // As the app/ root made: the tarball's mode for its folder (0755 from GitHub) would let other users in.
    await fs.promises.chmod(appDir, 0o700);
    return top;
}
