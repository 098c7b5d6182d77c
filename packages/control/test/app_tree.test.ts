// Root's careful access to a tree the build user wrote: links are never followed out of it.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { escapingLinks, readAppFile, writeAppFile } from "../src/app_tree";
import { BuildError } from "../src/buildpacks/buildpack";

let root: string;
let outside: string;
beforeEach(() => {
    outside = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-tree-"));
    root = path.join(outside, "app");
    fs.mkdirSync(path.join(root, "lib"), { recursive: true });
    fs.writeFileSync(path.join(outside, "secret"), "secret\n");
});
afterEach(() => fs.rmSync(outside, { recursive: true, force: true }));

test("links that leave the app: absolute, .. past the root, through another link; links inside and dangling ones are fine", async () => {
    fs.symlinkSync("/etc/shadow", path.join(root, "abs"));
    fs.symlinkSync("../../secret", path.join(root, "lib", "up"));
    fs.symlinkSync("/", path.join(root, "b"));
    fs.symlinkSync("b/etc", path.join(root, "through"));
    fs.symlinkSync("lib", path.join(root, "inside"));
    fs.symlinkSync("lib/not-built-yet", path.join(root, "dangling"));
    expect(await escapingLinks(root)).toEqual([
        { rel: "abs", target: "/etc/shadow" },
        { rel: "b", target: "/" },
        { rel: "lib/up", target: "../../secret" },
        { rel: "through", target: "b/etc" },
    ]);
});

test("readAppFile never reads through a link, a fifo or a linked directory", async () => {
    fs.writeFileSync(path.join(root, "Procfile"), "web: x\n");
    expect(await readAppFile(root, "Procfile")).toBe("web: x\n");
    expect(await readAppFile(root, "missing")).toBeUndefined();
    fs.symlinkSync(path.join(outside, "secret"), path.join(root, "link"));
    await expect(readAppFile(root, "link")).rejects.toThrow(new BuildError("link is a symbolic link: commit the file itself"));
    fs.symlinkSync(outside, path.join(root, "dir"));
    await expect(readAppFile(root, "dir/secret")).rejects.toThrow(/^dir is a symbolic link/);
    require("node:child_process").execFileSync("mkfifo", [path.join(root, "fifo")]);
    await expect(readAppFile(root, "fifo")).rejects.toThrow("fifo is not a regular file: commit it as a file");
});

test("writeAppFile replaces a link instead of writing through it, and refuses a linked directory", async () => {
    fs.mkdirSync(path.join(root, ".profile.d"));
    fs.symlinkSync(path.join(outside, "secret"), path.join(root, ".profile.d", "nodejs.sh"));
    await writeAppFile(root, ".profile.d/nodejs.sh", "export X=1\n");
    expect(fs.readFileSync(path.join(outside, "secret"), "utf8")).toBe("secret\n");
    expect(fs.lstatSync(path.join(root, ".profile.d", "nodejs.sh")).isFile()).toBe(true);
    fs.symlinkSync(outside, path.join(root, ".heroku"));
    await expect(writeAppFile(root, ".heroku/node/bin/npm", "x")).rejects.toThrow(/^\.heroku is a symbolic link: the build writes into \.heroku\/, so commit it as a directory/);
    expect(fs.readdirSync(outside).sort()).toEqual(["app", "secret"]);
});
