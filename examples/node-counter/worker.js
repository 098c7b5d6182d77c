// worker: a background process with no HTTP port; ticks a counter the web page shows.
"use strict";
const { pool } = require("./lib/db");

const db = pool();
const dyno = process.env.DYNO || "worker.?";
let stopping = false;

async function tick() {
  const { rows } = await db.query("UPDATE counters SET value = value + 1 WHERE name = 'worker_ticks' RETURNING value");
  console.log(`${dyno} tick ${rows[0] ? rows[0].value : "?"}`);
}

const timer = setInterval(() => {
  if (!stopping) tick().catch((err) => console.error(`${dyno} tick failed: ${err.message}`));
}, 5000);

process.on("SIGTERM", () => {
  stopping = true;
  clearInterval(timer);
  db.end().finally(() => process.exit(0));
});
console.log(`${dyno} started`);
