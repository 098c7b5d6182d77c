// The API's errors as Heroku's Platform API writes them: `{"id": "...", "message": "..."}` with the
// status that goes with the id. Handlers throw ApiError; api_server.ts writes it.
import type * as http from "node:http";
import { isUserError } from "../errors";
import { FleetError } from "../fleet";

export const ERROR_STATUS = {
    bad_request: 400,
    unauthorized: 401,
    forbidden: 403,
    not_found: 404,
    method_not_allowed: 405,
    not_acceptable: 406,
    payload_too_large: 413,
    unsupported_media_type: 415,
    requested_range_not_satisfiable: 416,
    invalid_params: 422,
    rate_limit: 429,
    internal_error: 500,
    service_unavailable: 503,
} as const;

export type ApiErrorId = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
    readonly status: number;
    constructor(
        readonly id: ApiErrorId,
        message: string,
    ) {
        super(message);
        this.name = "ApiError";
        this.status = ERROR_STATUS[id];
    }
}

export const notFoundApp = (app: string) => new ApiError("not_found", `Couldn't find that app: ${app}. GET /apps lists the apps you may see.`);

/**
 * What a thrown error becomes: a verb's UserError is the caller's to fix (422, or 404 for an app
 * that is not there); a FleetError is a host that did not do its part (503); anything else is ours (500).
 */
export function toApiError(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    if (isUserError(err)) {
        const message = err.message.replace(/\s*\n\s*/g, " ");
        return new ApiError(/^Couldn't find that app/.test(message) ? "not_found" : "invalid_params", message);
    }
    if (err instanceof FleetError) return new ApiError("service_unavailable", err.message);
    return new ApiError("internal_error", `Internal error: ${(err as Error).message}. The change may not have completed: check GET /apps/{app}/releases and report this with the control host's logs.`);
}

export function sendError(res: http.ServerResponse, err: ApiError): void {
    if (res.headersSent) {
        res.destroy(err);
        return;
    }
    sendJson(res, err.status, { id: err.id, message: err.message });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
}
