// A posted batch's lines, in either format senders use: the compact one (log_batch.ts, what
// LogSender sends) or NDJSON (the first format, still taken from older senders during an
// upgrade). A bad line is rejected and named in the answer; the others are stored.
import { decodeLogBatch, parseLogLine, ValidationError, type IngestAck, type LogLineIn } from "@dynoform/contract";
import type { StoredLine } from "./line_format";

/** Rejected lines reported back in one answer; the rest are only counted. */
const MAX_REPORTED_ERRORS = 10;

export type IncomingLine = LogLineIn & Partial<Pick<StoredLine, "stream" | "recordStart" | "recordEnd">>;

/** The batch's lines; a compact batch's lines say where their records lie in `body`. */
export function parseBatch(body: Buffer, format: "v2" | "ndjson"): { lines: IncomingLine[]; ack: Pick<IngestAck, "rejected" | "errors"> } {
  const lines: IncomingLine[] = [];
  const ack: Pick<IngestAck, "rejected" | "errors"> = { rejected: 0, errors: [] };
  const reject = (index: number, error: string) => {
    ack.rejected++;
    if (ack.errors.length < MAX_REPORTED_ERRORS) ack.errors.push({ index, error });
  };
  if (format === "v2") {
    decodeLogBatch(
      body,
      (r) => {
        const { app, time, seq, source, dyno, msg } = r.line;
        // In the shape it is kept in (stream set on ingest), so it never changes shape on the way.
        // The record's own text goes to the store as it came, unless its message was cut.
        lines.push({ app, time, seq, source, dyno, msg, stream: "", recordStart: r.start, recordEnd: r.exact ? r.end : 0 });
      },
      reject,
    );
  } else {
    parseNdjson(body).forEach((r, index) => {
      try {
        if (r instanceof Error) throw r;
        lines.push(parseLogLine(r));
      } catch (e) {
        reject(index, (e as Error).message);
      }
    });
  }
  return { lines, ack };
}

/** Each line's value (or the Error of a line that is not JSON). One parse of the whole batch when all are JSON. */
function parseNdjson(body: Buffer): unknown[] {
  const texts = body.toString("utf8").split("\n").filter((l) => l.trim() !== "");
  try {
    // NDJSON lines hold no raw newline, so joined with commas they are one JSON array. A line holding
    // two values shifts the count, and the batch is read line by line instead.
    const values = JSON.parse("[" + texts.join(",") + "]") as unknown[];
    if (values.length !== texts.length) throw new Error("a line with more than one value");
    return values;
  } catch {
    return texts.map((l) => {
      try {
        return JSON.parse(l) as unknown;
      } catch {
        return new ValidationError("not a JSON object (a batch is NDJSON: one JSON object a line)");
      }
    });
  }
}
