"""The Python getting-started shape: Flask under gunicorn (WEB_CONCURRENCY workers), PostgreSQL through psycopg."""
import os

import psycopg
from flask import Flask, jsonify

app = Flask(__name__)


def db():
    return psycopg.connect(os.environ["DATABASE_URL"])


@app.get("/")
def index():
    with db() as conn:
        conn.execute("INSERT INTO visits (pid) VALUES (%s)", (os.getpid(),))
        (count,) = conn.execute("SELECT count(*) FROM visits").fetchone()
    return jsonify(app="python-flask", visits=count, pid=os.getpid(), workers=os.environ.get("WEB_CONCURRENCY"), dyno=os.environ.get("DYNO"))


@app.get("/health")
def health():
    return "ok\n"
