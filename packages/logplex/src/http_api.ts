// The log router's HTTP API (packages/logplex/README.md), on its private address:
//   POST   /v1/lines                      a batch of lines (a sender or the control role): the
//                                          compact format (LOG_BATCH_V2) or NDJSON
//   GET    /v1/apps/:app/logs             recent lines, then (tail=1) live ones, Heroku's format
//   GET    /v1/apps/:app/drains           the app's drains
//   POST   /v1/apps/:app/drains           add one ({"url": ..., "ca": ...}): tried first
//   DELETE /v1/apps/:app/drains?drain=    remove one by URL or token
//   DELETE /v1/apps/:app                  forget an app (its lines and drains)
//   GET    /health
import http from "node:http";
import { ACCEPT_POST_HEADER, checkAppName, LOG_BATCH_NDJSON, LOG_BATCH_V2, LOG_STREAM_HEADER, parseLogQuery, parseStreamId, ValidationError, type LogQuery } from "@dynoform/contract";
import type { Auth, Caller } from "./auth";
import { DrainCheckError } from "./drain_check";
import { parseBatch } from "./ingest_batch";
import { compareLines, herokuLine, herokuTimestamp, overflowMessage, type StoredLine } from "./line_format";
import type { LogRouter } from "./log_router";

export interface ApiLimits {
  /** largest `POST /v1/lines` body */
  maxBatchBytes: number;
  /** lines a reader may ask for (the store's size) */
  linesPerApp: number;
  /** unsent bytes a tail subscriber may hold before its lines are dropped (and counted in an L10 line) */
  tailBacklogBytes: number;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function createApi(router: LogRouter, auth: Auth, limits: ApiLimits): http.Server {
  const server = http.createServer((req, res) => {
    handle(router, auth, limits, req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : e instanceof ValidationError || e instanceof DrainCheckError ? 422 : 500;
      const message = status === 500 ? "internal error" : (e as Error).message;
      if (status === 500) process.stderr.write(`dynoform-logplex: ${req.method} ${req.url?.split("?")[0]}: ${(e as Error).stack ?? String(e)}\n`);
      if (res.headersSent) res.destroy();
      else reply(res, status, { error: message });
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.requestTimeout = 120_000;
  return server;
}

async function handle(router: LogRouter, auth: Auth, limits: ApiLimits, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://logplex");
  const method = req.method ?? "GET";
  if (url.pathname === "/health" && method === "GET") return reply(res, 200, { ok: true });
  const caller = auth.caller(req);
  if (!caller) throw new HttpError(401, "Unauthorized: send Authorization: Bearer <token> (the control token, or this sender's own token)");
  if (url.pathname === "/v1/lines") {
    if (method !== "POST") throw new HttpError(405, "use POST /v1/lines");
    return ingest(router, caller, limits, req, res);
  }
  if (caller.kind !== "control") throw new HttpError(403, "Forbidden: a sender's token may only post lines (POST /v1/lines)");
  const m = /^\/v1\/apps\/([^/]+)(\/logs|\/drains)?$/.exec(url.pathname);
  if (!m) throw new HttpError(404, `no such endpoint ${method} ${url.pathname}`);
  const app = checkAppName(decodeURIComponent(m[1]));
  const sub = m[2] ?? "";
  if (sub === "/logs" && method === "GET") return logs(router, app, parseLogQuery(url.searchParams, limits.linesPerApp), limits, req, res);
  if (sub === "/drains" && method === "GET") return reply(res, 200, router.drains.list(app));
  if (sub === "/drains" && method === "POST") return reply(res, 201, await router.drains.add(app, parseJson(await readBody(req, 128 * 1024))));
  if (sub === "/drains" && method === "DELETE") {
    const which = url.searchParams.get("drain") ?? "";
    if (!router.drains.remove(app, which)) throw new HttpError(404, `no drain ${JSON.stringify(which)} on ${app}: list them with drains`);
    return reply(res, 200, { removed: which });
  }
  if (sub === "" && method === "DELETE") {
    router.removeApp(app);
    return reply(res, 200, { removed: app });
  }
  throw new HttpError(405, `no such endpoint ${method} ${url.pathname}`);
}

async function ingest(router: LogRouter, caller: Caller, limits: ApiLimits, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const header = parseStreamId(req.headers[LOG_STREAM_HEADER]);
  // Streams are the sender's own: its name comes from its token, not from what it says.
  const stream = header ? `${caller.kind === "sender" ? caller.name : "control"}/${header}` : "";
  const format = batchFormat(req.headers["content-type"]);
  // Every answer lists the formats taken: a sender switches to the compact one once it sees it here.
  res.setHeader(ACCEPT_POST_HEADER, `${LOG_BATCH_V2}, ${LOG_BATCH_NDJSON}`);
  const body = await readBody(req, limits.maxBatchBytes);
  const { lines, ack } = parseBatch(body, format);
  const { stored, duplicates } = router.ingest(stream, lines, format === "v2" ? body : undefined);
  reply(res, 200, { ...ack, stored, duplicates });
}

/** The batch's format from its Content-Type; none (or text/plain, as curl sends) is NDJSON, as the first senders' was. */
function batchFormat(contentType: string | undefined): "v2" | "ndjson" {
  const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (type === LOG_BATCH_V2) return "v2";
  if (["", LOG_BATCH_NDJSON, "application/json", "text/plain", "application/x-www-form-urlencoded"].includes(type)) return "ndjson";
  throw new HttpError(415, `Content-Type ${type} is not a batch format: use ${LOG_BATCH_V2} or ${LOG_BATCH_NDJSON}`);
}

function logs(router: LogRouter, app: string, q: LogQuery, limits: ApiLimits, req: http.IncomingMessage, res: http.ServerResponse): void {
  const keep = (l: StoredLine) => (!q.source || l.source === q.source) && (!q.dyno || l.dyno === q.dyno || l.dyno.split(".")[0] === q.dyno);
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-cache", ...(q.tail ? { "x-accel-buffering": "no" } : {}) });
  const backlog = router.store.recent(app).filter(keep).sort(compareLines);
  const shown = q.num === 0 ? [] : backlog.slice(-q.num);
  res.write(shown.map((l) => herokuLine(l) + "\n").join(""));
  if (!q.tail) {
    res.end();
    return;
  }
  // A reader slower than the app never grows memory: past tailBacklogBytes unsent, its lines are
  // dropped and counted, and once its socket drains it gets the L10 line of how many it missed.
  let dropped = 0;
  let droppedSince = 0;
  const unsubscribe = router.subscribe(app, (l) => {
    if (!keep(l)) return;
    if (res.writableLength > limits.tailBacklogBytes) {
      if (dropped++ === 0) droppedSince = l.time;
      return;
    }
    if (dropped > 0) {
      res.write(`${herokuTimestamp(Date.now())} heroku[logplex]: ${overflowMessage(dropped, droppedSince)}\n`);
      dropped = 0;
    }
    res.write(herokuLine(l) + "\n");
  });
  req.socket.setTimeout(0);
  const ping = setInterval(() => res.write(""), 30_000);
  const end = () => {
    unsubscribe();
    clearInterval(ping);
  };
  res.on("close", end);
}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > max) {
      req.resume();
      reject(new HttpError(413, `batch too large: at most ${max} bytes a request (send smaller batches)`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.destroy();
        reject(new HttpError(413, `batch too large: at most ${max} bytes a request (send smaller batches)`));
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new ValidationError('body must be JSON, e.g. {"url": "syslog+tls://logs.example.com:6514"}');
  }
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(s) });
  res.end(s);
}
