// Heroku router error codes and the pages the router answers with.
export const H_CODES: Record<string, { status: number; desc: string }> = {
  H11: { status: 503, desc: "Backlog too deep" },
  H12: { status: 503, desc: "Request timeout" },
  H13: { status: 503, desc: "Connection closed without response" },
  H14: { status: 503, desc: "No web dynos running" },
  H15: { status: 503, desc: "Idle connection" },
  H19: { status: 503, desc: "Backend connection timeout" },
  H20: { status: 503, desc: "App boot timeout" },
  H21: { status: 503, desc: "Backend connection refused" },
  H27: { status: 499, desc: "Client Request Interrupted" },
  H99: { status: 503, desc: "Platform error" },
};

export function errorPage(title: string, text: string, requestId: string): string {
  return (
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title>` +
    `<style>body{font-family:sans-serif;margin:4em auto;max-width:36em;color:#333}</style></head>` +
    `<body><h1>${title}</h1><p>${text}</p><p><small>Request ID: ${requestId}</small></p></body></html>\n`
  );
}

export const APP_ERROR_TEXT =
  "An error occurred in the application and your page could not be served. If you are the application owner, check your logs for details.";
