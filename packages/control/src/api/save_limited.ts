// Writing a source tarball to the control host's disk, from an upload or a source_blob URL, never past
// the size the edge would take in one request (the caller's limit).
import * as fs from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ApiError } from "./api_error";

export function tooLarge(limit: number): ApiError {
    return new ApiError("payload_too_large", `The source tarball is larger than ${limit} bytes: leave out what the build does not need (node_modules, .git, build output).`);
}

/** Copies `from` into `file` (made 0600), failing past `limit` bytes (a partial file is the caller's to remove). */
export async function saveLimited(from: AsyncIterable<Uint8Array>, file: string, limit: number): Promise<void> {
    let size = 0;
    async function* counted() {
        for await (const chunk of from) {
            size += chunk.length;
            if (size > limit) throw tooLarge(limit);
            yield chunk;
        }
    }
    await pipeline(Readable.from(counted()), fs.createWriteStream(file, { mode: 0o600 }));
}
