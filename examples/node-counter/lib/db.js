"use strict";
const { Pool } = require("pg");

function pool() {
  if (!process.env.DATABASE_URL) throw new Error("DATABASE_URL is not set: on dynoform, apps:create sets it");
  const p = new Pool({ connectionString: process.env.DATABASE_URL, max: 5, connectionTimeoutMillis: 5000 });
  // An idle connection the server ends (a PostgreSQL restart, a failover) is an "error" event on the
  // pool; unheard, it would end the process. The pool drops that connection and opens a new one on
  // the next query, so a restart costs the queries in flight, not the dyno.
  p.on("error", (err) => console.error(`database: idle connection lost: ${err.message}`));
  return p;
}

module.exports = { pool };
