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
  H80: { status: 503, desc: "Maintenance mode" },
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

/** The answer of a plain request that failed with an H-code, on either path: the application
 * error page and its fields (a flat name, value list). */
export function appErrorAnswer(requestId: string): { body: string; headers: string[] } {
  const body = appErrorPage(requestId);
  return {
    body,
    headers: ["Content-Type", "text/html; charset=utf-8", "Content-Length", String(Buffer.byteLength(body)), "Cache-Control", "no-cache, no-store", "X-Request-Id", requestId],
  };
}

const escapeAttr = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * The page of an app in maintenance mode (H80). With a MAINTENANCE_PAGE_URL it frames that URL, as
 * Heroku does: the visitor's browser fetches it, so the router never fetches a tenant's URL.
 */
export function maintenancePage(requestId: string, pageUrl?: string): string {
  if (!pageUrl) {
    return errorPage("Offline for Maintenance", "This app is undergoing maintenance right now. Please check back later.", requestId);
  }
  return (
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Offline for Maintenance</title>` +
    `<style>html,body,iframe{margin:0;padding:0;border:0;width:100%;height:100%;overflow:hidden}</style></head>` +
    `<body><iframe src="${escapeAttr(pageUrl)}" title="Offline for Maintenance"></iframe></body></html>\n`
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
