"""Release phase: the schema the app needs, made once per release before its dynos start."""
import os

import psycopg

with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, pid integer NOT NULL, at timestamptz NOT NULL DEFAULT now())")
    print("migrated: visits")
