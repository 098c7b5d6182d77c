// What every dashboard response and request goes through: security headers, cookies, form bodies
// (size-limited, urlencoded only), redirects, and the clear answer for each refusal.
import type { IncomingMessage, ServerResponse } from "node:http";
import { SafeHtml } from "./html";

/** No inline script or style, nothing from another origin, no framing: the pages' whole policy. */
export const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Forms carry a key and a value at most: anything bigger is refused before it is read. */
export const MAX_FORM_BYTES = 64 * 1024;

export class HttpProblem extends Error {
    constructor(readonly status: number, message: string) {
        super(message);
        this.name = "HttpProblem";
    }
}

function securityHeaders(res: ServerResponse): void {
    res.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Referrer-Policy", "same-origin");
    res.setHeader("Cache-Control", "no-store");
}

export function sendHtml(res: ServerResponse, status: number, page: SafeHtml): void {
    const body = Buffer.from(page.text);
    securityHeaders(res);
    res.writeHead(status, { "Content-Type": "text/html; charset=utf-8", "Content-Length": body.length });
    res.end(body);
}

export function sendText(res: ServerResponse, status: number, contentType: string, text: string, cacheable = false): void {
    const body = Buffer.from(text);
    securityHeaders(res);
    if (cacheable) res.setHeader("Cache-Control", "public, max-age=300");
    res.writeHead(status, { "Content-Type": contentType, "Content-Length": body.length });
    res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
    sendText(res, status, "application/json; charset=utf-8", JSON.stringify(value));
}

/** Post/Redirect/Get: every form answers with a 303 to the page that shows its result. */
export function redirect(res: ServerResponse, location: string): void {
    securityHeaders(res);
    res.writeHead(303, { Location: location, "Content-Length": 0 });
    res.end();
}

/** The request came over TLS: directly, or through the edge's nginx, which sets X-Forwarded-Proto. */
export function isTls(req: IncomingMessage): boolean {
    // A forged "https" only makes the cookie stricter (Secure), never looser.
    return (req.socket as { encrypted?: boolean }).encrypted === true || req.headers["x-forwarded-proto"] === "https";
}

export function parseCookies(header: string | undefined): Map<string, string> {
    const out = new Map<string, string>();
    for (const part of (header ?? "").split(";")) {
        const eq = part.indexOf("=");
        if (eq <= 0) continue;
        const name = part.slice(0, eq).trim();
        if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
    }
    return out;
}

/** `value` undefined clears the cookie. HttpOnly and SameSite=Strict always; Secure over TLS. */
export function setCookie(res: ServerResponse, name: string, value: string | undefined, secure: boolean): void {
    const attrs = [`${name}=${value ?? ""}`, "Path=/", "HttpOnly", "SameSite=Strict", ...(secure ? ["Secure"] : []), ...(value === undefined ? ["Max-Age=0"] : [])];
    res.appendHeader("Set-Cookie", attrs.join("; "));
}

/** The urlencoded body of a form; anything else, or more than MAX_FORM_BYTES, is an HttpProblem. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
    const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    if (type !== "application/x-www-form-urlencoded") throw new HttpProblem(415, "The dashboard takes forms only (application/x-www-form-urlencoded): use the page's buttons, or the API for anything else");
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > MAX_FORM_BYTES) throw new HttpProblem(413, `The form is larger than ${MAX_FORM_BYTES / 1024} KiB: config values that large belong in a file, not an environment variable`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_FORM_BYTES) throw new HttpProblem(413, `The form is larger than ${MAX_FORM_BYTES / 1024} KiB: config values that large belong in a file, not an environment variable`);
        chunks.push(chunk as Buffer);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}
