// A source tarball holds the app at its top, or under one top folder as GitHub's archive links make
// them (`node-js-sample-master/package.json`): that folder's contents become the app, as Heroku's
// builds take them. Pushed trees (git, a directory) are taken as they are.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BuildSandbox, type BuildSource } from "../src/build_sandbox";

let dir: string;
let sandbox: BuildSandbox | undefined;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "source-top-"))));
afterEach(async () => {
    await sandbox?.remove();
    sandbox = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
});

/** A tree of `files` ("a/b": content; ending in "/": an empty directory). */
function tree(files: Record<string, string>): string {
    const root = fs.mkdtempSync(path.join(dir, "tree-"));
    for (const [name, content] of Object.entries(files)) {
        const p = path.join(root, name);
        if (name.endsWith("/")) fs.mkdirSync(p, { recursive: true });
        else {
            fs.mkdirSync(path.dirname(p), { recursive: true });
            fs.writeFileSync(p, content);
        }
    }
    return root;
}

/** `tar -czf - -C root <members>` into a file. */
function tarball(root: string, members: string[] = ["."], flags = "-czf"): string {
    const file = path.join(dir, `source-${fs.readdirSync(dir).length}.tgz`);
    fs.writeFileSync(file, execFileSync("tar", [flags, "-", "-C", root, ...members]));
    return file;
}

/** What the sandbox's app/ holds after unpacking `source`: every path, sorted. */
async function unpacked(source: BuildSource): Promise<string[]> {
    sandbox = await BuildSandbox.create(path.join(dir, "work"), undefined);
    await sandbox.unpack(source);
    const list = (d: string, prefix = ""): string[] =>
        fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [`${prefix}${e.name}/`, ...list(path.join(d, e.name), `${prefix}${e.name}/`)] : [`${prefix}${e.name}`]));
    return list(sandbox.appDir).sort();
}

test.each([
    ["the app at the top, as ./", { Procfile: "web: x", "lib/a": "a" }, ["."], ["Procfile", "lib/", "lib/a"]],
    ["the app at the top, by name", { Procfile: "web: x", "lib/a": "a" }, ["Procfile", "lib"], ["Procfile", "lib/", "lib/a"]],
    ["one top folder", { "app-main/Procfile": "web: x", "app-main/.env": "A=1", "app-main/lib/a": "a" }, ["app-main"], [".env", "Procfile", "lib/", "lib/a"]],
    ["one top folder under ./", { "app-main/Procfile": "web: x", "app-main/lib/a": "a" }, ["."], ["Procfile", "lib/", "lib/a"]],
    ["two top folders", { "a/Procfile": "web: x", "b/x": "b" }, ["."], ["a/", "a/Procfile", "b/", "b/x"]],
    ["a top folder beside a top file", { "app/Procfile": "web: x", README: "r" }, ["."], ["README", "app/", "app/Procfile"]],
    ["a top folder beside a hidden file", { "app/Procfile": "web: x", ".slugignore": "x" }, ["."], [".slugignore", "app/", "app/Procfile"]],
    ["one top file", { Procfile: "web: x" }, ["."], ["Procfile"]],
])("%s", async (_what, files, members, expected) => {
    expect(await unpacked({ tarball: tarball(tree(files), members) })).toEqual(expected);
});

test("GitHub's archive (git archive --prefix, with its pax header of the commit) is unpacked from its top folder", async () => {
    const repo = tree({ Procfile: "web: x\n", "lib/a": "a\n" });
    const git = (...args: string[]) => execFileSync("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args]);
    git("init", "-q");
    git("add", ".");
    git("commit", "-q", "-m", "one");
    const file = path.join(dir, "master.tar.gz");
    fs.writeFileSync(file, git("archive", "--format=tar.gz", "--prefix=node-js-sample-master/", "HEAD"));
    expect(await unpacked({ tarball: file })).toEqual(["Procfile", "lib/", "lib/a"]);
});

test("the app/ a top folder becomes keeps app/'s own mode (0700), whatever the tarball gave the folder", async () => {
    const root = tree({ "top/Procfile": "web: x" });
    fs.chmodSync(path.join(root, "top"), 0o755);
    expect(await unpacked({ tarball: tarball(root, ["top"]) })).toEqual(["Procfile"]);
    expect(fs.statSync(sandbox!.appDir).mode & 0o777).toBe(0o700);
});

test("a plain (not gzip'd) tar with one top folder is unpacked from it too", async () => {
    expect(await unpacked({ tarball: tarball(tree({ "top/Procfile": "web: x" }), ["top"], "-cf") })).toEqual(["Procfile"]);
});

test("a top folder that is a symbolic link is not followed: the link stays as it is", async () => {
    const root = tree({ "real/Procfile": "web: x" });
    fs.symlinkSync("/etc", path.join(root, "top"));
    expect(await unpacked({ tarball: tarball(root, ["top"]) })).toEqual(["top"]);
});

test("a pushed directory with one folder is taken as it is", async () => {
    expect(await unpacked({ dir: tree({ "web/Procfile": "web: x" }) })).toEqual(["web/", "web/Procfile"]);
});
