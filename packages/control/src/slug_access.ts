// Who may download a slug from the control host, and the one way its URL is made.
//
// A slug is served at <slugBaseUrl>/<app>/<sha256>.tgz (the server's route: /slugs/<app>/<sha256>.tgz).
// Its token is HMAC-SHA256(slug-signing key, "dynoform-slug-v1\n<app>\n<sha256>"), hex: bound to one
// app and one slug, so a dyno host can fetch exactly the slugs the control role sent it, and a dyno
// that learns another app's slug path (unit properties name it) gets 403. The agent sends the token as
// `Authorization: Bearer <token>`, never in the URL: URLs appear in error messages, agent status and
// push output, headers do not. The URL and the token are made from (app, sha256) each time desired
// state goes to an agent, never stored in a release, so releases made before tokens existed work
// unchanged and a new key or base URL reaches every release at its next rollout.
import { createHmac, timingSafeEqual } from "node:crypto";
import { APP_NAME, type SlugRef } from "@dynoform/contract";

const ROUTE = /^\/slugs\/([^/]+)\/([0-9a-f]{64})\.tgz$/;
const TOKEN = /^[0-9a-f]{64}$/;

/** The slug a request path names (exactly /slugs/<app>/<sha256>.tgz, nothing else), if any. */
export function parseSlugPath(requestPath: string): { app: string; sha256: string } | undefined {
    const m = ROUTE.exec(requestPath);
    return m && APP_NAME.test(m[1]) ? { app: m[1], sha256: m[2] } : undefined;
}

export function slugUrl(baseUrl: string, app: string, sha256: string): string {
    return `${baseUrl.replace(/\/+$/, "")}/${app}/${sha256}.tgz`;
}

export function slugToken(key: string, app: string, sha256: string): string {
    return createHmac("sha256", key).update(`dynoform-slug-v1\n${app}\n${sha256}`).digest("hex");
}

/** Whether an Authorization header carries this slug's token. No key configured: nothing does. */
export function slugAuthorized(key: string | undefined, app: string, sha256: string, authorization: string | undefined): boolean {
    if (!key) return false;
    const m = /^bearer +(\S+)$/i.exec(authorization ?? ""); // the scheme is case-insensitive (RFC 9110)
    if (!m || !TOKEN.test(m[1])) return false;
    return timingSafeEqual(Buffer.from(m[1], "hex"), Buffer.from(slugToken(key, app, sha256), "hex"));
}

export interface SlugAccess {
    /** <slugBaseUrl>/<app>/<sha256>.tgz is where agents reach the slug server (http://10.0.0.1:5080/slugs). */
    baseUrl: string;
    /** No key: no token is sent (and the slug server refuses every slug). */
    signingKey?: string;
}

/** What an agent gets of a slug: where it is, its token, its checksum and its layers. */
export function agentSlugRef(access: SlugAccess, app: string, slug: Pick<SlugRef, "sha256" | "layers">): SlugRef {
    return {
        url: slugUrl(access.baseUrl, app, slug.sha256),
        sha256: slug.sha256,
        ...(access.signingKey ? { token: slugToken(access.signingKey, app, slug.sha256) } : {}),
        ...(slug.layers?.length ? { layers: slug.layers } : {}),
    };
}
