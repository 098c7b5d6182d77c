// A request's body, read whole up to a limit: JSON for every endpoint but a build's upload.
import type * as http from "node:http";
import { ApiError } from "./api_error";

/** 1 MiB: far above any config-vars PATCH, far below what would hurt the control host. */
export const JSON_BODY_LIMIT = 1024 * 1024;

export async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) throw tooLarge(limit);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > limit) throw tooLarge(limit);
        chunks.push(chunk);
    }
    return Buffer.concat(chunks);
}

function tooLarge(limit: number): ApiError {
    return new ApiError("payload_too_large", `Request body is larger than ${limit} bytes: send less (config vars, formation and domains fit well within it).`);
}

/** The JSON object of the body; an empty body is `{}`. Anything else is a 400 saying where it broke. */
export async function readJsonObject(req: http.IncomingMessage, limit = JSON_BODY_LIMIT): Promise<Record<string, unknown>> {
    const text = (await readBody(req, limit)).toString("utf8");
    if (text.trim() === "") return {};
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (err) {
        throw new ApiError("bad_request", `Request body is not valid JSON (${(err as Error).message}): send a JSON object with Content-Type: application/json.`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ApiError("bad_request", "Request body must be a JSON object, e.g. {\"name\": \"myapp\"}.");
    return value as Record<string, unknown>;
}
