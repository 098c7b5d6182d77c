import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { createSlug, formatSize, ignoreMatcher } from "../src/slug";
import { extractSlug, sha256File } from "./helpers/extract_slug";

let tmp: string;
beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-slug-"))));
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function makeApp(dir: string) {
    fs.mkdirSync(path.join(dir, "lib"), { recursive: true });
    fs.mkdirSync(path.join(dir, ".git", "objects"), { recursive: true });
    fs.mkdirSync(path.join(dir, "docs"), { recursive: true });
    fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
    fs.writeFileSync(path.join(dir, "package.json"), '{"name":"x"}');
    fs.writeFileSync(path.join(dir, "lib", "b.js"), "b");
    fs.writeFileSync(path.join(dir, "lib", "a.js"), "a");
    fs.writeFileSync(path.join(dir, ".git", "HEAD"), "ref");
    fs.writeFileSync(path.join(dir, "docs", "big.pdf"), "x".repeat(1000));
    fs.writeFileSync(path.join(dir, "bin", "run"), "#!/bin/sh\necho hi\n", { mode: 0o775 });
    fs.writeFileSync(path.join(dir, "secret.log"), "x");
    fs.writeFileSync(path.join(dir, ".slugignore"), "# comment\n/docs\n*.log\n");
    fs.symlinkSync("lib/a.js", path.join(dir, "main.js"));
}

test("tar.gz named by sha256; sorted; root-owned; modes normalized; .git and .slugignore'd paths left out", async () => {
    const app = path.join(tmp, "app");
    makeApp(app);
    const slug = await createSlug(app, path.join(tmp, "slugs"));
    expect(slug.path).toBe(path.join(tmp, "slugs", `${slug.sha256}.tgz`));
    expect(slug.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await sha256File(slug.path)).toBe(slug.sha256);
    expect(slug.size).toBe(fs.statSync(slug.path).size);
    const listing = execFileSync("tar", ["tvzf", slug.path, "--numeric-owner"]).toString().trim().split("\n");
    const names = listing.map((l) => l.split(/\s+/).slice(5).join(" "));
    expect(names).toEqual(["./", ".slugignore", "bin/", "bin/run", "lib/", "lib/a.js", "lib/b.js", "main.js -> lib/a.js", "package.json"]);
    for (const l of listing) expect(l.split(/\s+/)[1]).toBe("0/0");
    const mode = (name: string) => listing.find((l) => l.endsWith(name))!.split(/\s+/)[0];
    expect(mode("bin/run")).toBe("-rwxr-xr-x");
    expect(mode("lib/a.js")).toBe("-rw-r--r--");
    expect(mode("lib/")).toBe("drwxr-xr-x");
    expect(fs.readdirSync(path.join(tmp, "slugs"))).toEqual([`${slug.sha256}.tgz`]); // no temp files left
});

test("same tree + fixed mtime → same sha256 (reproducible)", async () => {
    const a = path.join(tmp, "a");
    const b = path.join(tmp, "b");
    makeApp(a);
    makeApp(b);
    const mtime = new Date("2026-01-01T00:00:00Z");
    const sa = await createSlug(a, path.join(tmp, "s1"), { mtime });
    const sb = await createSlug(b, path.join(tmp, "s2"), { mtime });
    expect(sa.sha256).toBe(sb.sha256);
});

test("extract verifies the checksum, then unpacks", async () => {
    const app = path.join(tmp, "app");
    makeApp(app);
    const slug = await createSlug(app, path.join(tmp, "slugs"));
    const out = path.join(tmp, "out");
    await extractSlug(slug.path, out, slug.sha256);
    expect(fs.readFileSync(path.join(out, "lib", "a.js"), "utf8")).toBe("a");
    expect(fs.readlinkSync(path.join(out, "main.js"))).toBe("lib/a.js");
    expect(fs.statSync(path.join(out, "bin", "run")).mode & 0o111).not.toBe(0);
    await expect(extractSlug(slug.path, path.join(tmp, "out2"), "0".repeat(64))).rejects.toThrow(/refusing to unpack/);
    expect(fs.existsSync(path.join(tmp, "out2"))).toBe(false);
});

