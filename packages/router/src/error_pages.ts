// What the router answers by itself: Heroku's router error codes (H-codes), its error pages, and
// whole responses written on a raw socket (upgrades and requests the HTTP parser refused).
import type { Socket } from "node:net";

/** The H-codes the router answers with (its log lines and the requests metric name them). */
export const H_CODES = {
  H11: { status: 503, desc: "Backlog too deep" },
  H12: { status: 503, desc: "Request timeout" },
  H13: { status: 503, desc: "Connection closed without response" },
  H14: { status: 503, desc: "No web dynos running" },
  H15: { status: 503, desc: "Idle connection" },
  H19: { status: 503, desc: "Backend connection timeout" },
  H21: { status: 503, desc: "Backend connection refused" },
  H27: { status: 499, desc: "Client Request Interrupted" },
} as const satisfies Record<string, { status: number; desc: string }>;

export type HCode = keyof typeof H_CODES;

/** A log line's `code=` and the requests metric's code label: an H-code, or BAD_REQUEST for a
 * request refused before it was routed. */
export type ErrorCode = HCode | "BAD_REQUEST";

function errorPage(title: string, text: string, requestId: string): string {
  return (
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title>` +
    `<style>body{font-family:sans-serif;margin:4em auto;max-width:36em;color:#333}</style></head>` +
    `<body><h1>${title}</h1><p>${text}</p><p><small>Request ID: ${requestId}</small></p></body></html>\n`
  );
}

/** The page of every H-code answer. */
export function appErrorPage(requestId: string): string {
  return errorPage(
    "Application error",
    "An error occurred in the application and your page could not be served. If you are the application owner, check your logs for details.",
    requestId,
  );
}

/** The 404 page of a Host no app has. */
export function noSuchAppPage(requestId: string): string {
  return errorPage("No such app", "There is no app configured at that hostname.", requestId);
}

/** A whole response on a raw socket, which then closes (cut after 1 s if the client lingers). */
export function replyRaw(socket: Socket, status: number, reason: string, contentType: string, body: string): void {
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  setTimeout(() => socket.destroy(), 1000).unref();
}
