// web: a page with a visit counter kept in PostgreSQL and a fragment cached in the app's Memcached
// (MEMCACHE_SERVERS/_USERNAME/_PASSWORD, read by lib/memcache.js).
"use strict";
const http = require("node:http");
const { pool } = require("./lib/db");
const { Memcache } = require("./lib/memcache");

const db = pool();
const cache = new Memcache();
const dyno = process.env.DYNO || "web.?";
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

/** An "expensive" fragment, rendered at most every 30 s and shared by all dynos through Memcached. */
async function fragment() {
  const cached = await cache.get("node-counter:fragment");
  if (cached !== undefined) return { html: cached, hit: true };
  const { rows } = await db.query("SELECT value FROM counters WHERE name = 'worker_ticks'");
  const html = `<p>Rendered by ${escape(dyno)} at ${new Date().toISOString()}; the worker has ticked ${rows[0] ? rows[0].value : 0} times.</p>`;
  await cache.set("node-counter:fragment", html, 30);
  return { html, hit: false };
}

async function page(res) {
  const { rows } = await db.query("UPDATE counters SET value = value + 1 WHERE name = 'visits' RETURNING value");
  const visits = rows[0] ? rows[0].value : "?";
  const frag = await fragment();
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "x-fragment-cache": frag.hit ? "hit" : "miss" });
  res.end(`<!doctype html>
<title>node-counter on dynoform</title>
<h1>Visits: <span id="visits">${escape(visits)}</span></h1>
<p>Served by <code>${escape(dyno)}</code> (${escape(process.env.GREETING || "hello")}).</p>
${frag.html}
`);
}

const server = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok\n");
    return;
  }
  // A page Varnish at the edge may cache for 5 minutes (test/lab/46-cache.test.ts): a new release,
  // or `dynoform cache:purge`, bans it there. The stamp tells one rendering from the next.
  if (req.url === "/cached" || req.url.startsWith("/cached?")) {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "public, max-age=300" });
    res.end(`<p id="greeting">${escape(process.env.GREETING || "hello")}</p>\n<p id="stamp">${Date.now()}-${Math.random().toString(36).slice(2)}</p>\n`);
    return;
  }
  if (req.url !== "/" && req.url !== "/index.html") {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found\n");
    return;
  }
  page(res).catch((err) => {
    console.error(`error: ${err.message}`);
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end("internal error\n");
  });
});

const port = Number(process.env.PORT || 5000);
server.listen(port, () => console.log(`${dyno} listening on ${port}`));

// SIGTERM: stop accepting, finish in-flight requests, then exit (the platform SIGKILLs after 30 s).
process.on("SIGTERM", () => {
  console.log(`${dyno} got SIGTERM, draining`);
  server.close(() => {
    cache.close();
    db.end().finally(() => process.exit(0));
  });
  server.closeIdleConnections?.();
});
