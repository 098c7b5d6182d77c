// The agent's control API (documented in ../README.md). Bearer-token authenticated except /health:
// the token setting holds one token a line, during a rotation (runbooks/rotate-secrets.mjs) the
// control role's current and previous ones, either accepted.
import * as http from "node:http";
import { AcceptedTokens, parseRestartRequest, ValidationError, type OneOffEvent } from "@dynoform/contract";
import { parseOneOff } from "./desired_state";
import { Agent, NotFoundError } from "./agent";
import { formatLine, herokuTimestamp, type LogLine } from "./log_buffer";
import { SlugError } from "./slug_store";

const MAX_BODY = 4 << 20;
/** Unsent bytes a `logs --tail` subscriber may hold before its lines are dropped (Logplex's L10). */
export const TAIL_BACKLOG_BYTES = 1 << 20;

export function createControlServer(agent: Agent, version = "dev"): http.Server {
  const tokens = new AcceptedTokens(agent.config.token);
  const authorized = (req: http.IncomingMessage): boolean => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
    return m !== null && tokens.matches(m[1]);
  };

  return http.createServer((req, res) => {
    handle(agent, req, res, authorized, version).catch((e: Error) => {
      const status = e instanceof ValidationError ? 400 : e instanceof NotFoundError ? 404 : e instanceof SlugError ? 422 : 500;
      if (!res.headersSent) json(res, status, { error: e.message });
      else res.end();
    });
  });
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 1) + "\n";
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new ValidationError("body too large");
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError("body is not valid JSON");
  }
}

async function handle(
  agent: Agent,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  authorized: (r: http.IncomingMessage) => boolean,
  version: string,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://agent");
  const p = url.pathname;
  const method = req.method ?? "GET";
  if (p === "/health" && (method === "GET" || method === "HEAD")) {
    json(res, 200, { ok: true, version, supervisor: agent.supervisor.kind, apps: agent.apps.size });
    return;
  }
  if (!p.startsWith("/v1/")) return json(res, 404, { error: "not found" });
  if (!authorized(req)) {
    res.setHeader("www-authenticate", "Bearer");
    return json(res, 401, { error: "unauthorized" });
  }
  if (p === "/v1/status" && method === "GET") return json(res, 200, agent.status());
  if (p === "/v1/apps" && method === "GET") return json(res, 200, { apps: [...agent.apps.keys()].sort() });

  const stdin = /^\/v1\/apps\/([^/]+)\/run\/([^/]+)\/stdin$/.exec(p);
  if (stdin && method === "POST") {
    await agent.attachStdin(decodeURIComponent(stdin[1]), decodeURIComponent(stdin[2]), req);
    return json(res, 200, { attached: true });
  }
  const m = /^\/v1\/apps\/([^/]+)(\/[a-z]+)?$/.exec(p);
  if (!m) return json(res, 404, { error: "not found" });
  const app = decodeURIComponent(m[1]);
  const sub = m[2] ?? "";

  if (sub === "") {
    if (method === "PUT") {
      const body = await readJson(req);
      await agent.putApp(app, body);
      const wait = url.searchParams.get("wait");
      if (wait === "up") {
        const timeout = Math.min(Number(url.searchParams.get("timeoutMs") ?? agent.config.bootTimeoutMs + 5000), 600_000);
        const up = await agent.waitUp(app, timeout);
        return json(res, up ? 200 : 504, { ...agent.appStatus(app), ...(up ? {} : { error: "timed out waiting for dynos to be up" }) });
      }
      return json(res, 200, agent.appStatus(app));
    }
    if (method === "GET") return json(res, 200, agent.appStatus(app));
    if (method === "DELETE") {
      await agent.deleteApp(app);
      return json(res, 200, { app, deleted: true });
    }
    return json(res, 405, { error: "method not allowed" });
  }
  if (sub === "/restart" && method === "POST") {
    const { dyno } = parseRestartRequest(await readJson(req));
    agent.getApp(app);
    const restarted = await agent.restart(app, dyno);
    return json(res, 200, { app, restarted });
  }
  if (sub === "/run" && method === "POST") return runOneOff(agent, app, req, res);
  if (sub === "/logs" && method === "GET") return logs(agent, app, url, req, res);
  return json(res, 404, { error: "not found" });
}

async function runOneOff(agent: Agent, app: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readJson(req);
  agent.getApp(app);
  const request = parseOneOff(body, agent.config);
  const ac = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) ac.abort();
  });
  let headers = false;
  const start = () => {
    if (headers) return;
    headers = true;
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-cache", trailer: "Dynoform-Exit-Status" });
  };
  const line = (o: OneOffEvent) => {
    start();
    res.write(JSON.stringify(o) + "\n");
  };
  await agent.runOneOff(
    app,
    request,
    {
      started: (dyno) => line({ dyno, state: "up" }),
      output: (stream, data) => line({ stream, data: data.toString("utf8") }),
      exit: (status, dyno) => {
        line({ dyno, exit: status });
        res.addTrailers({ "Dynoform-Exit-Status": String(status) });
        res.end();
      },
    },
    ac.signal,
  );
}

function logs(agent: Agent, app: string, url: URL, req: http.IncomingMessage, res: http.ServerResponse): void {
  agent.getApp(app);
  const dyno = url.searchParams.get("dyno") ?? url.searchParams.get("ps");
  const source = url.searchParams.get("source");
  const n = url.searchParams.has("lines") ? Math.max(0, Number(url.searchParams.get("lines"))) : undefined;
  const tail = ["1", "true", "yes"].includes(url.searchParams.get("tail") ?? "");
  const filter = (l: LogLine) => (!dyno || l.dyno === dyno || l.dyno.split(".")[0] === dyno) && (!source || l.source === source);
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-cache", ...(tail ? { "x-accel-buffering": "no" } : {}) });
  const backlog = agent.logs.recent(app, n, filter);
  res.write(backlog.map((l) => l.line + "\n").join(""));
  if (!tail) {
    res.end();
    return;
  }
  // A subscriber that reads slower than the app logs never grows our memory: past
  // TAIL_BACKLOG_BYTES unsent, lines are dropped and counted, and once the socket drains it gets
  // Logplex's own notice (Error L10) of how many it missed.
  let dropped = 0;
  let droppedSince = "";
  const unsubscribe = agent.logs.subscribe(app, (_a, l) => {
    if (!filter(l)) return;
    if (res.writableLength > TAIL_BACKLOG_BYTES) {
      if (dropped++ === 0) droppedSince = l.ts;
      return;
    }
    if (dropped > 0) {
      const ts = herokuTimestamp();
      res.write(formatLine(ts, "heroku", "logplex", `Error L10 (output buffer overflow): ${dropped} messages dropped since ${droppedSince}.`) + "\n");
      dropped = 0;
    }
    res.write(l.line + "\n");
  });
  const ping = setInterval(() => res.write(""), 30_000);
  req.on("close", () => {
    unsubscribe();
    clearInterval(ping);
  });
}
