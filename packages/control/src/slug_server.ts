// The slug HTTP server agents download slugs from (`dynoform-control serve`, private address).
//
//   GET|HEAD /health                          200 {"ok":true}, open
//   GET|HEAD /slugs/<app>/<sha256>.tgz        the slug, with `Authorization: Bearer <its token>`
//
// Answers, in this order: any other path 404; any other method 405; no or a wrong token 403 (before
// the filesystem is looked at, so a 403 says nothing about whether the slug exists); a valid token
// for a slug that is not on disk 404. See slug_access.ts for the token.
import * as fs from "node:fs";
import * as http from "node:http";
import { parseSlugPath, slugAuthorized } from "./slug_access";
import { StatePaths } from "./state_paths";

export interface SlugServerOptions {
    /** The state root: slugs/<app>/<sha256>.tgz under it. */
    paths: StatePaths;
    /** The control role's slug-signing key; without one every slug is refused. */
    signingKey: string | undefined;
}

function answer(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), ...headers });
    res.end(body);
}

function slugRequestHandler(opts: SlugServerOptions): http.RequestListener {
    return (req, res) => {
        const url = req.url ?? "";
        const readOnly = req.method === "GET" || req.method === "HEAD";
        if (url === "/health" && readOnly) {
            res.writeHead(200, { "content-type": "application/json" });
            res.end('{"ok":true}');
            return;
        }
        const slug = parseSlugPath(url);
        if (!slug) return answer(res, 404, "not found\n");
        if (!readOnly) return answer(res, 405, "method not allowed\n", { allow: "GET, HEAD" });
        if (!slugAuthorized(opts.signingKey, slug.app, slug.sha256, req.headers.authorization)) {
            return answer(res, 403, "forbidden: a slug needs its token\n");
        }
        const file = opts.paths.slugFile(slug.app, slug.sha256);
        fs.stat(file, (err, st) => {
            if (err || !st.isFile()) return answer(res, 404, "no such slug\n");
            res.writeHead(200, { "content-type": "application/gzip", "content-length": st.size });
            if (req.method === "HEAD") {
                res.end();
                return;
            }
            fs.createReadStream(file)
                .on("error", () => res.destroy())
                .pipe(res);
        });
    };
}

export function createSlugServer(opts: SlugServerOptions): http.Server {
    return http.createServer(slugRequestHandler(opts));
}
