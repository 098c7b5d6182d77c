"use strict";
const { Pool } = require("pg");

function pool() {
  if (!process.env.DATABASE_URL) throw new Error("DATABASE_URL is not set: on dynoform, apps:create sets it");
  return new Pool({ connectionString: process.env.DATABASE_URL, max: 5, connectionTimeoutMillis: 5000 });
}

module.exports = { pool };
