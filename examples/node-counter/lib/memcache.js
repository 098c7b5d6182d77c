// A small Memcached client (get/set/delete) for fragment caching, speaking the binary protocol with
// SASL PLAIN authentication, as memjs and dalli do: dynoform gives each app its own Memcached with
// its own credentials. Config from Heroku's variables: MEMCACHE_SERVERS ("host:port[,host:port...]",
// keys spread by a stable hash), MEMCACHE_USERNAME, MEMCACHE_PASSWORD. Every call resolves (to
// undefined/false on a miss or any error): a cache must never take the page down.
"use strict";
const net = require("node:net");
const { createHash } = require("node:crypto");

const OP = { get: 0x00, set: 0x01, delete: 0x04, saslAuth: 0x21 };
const HEADER = 24;

/** One request: 24-byte header, extras, key, value. */
function packet(opcode, key = "", extras = Buffer.alloc(0), value = Buffer.alloc(0)) {
  const k = Buffer.from(key);
  const h = Buffer.alloc(HEADER);
  h[0] = 0x80; // request magic
  h[1] = opcode;
  h.writeUInt16BE(k.length, 2);
  h[4] = extras.length;
  h.writeUInt32BE(extras.length + k.length + value.length, 8);
  return Buffer.concat([h, extras, k, value]);
}

class Connection {
  constructor(host, port, { username, password, timeoutMs }) {
    Object.assign(this, { host, port, username, password, timeoutMs });
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    this.queue = []; // resolve({status, value}) per request, in order (memcached answers in order)
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
      if (this.socket === s) this.socket = null;
      this.buffer = Buffer.alloc(0);
      for (const resolve of this.queue.splice(0)) resolve({ status: -1 });
    };
    s.on("error", fail);
    s.on("close", fail);
    this.socket = s;
    // Authentication goes first on the wire; its answer is read (and dropped) like any other.
    if (this.username) this.send(packet(OP.saslAuth, "PLAIN", undefined, Buffer.from(`\0${this.username}\0${this.password || ""}`)), () => undefined);
  }

  drain() {
    while (this.buffer.length >= HEADER) {
      const bodyLength = this.buffer.readUInt32BE(8);
      if (this.buffer.length < HEADER + bodyLength) return;
      const r = this.buffer.subarray(0, HEADER + bodyLength);
      this.buffer = this.buffer.subarray(HEADER + bodyLength);
      const value = r.subarray(HEADER + r[4] + r.readUInt16BE(2));
      const resolve = this.queue.shift();
      if (resolve) resolve({ status: r.readUInt16BE(6), value });
    }
  }

  send(payload, resolve) {
    this.queue.push(resolve);
    this.socket.write(payload);
  }

  request(payload) {
    return new Promise((resolve) => {
      this.connect();
      this.send(payload, resolve);
    });
  }
}

class Memcache {
  constructor(servers = process.env.MEMCACHE_SERVERS || "127.0.0.1:11211", options = {}) {
    const { username = process.env.MEMCACHE_USERNAME, password = process.env.MEMCACHE_PASSWORD, timeoutMs = 500 } = options;
    this.connections = servers
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const [host, port] = s.split(":");
        return new Connection(host, Number(port || 11211), { username, password, timeoutMs });
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
    const r = await this.pick(key).request(packet(OP.get, key));
    return r.status === 0 ? r.value.toString() : undefined;
  }

  async set(key, value, ttlSeconds = 0) {
    Memcache.checkKey(key);
    const extras = Buffer.alloc(8); // flags 0, expiry
    extras.writeUInt32BE(ttlSeconds, 4);
    return (await this.pick(key).request(packet(OP.set, key, extras, Buffer.from(String(value))))).status === 0;
  }

  async delete(key) {
    Memcache.checkKey(key);
    return (await this.pick(key).request(packet(OP.delete, key))).status === 0;
  }

  close() {
    for (const c of this.connections) if (c.socket) c.socket.end();
  }
}

module.exports = { Memcache, packet };
