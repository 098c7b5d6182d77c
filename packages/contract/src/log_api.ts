// The log router's API (packages/logplex/README.md): what senders (agents, routers, the control
// role) post, what readers get back, and the drain configuration. Lines travel in the compact
// format of log_batch.ts, or (the first format, still taken from older senders) as NDJSON: one
// JSON object a line, so a message may hold any character (JSON escapes newlines).
import { ValidationError } from "./errors";
import { checkAppName } from "./names";
import { intIn, isObject } from "./shape";

/** One log line as senders post it (`POST /v1/lines`: a record of log_batch.ts, or one JSON object a line). */
export interface LogLineIn {
  app: string;
  /** When the line was written: milliseconds since the epoch (the sender's clock), to the microsecond (a fraction). */
  time: number;
  /** Per sender stream, one more for every line: one process's lines keep their order within a millisecond. */
  seq: number;
  /** `app` for what dynos print, `heroku` for the platform's own lines (dyno events, router, api, logplex). */
  source: LogSource;
  /** `web.1`, `run.3`, `router`, `api`, `logplex`... */
  dyno: string;
  msg: string;
}

export type LogSource = "app" | "heroku";

/** `POST /v1/lines` answer: every line of the batch is either stored or rejected (with why); a sender drops them all. */
export interface IngestAck {
  stored: number;
  /** lines skipped as already stored (a resend after a lost ack) */
  duplicates: number;
  rejected: number;
  /** the first few rejected lines (0-based index in the batch) and why */
  errors: Array<{ index: number; error: string }>;
}

/** A drain as `GET /v1/apps/:app/drains` lists it (Heroku's `drains` fields). */
export interface DrainInfo {
  /** `d.<uuid>`: sent as `Logplex-Drain-Token` (HTTPS) and as the syslog structured data id */
  token: string;
  url: string;
}

/** `POST /v1/apps/:app/drains` body. */
export interface DrainAddBody {
  url: string;
  /** PEM certificates that sign the drain's TLS certificate, when it is not signed by a public CA */
  ca?: string;
}

/** The header naming a sender's stream (one per sender process run): lines are deduplicated by (stream, seq). */
export const LOG_STREAM_HEADER = "dynoform-log-stream";
/** Longest message kept; longer ones are cut (Logplex cuts at 10 KB too). */
export const MAX_MESSAGE_CHARS = 10_000;
/** `web.1`, `router`, `api`, `logplex`, `scheduler.12`. */
export const LOG_DYNO = /^[a-z][a-z0-9_-]{0,30}(\.[0-9]{1,6})?$/;
export const DRAIN_SCHEMES = ["syslog:", "syslog+tls:", "https:"] as const;
/** The latest time a line may carry (microseconds of it stay below 2^53: the year 2255). */
const MAX_TIME_MS = Math.floor(Number.MAX_SAFE_INTEGER / 1000);
const STREAM_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** One posted line, or a ValidationError naming the field. Over-long messages are cut, not refused. */
export function parseLogLine(raw: unknown): LogLineIn {
  if (!isObject(raw)) throw new ValidationError('a line must be a JSON object {"app","time","seq","source","dyno","msg"}');
  const { app, time, seq, source, dyno, msg } = raw;
  if (typeof app !== "string") throw new ValidationError("app must be a string");
  checkAppName(app);
  if (typeof time !== "number" || !(time >= 0 && time <= MAX_TIME_MS)) throw new ValidationError("time must be milliseconds since the epoch (a number)");
  if (!intIn(seq, 0, Number.MAX_SAFE_INTEGER)) throw new ValidationError("seq must be a non-negative integer");
  if (source !== "app" && source !== "heroku") throw new ValidationError('source must be "app" or "heroku"');
  if (typeof dyno !== "string" || !LOG_DYNO.test(dyno)) throw new ValidationError(`dyno ${JSON.stringify(dyno)} is invalid (want e.g. web.1, router, api)`);
  if (typeof msg !== "string") throw new ValidationError("msg must be a string");
  return { app, time: Math.round(time * 1000) / 1000, seq, source, dyno, msg: msg.length > MAX_MESSAGE_CHARS ? msg.slice(0, MAX_MESSAGE_CHARS) : msg };
}

/** The sender's stream id from its header ("" when it sent none: no deduplication). */
export function parseStreamId(raw: string | string[] | undefined): string {
  if (raw === undefined) return "";
  if (typeof raw !== "string" || !STREAM_ID.test(raw)) throw new ValidationError(`${LOG_STREAM_HEADER} must be 1 to 64 letters, digits, dots, dashes or underscores`);
  return raw;
}

/** A drain URL, or a ValidationError saying what drains are accepted. */
export function parseDrainUrl(raw: unknown): URL {
  const hint = "use syslog://host:port, syslog+tls://host:port or https://host/path";
  if (typeof raw !== "string" || raw.length > 2048) throw new ValidationError(`Url is invalid: ${hint}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError(`Url is invalid: ${JSON.stringify(raw)} is not a URL; ${hint}`);
  }
  if (!(DRAIN_SCHEMES as readonly string[]).includes(url.protocol)) {
    throw new ValidationError(`Url is invalid: scheme ${url.protocol.replace(/:$/, "")} is not supported; ${hint}`);
  }
  if (!url.hostname) throw new ValidationError(`Url is invalid: no host; ${hint}`);
  if (url.protocol !== "https:" && !url.port) throw new ValidationError(`Url is invalid: a syslog drain needs a port (${url.protocol}//${url.hostname}:514)`);
  return url;
}

export function parseDrainAdd(app: string, body: unknown): DrainAddBody {
  checkAppName(app);
  if (!isObject(body)) throw new ValidationError('body must be a JSON object {"url": "syslog+tls://host:port"}');
  const url = parseDrainUrl(body.url).toString();
  const ca = body.ca;
  if (ca !== undefined && (typeof ca !== "string" || !ca.includes("-----BEGIN CERTIFICATE-----") || ca.length > 65_536)) {
    throw new ValidationError("ca must be PEM certificates (-----BEGIN CERTIFICATE-----), at most 64 KiB");
  }
  return { url, ...(ca ? { ca } : {}) };
}

/** The reader's filters (`GET /v1/apps/:app/logs?num=&tail=&source=&dyno=`), Heroku's defaults. */
export interface LogQuery {
  num: number;
  tail: boolean;
  source?: LogSource;
  /** a process type (`web`) or a dyno (`web.1`, `router`) */
  dyno?: string;
}

export function parseLogQuery(q: URLSearchParams, maxLines: number): LogQuery {
  const numRaw = q.get("num") ?? "100";
  const num = Number(numRaw);
  if (!Number.isInteger(num) || num < 0 || num > maxLines) throw new ValidationError(`num must be an integer between 0 and ${maxLines}`);
  const source = q.get("source") ?? undefined;
  if (source !== undefined && source !== "app" && source !== "heroku") throw new ValidationError('source must be "app" or "heroku"');
  const dyno = q.get("dyno") ?? q.get("ps") ?? undefined;
  if (dyno !== undefined && !LOG_DYNO.test(dyno)) throw new ValidationError(`dyno ${JSON.stringify(dyno)} is invalid (want e.g. web, web.1, router)`);
  return { num, tail: ["1", "true", "yes"].includes(q.get("tail") ?? ""), source, dyno };
}