test("layers: a vendored subtree is a cached gzip member; the slug is the same tar, and an unchanged layer is not compressed again", async () => {
    const app = path.join(tmp, "app");
    makeApp(app);
    const vendor = path.join(app, ".heroku", "node", "bin");
    fs.mkdirSync(vendor, { recursive: true });
    fs.writeFileSync(path.join(vendor, "node"), Buffer.alloc(200_000, 7), { mode: 0o755 });
    fs.symlinkSync("node", path.join(vendor, "nodejs"));
    const cache = path.join(tmp, "layers");
    const layers = [{ path: ".heroku/node", mtime: new Date("1985-10-26T08:15:00Z") }];
    const plain = await createSlug(app, path.join(tmp, "plain"));
    const first = await createSlug(app, path.join(tmp, "s1"), { layers, layerCacheDir: cache });
    const members = fs.readdirSync(cache);
    expect(members).toEqual([expect.stringMatching(/^[0-9a-f]{64}\.gz$/)]);
    const list = (file: string) => execFileSync("tar", ["tvzf", file, "--numeric-owner"]).toString().trim().split("\n").map((l) => l.split(/\s+/).slice(5).join(" "));
    expect(list(first.path)).toEqual(list(plain.path));
    expect(list(first.path)).toEqual(["./", ".heroku/", ".heroku/node/", ".heroku/node/bin/", ".heroku/node/bin/node", ".heroku/node/bin/nodejs -> node", ".slugignore", "bin/", "bin/run", "lib/", "lib/a.js", "lib/b.js", "main.js -> lib/a.js", "package.json"]);

    // Same runtime, new copy (new mtimes), changed app code: the cached member is reused as is.
    const layer = fs.readFileSync(path.join(cache, members[0]));
    fs.utimesSync(path.join(vendor, "node"), new Date(), new Date());
    fs.writeFileSync(path.join(app, "lib", "a.js"), "a2");
    const second = await createSlug(app, path.join(tmp, "s2"), { layers, layerCacheDir: cache });
    expect(fs.readdirSync(cache)).toEqual(members);
    expect(fs.readFileSync(second.path).includes(layer)).toBe(true);
    expect(second.layers).toEqual([{ path: ".heroku/node", offset: expect.any(Number), length: layer.length, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    const { offset } = second.layers[0];
    expect(fs.readFileSync(second.path).subarray(offset, offset + layer.length).equals(layer)).toBe(true);
    expect(first.layers).toEqual(second.layers);
    expect(plain.layers).toEqual([]);
    const out = path.join(tmp, "out");
    await extractSlug(second.path, out, second.sha256);
    expect(fs.readFileSync(path.join(out, "lib", "a.js"), "utf8")).toBe("a2");
    expect(fs.readFileSync(path.join(out, ".heroku", "node", "bin", "node")).equals(Buffer.alloc(200_000, 7))).toBe(true);
    expect(fs.readlinkSync(path.join(out, ".heroku", "node", "bin", "nodejs"))).toBe("node");

    // A changed runtime is a new member; a layer that ends the tar is followed by the end blocks.
    fs.appendFileSync(path.join(vendor, "node"), "x");
    const only = path.join(tmp, "only");
    fs.mkdirSync(path.join(only, ".heroku", "node"), { recursive: true });
    fs.writeFileSync(path.join(only, ".heroku", "node", "x"), "x");
    await createSlug(app, path.join(tmp, "s3"), { layers, layerCacheDir: cache });
    expect(fs.readdirSync(cache)).toHaveLength(2);
    const tail = await createSlug(only, path.join(tmp, "s4"), { layers, layerCacheDir: cache });
    expect(list(tail.path)).toEqual(["./", ".heroku/", ".heroku/node/", ".heroku/node/x"]);
    expect(fs.readdirSync(cache).filter((f) => !/^[0-9a-f]{64}\.gz$/.test(f))).toEqual([]); // no temp files
});

test("ignore patterns", () => {
    const m = ignoreMatcher(["/docs", "*.log", "tmp/", "spec/**/fixtures", "a?c"]);
    expect(m("docs")).toBe(true);
    expect(m("docs/x.pdf")).toBe(true);
    expect(m("lib/docs")).toBe(false);
    expect(m("x.log")).toBe(true);
    expect(m("deep/dir/x.log")).toBe(true);
    expect(m("tmp/cache/x")).toBe(true);
    expect(m("lib/tmp")).toBe(true);
    expect(m("spec/unit/fixtures/a.json")).toBe(true);
    expect(m("abc")).toBe(true);
    expect(m("package.json")).toBe(false);
});

test("sizes in Heroku's Done: line", () => {
    expect(formatSize(500)).toBe("500B");
    expect(formatSize(918 * 1024)).toBe("918K");
    expect(formatSize(12.3 * 1024 * 1024)).toBe("12.3M");
    expect(formatSize(1.25 * 1024 ** 3)).toBe("1.3G");
});
