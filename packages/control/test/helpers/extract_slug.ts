// Unpacking a slug as a dyno host's agent does with a downloaded one (packages/agent/src/slug_store.ts):
// its sha256 checked first. Tests look inside slugs with it.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";

export async function sha256File(file: string): Promise<string> {
    const hash = createHash("sha256");
    await pipeline(fs.createReadStream(file), hash);
    return hash.digest("hex");
}

/** Unpack a slug after checking its sha256. */
export async function extractSlug(file: string, destDir: string, expectedSha256: string): Promise<void> {
    const actual = await sha256File(file);
    if (actual !== expectedSha256) throw new Error(`slug ${file} has sha256 ${actual}, expected ${expectedSha256}: refusing to unpack`);
    await fs.promises.mkdir(destDir, { recursive: true });
    await tar.extract({ file, cwd: destDir, preserveOwner: false, strict: true });
}
