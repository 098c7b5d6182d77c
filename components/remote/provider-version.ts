import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/**
 * sha256 of this directory's TypeScript sources. Every remote resource carries it as an input:
 * dynamic providers run the code stored in the state, so without a changed input an edited
 * provider would never reach resources that already exist.
 */
export function sourceHash(directory: string): string {
    const hash = createHash("sha256");
    const files = fs.readdirSync(directory).filter((file) => file.endsWith(".ts")).sort();
    for (const file of files) {
        hash.update(file).update("\0").update(fs.readFileSync(path.join(directory, file))).update("\0");
    }
    return hash.digest("hex");
}

export const providerVersion = sourceHash(__dirname);
