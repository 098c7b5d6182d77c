// A small Memcached text-protocol client (get/set/delete), enough for fragment caching.
// Servers come from MEMCACHE_SERVERS ("host:port[,host:port...]"); keys are spread over them by a
// stable hash. Every call resolves (to undefined on a miss or any error): a cache must never take
// the page down.
"use strict";
const net = require("node:net");
const { createHash } = require("node:crypto");

class Connection {
  constructor(host, port, timeoutMs) {
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    this.queue = []; // {parse(buffer) -> {done, value, rest} , resolve}
  }

  connect() {
    if (this.socket) return;
    const s = net.connect({ host: this.host, port: this.port });
    s.setNoDelay(true);
    s.setTimeout(this.timeoutMs, () => s.destroy(new Error("memcached timeout")));
    s.on("data", (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
    const fail = () => {
      this.socket = null;
      this.buffer = Buffer.alloc(0);
      const pending = this.queue.splice(0);
      for (const p of pending) p.resolve(undefined);
    };
    s.on("error", fail);
    s.on("close", fail);
    this.socket = s;
  }

  drain() {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      const r = head.parse(this.buffer);
      if (!r) return; // need more bytes
      this.buffer = r.rest;
      this.queue.shift();
      head.resolve(r.value);
    }
  }

  request(payload, parse) {
    return new Promise((resolve) => {
      this.connect();
      this.queue.push({ parse, resolve });
      this.socket.write(payload);
    });
  }
}

function line(buffer) {
  const i = buffer.indexOf("\r\n");
  return i === -1 ? null : { text: buffer.subarray(0, i).toString(), rest: buffer.subarray(i + 2) };
}

function parseGet(buffer) {
  const first = line(buffer);
  if (!first) return null;
  if (first.text === "END") return { value: undefined, rest: first.rest };
  const m = /^VALUE \S+ \d+ (\d+)$/.exec(first.text);
  if (!m) return { value: undefined, rest: first.rest }; // SERVER_ERROR etc.
  const len = Number(m[1]);
  if (first.rest.length < len + 2 + 5) return null; // data\r\nEND\r\n
  const value = first.rest.subarray(0, len).toString();
  const end = line(first.rest.subarray(len + 2));
  if (!end) return null;
  return { value, rest: end.rest };
}

function parseStatus(buffer) {
  const l = line(buffer);
  return l ? { value: l.text, rest: l.rest } : null;
}

class Memcache {
  constructor(servers = process.env.MEMCACHE_SERVERS || "127.0.0.1:11211", { timeoutMs = 500 } = {}) {
    this.connections = servers
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const [host, port] = s.split(":");
        return new Connection(host, Number(port || 11211), timeoutMs);
      });
  }

  pick(key) {
    const h = createHash("md5").update(key).digest().readUInt32BE(0);
    return this.connections[h % this.connections.length];
  }

  static checkKey(key) {
    if (!/^[^\s\x00-\x1f]{1,250}$/.test(key)) throw new Error(`invalid memcached key: ${JSON.stringify(key)}`);
  }

  async get(key) {
    Memcache.checkKey(key);
    return this.pick(key).request(`get ${key}\r\n`, parseGet);
  }

  async set(key, value, ttlSeconds = 0) {
    Memcache.checkKey(key);
    const data = Buffer.from(String(value));
    const status = await this.pick(key).request(Buffer.concat([Buffer.from(`set ${key} 0 ${ttlSeconds} ${data.length}\r\n`), data, Buffer.from("\r\n")]), parseStatus);
    return status === "STORED";
  }

  async delete(key) {
    Memcache.checkKey(key);
    return (await this.pick(key).request(`delete ${key}\r\n`, parseStatus)) === "DELETED";
  }

  close() {
    for (const c of this.connections) if (c.socket) c.socket.end();
  }
}

module.exports = { Memcache };
