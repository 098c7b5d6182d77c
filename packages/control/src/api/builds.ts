// POST /apps/{app}/builds: deploy a source tarball, from a URL (`{"source_blob": {"url": ...}}`, as
// Heroku's) or uploaded as the body (Content-Type application/gzip). The answer comes at once with
// the pending build and its output_stream_url; the build then runs as a push does (deployPush: the
// app's build user unpacks the tarball, the same buildpacks, release phase and rollout). The URL is
// fetched from inside the private network, so only from public addresses (source_blob_fetch.ts):
// checked before the build is accepted, and again, hop by hop, as it is fetched.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ApiError } from "./api_error";
import type { Build, BuildRegistry } from "./build_registry";
import type { Route, RouteContext } from "./route";
import { header } from "./route";
import { one } from "./shapes";
import { saveLimited } from "./save_limited";
import { checkSourceUrl, fetchSourceBlob, PUBLIC_ONLY, SourceUrlError } from "./source_blob_fetch";

/** As the edge's client_max_body_size (templates/nginx/nginx.conf). */
export const UPLOAD_LIMIT = 100 * 1024 * 1024;
/** How long an output_stream_url may be opened: a build's deadline (15 min) with room to spare. */
export const OUTPUT_URL_TTL_MS = 60 * 60_000;
const DOWNLOAD_TIMEOUT_MS = 5 * 60_000;
const TARBALL_TYPES = ["application/gzip", "application/x-gzip", "application/x-tar", "application/octet-stream"];

export function buildJson(b: Build, outputUrl: string) {
    return {
        id: b.id,
        app: { name: b.app },
        status: b.status,
        output_stream_url: outputUrl,
        source_blob: { url: b.sourceUrl ?? null, version: b.version ?? null },
        release: b.release !== undefined ? { version: b.release } : null,
        user: { email: b.user },
        created_at: b.createdAt,
        updated_at: b.updatedAt,
    };
}

function outputUrl(ctx: RouteContext, id: string): string {
    return ctx.baseUrl() + ctx.signer.sign(`/build-output/${id}`, OUTPUT_URL_TTL_MS);
}

interface SourceBlob {
    url?: string;
    version?: string;
}

function sourceBlob(body: Record<string, unknown>): SourceBlob {
    const blob = body.source_blob;
    if (typeof blob !== "object" || blob === null) throw new ApiError("invalid_params", `Send {"source_blob": {"url": "https://.../source.tgz"}}, or upload the tarball as the body with Content-Type: application/gzip.`);
    const { url, version } = blob as Record<string, unknown>;
    if (typeof url !== "string" || url === "") throw new ApiError("invalid_params", `source_blob.url must be an http(s) URL of a .tar.gz of your app's files, e.g. https://example.com/source.tgz`);
    if (version !== undefined && (typeof version !== "string" || !/^[\w.-]{1,64}$/.test(version))) throw new ApiError("invalid_params", `source_blob.version must be a short name of the source (a commit: letters, digits, "._-"), e.g. "1a2b3c4"`);
    return { url, ...(version ? { version: version as string } : {}) };
}

/** The URL's refusal as the caller sees it: why, and the upload that needs no URL. */
async function checkedSourceUrl(ctx: RouteContext, url: string): Promise<void> {
    try {
        await checkSourceUrl(url, ctx.deps.sourcePolicy ?? PUBLIC_ONLY);
    } catch (err) {
        if (!(err instanceof SourceUrlError)) throw err;
        const upload = `curl -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/gzip' --data-binary @source.tgz ${ctx.baseUrl()}/apps/${ctx.params.app}/builds`;
        throw new ApiError("invalid_params", `source_blob.url must be a public http(s) URL: ${err.message}. Upload the tarball as the body instead: ${upload}`);
    }
}

