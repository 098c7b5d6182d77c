// Release phase (Procfile `release:`): runs once per release, before the new dynos start.
// A non-zero exit stops the deploy and the previous release keeps serving.
"use strict";
const { pool } = require("./lib/db");

async function main() {
  const db = pool();
  try {
    await db.query(`CREATE TABLE IF NOT EXISTS counters (name text PRIMARY KEY, value bigint NOT NULL DEFAULT 0)`);
    await db.query(`INSERT INTO counters (name, value) VALUES ('visits', 0), ('worker_ticks', 0) ON CONFLICT (name) DO NOTHING`);
    console.log("migrate: counters table ready");
  } finally {
    await db.end();
  }
}

main().catch((err) => {
  console.error(`migrate: ${err.message}`);
  process.exit(1);
});
