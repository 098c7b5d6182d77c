import * as fs from "fs";
import * as path from "path";

export interface ServiceBinary {
    /** Absolute path of the built executable on this machine. */
    source: string;
    sha256: string;
}

/** The built SEA binary of packages/<pkg> (`npm run build:binaries`), with its checksum. */
export function serviceBinary(pkg: string, name: string): ServiceBinary {
    const source = path.resolve(__dirname, "..", "packages", pkg, "dist", name);
    const sumFile = `${source}.sha256`;
    if (!fs.existsSync(source) || !fs.existsSync(sumFile)) {
        throw new Error(`${name} is not built (${source} missing): run \`npm run build:binaries\` (npm start and npm test do it for you)`);
    }
    const sha256 = fs.readFileSync(sumFile, "utf8").trim().split(/\s+/)[0];
    return { source, sha256 };
}