/** Fetches (for a URL), builds and releases in the background, writing lines to the build's output. */
async function runBuild(ctx: RouteContext, builds: BuildRegistry, build: Build, tarball: string, dir: string): Promise<void> {
    const out = (l: string) => builds.line(build, l);
    try {
        if (build.sourceUrl) {
            out("-----> Fetching source...");
            await fetchSourceBlob(build.sourceUrl, tarball, { limit: ctx.deps.uploadLimit ?? UPLOAD_LIMIT, timeoutMs: DOWNLOAD_TIMEOUT_MS, policy: ctx.deps.sourcePolicy ?? PUBLIC_ONLY });
        }
        const commit = build.version ?? build.id.replace(/-/g, "");
        const ok = await ctx.deps.deploy(build.app, { tarball }, commit, build.user, out);
        const release = ok ? (await ctx.deps.store.currentRelease(build.app))?.version : undefined;
        builds.finish(build, ok ? "succeeded" : "failed", release);
        await ctx.deps.accounts.audit({ user: build.user, via: ctx.principal.via, app: build.app, action: "deploy", detail: ok ? `build ${build.id} released v${release}` : `build ${build.id} failed` });
    } catch (err) {
        out(` !     ${(err as Error).message}`);
        out(" !     Build failed: the previous release is still serving");
        builds.finish(build, "failed");
    } finally {
        await fs.promises.rm(dir, { recursive: true, force: true });
    }
}

async function startBuild(ctx: RouteContext) {
    const app = ctx.params.app;
    const type = (header(ctx.req, "content-type") ?? "application/json").split(";")[0].trim().toLowerCase();
    const upload = TARBALL_TYPES.includes(type);
    if (!upload && type !== "application/json") throw new ApiError("unsupported_media_type", `Content-Type ${type} is not taken here: send JSON {"source_blob": {"url": ...}}, or the tarball itself as application/gzip`);
    const blob: SourceBlob = upload ? {} : sourceBlob(await ctx.json());
    if (blob.url) await checkedSourceUrl(ctx, blob.url);
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "dynoform-api-build-"));
    const tarball = path.join(dir, "source.tgz");
    try {
        if (upload) await saveLimited(ctx.req, tarball, ctx.deps.uploadLimit ?? UPLOAD_LIMIT);
    } catch (err) {
        await fs.promises.rm(dir, { recursive: true, force: true });
        throw err;
    }
    const build = ctx.builds.start(app, ctx.principal.user, blob);
    void runBuild(ctx, ctx.builds, build, tarball, dir);
    return { status: 201, body: buildJson(build, outputUrl(ctx, build.id)) };
}

/** The build's lines so far, then each new one, until it ends. */
async function streamOutput(ctx: RouteContext): Promise<undefined> {
    const build = ctx.builds.get(ctx.params.id);
    if (!build) throw new ApiError("not_found", "Couldn't find that build: its output is kept until the control role restarts; GET /apps/{app}/releases shows what it released.");
    const { res } = ctx;
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" });
    let sent = 0;
    await new Promise<void>((resolve) => {
        const flush = () => {
            // Lines dropped from the front of a very long log shift the index: never resend.
            const lines = build.lines.slice(Math.min(sent, build.lines.length));
            sent += lines.length;
            if (lines.length) res.write(lines.join("\n") + "\n");
            if (build.status !== "pending") {
                stop();
                resolve();
            }
        };
        const stop = ctx.builds.watch(build.id, flush);
        res.once("close", () => {
            stop();
            resolve();
        });
        flush();
    });
    res.end();
    return undefined;
}

export function buildRoutes(): Route[] {
    return [
        {
            method: "POST",
            path: "/apps/{app}/builds",
            access: "operate",
            summary: "Build and release a source tarball: from source_blob.url (a public http(s) URL), or uploaded as the body (application/gzip). Answers the pending build with its output_stream_url.",
            body: { type: "object", required: ["source_blob"], properties: { source_blob: { type: "object", required: ["url"], properties: { url: { type: "string" }, version: { type: "string" } } } } },
            response: { status: 201, schema: one("build") },
            handle: startBuild,
        },
        {
            method: "GET",
            path: "/apps/{app}/builds/{id}",
            access: "read",
            summary: "One build started by the API: its status and, once released, its release.",
            response: { status: 200, schema: one("build") },
            async handle(ctx) {
                const build = ctx.builds.get(ctx.params.id);
                if (!build || build.app !== ctx.params.app) throw new ApiError("not_found", `Couldn't find that build of ${ctx.params.app}: builds are kept until the control role restarts.`);
                return { status: 200, body: buildJson(build, outputUrl(ctx, build.id)) };
            },
        },
        {
            method: "GET",
            path: "/build-output/{id}",
            access: "signed-url",
            summary: "The stream an output_stream_url names: the build's output as text/plain lines, until it ends.",
            response: { status: 200, contentType: "text/plain" },
            handle: streamOutput,
        },
    ];
}

