// Load sharing between router instances (e.g. one per edge host behind Varnish): each primary
// tells its peers, over UDP on the private network, how many requests its instance has in flight
// per dyno, and adds what its peers say to what its workers see as a dyno's "remote" load. So the
// concurrency caps and P2C see every balancer's requests, not only their own: a one-at-a-time
// dyno busy with a peer's slow request gets no request from here meanwhile.
//
// Datagram: HMAC-SHA256(gossip key, payload) (32 bytes) + JSON payload
//   { i: instance id (random per start), s: sequence, t: sender's clock (unix ms),
//     f: 1 when the list is the full state, l: [[key, n], ...] }
// The key is the routers' own (not the control token, not anything a dyno host holds), so only a
// router can speak. A datagram whose `t` is more than MAX_SKEW_MS off this router's clock is stale;
// one whose sequence is not above the last seen from its instance is replayed; instances are
// remembered for REMEMBER_MS (longer than the skew) after they fall silent, so a captured datagram
// cannot be replayed once its sender is forgotten either. Rejections are counted (rejected()).
// Changes are sent as they come (at most every shareLoadMs); the full state every HEARTBEAT_MS, so
// a lost datagram heals. A peer silent for EXPIRE_MS counts as zero (it stopped or restarted).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { parseHostPort } from "./config";

const HEARTBEAT_MS = 250;
const EXPIRE_MS = 1500;
const MAX_DATAGRAM = 60_000;
/** Clocks of the edge hosts agree within this (NTP); older or newer datagrams are refused. */
export const MAX_SKEW_MS = 10_000;
const REMEMBER_MS = 3 * MAX_SKEW_MS;

interface PeerState { seen: number; loads: Map<string, number> }
export type GossipRejection = "forged" | "stale" | "replayed";

export class LoadGossip {
  private readonly id = randomBytes(8).toString("hex");
  private seq = 0;
  private readonly sock: Socket;
  private readonly peers: Array<{ host: string; port: number }>;
  private readonly senders = new Map<string, PeerState>();
  /** Highest sequence seen per instance id, kept REMEMBER_MS after its last datagram. */
  private readonly lastSeq = new Map<string, { seq: number; at: number }>();
  private readonly rejections: Record<GossipRejection, number> = { forged: 0, stale: 0, replayed: 0 };
  /** This instance's own in-flight counts (all workers), nonzero only. */
  private readonly local = new Map<string, number>();
  /** Sum over live peers, per key. */
  private readonly sums = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    listen: string,
    peers: string[],
    private readonly key: string,
    private readonly onChange: (keys: string[]) => void,
    private readonly log: (msg: string) => void,
  ) {
    this.peers = peers.map(parseHostPort);
    const { host, port } = parseHostPort(listen);
    this.sock = createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
    this.sock.on("message", (m) => this.receive(m));
    this.sock.on("error", (e) => log(`load gossip: ${e.message}`));
    this.sock.bind(port, host);
    this.timer = setInterval(() => {
      this.sendFull();
      this.expire();
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    try { this.sock.close(); } catch { /* closed */ }
  }

  /** Datagrams ignored so far, by reason. */
  rejected(): Record<GossipRejection, number> {
    return { ...this.rejections };
  }

  /** In flight on `key` at all peers. */
  peerLoad(key: string): number {
    return this.sums.get(key) ?? 0;
  }

  /** This instance's totals that changed. */
  publish(changes: Array<[string, number]>): void {
    if (changes.length === 0) return;
    for (const [k, n] of changes) {
      if (n > 0) this.local.set(k, n);
      else this.local.delete(k);
    }
    this.send(changes, false);
  }

  private sendFull(): void {
    this.send([...this.local], true);
  }

  private send(l: Array<[string, number]>, full: boolean): void {
    if (this.peers.length === 0) return;
    const payload = Buffer.from(JSON.stringify({ i: this.id, s: ++this.seq, t: Date.now(), f: full ? 1 : 0, l }));
    if (payload.length > MAX_DATAGRAM) {
      this.log(`load gossip: state of ${l.length} dynos does not fit a datagram; not sent`);
      return;
    }
    const mac = createHmac("sha256", this.key).update(payload).digest();
    const msg = Buffer.concat([mac, payload]);
    for (const p of this.peers) this.sock.send(msg, p.port, p.host);
  }

  private receive(m: Buffer): void {
    if (m.length < 33) return void this.rejections.forged++;
    const payload = m.subarray(32);
    const mac = createHmac("sha256", this.key).update(payload).digest();
    if (!timingSafeEqual(mac, m.subarray(0, 32))) return void this.rejections.forged++;
    let msg: { i: string; s: number; t: number; f: number; l: Array<[string, number]> };
    try {
      msg = JSON.parse(payload.toString("utf8"));
    } catch {
      return;
    }
    if (typeof msg.i !== "string" || msg.i === this.id || typeof msg.s !== "number" || !Array.isArray(msg.l)) return;
    const now = Date.now();
    if (typeof msg.t !== "number" || !(Math.abs(now - msg.t) <= MAX_SKEW_MS)) return void this.rejections.stale++;
    const last = this.lastSeq.get(msg.i);
    if (last && msg.s <= last.seq) return void this.rejections.replayed++; // or reordered: the next one heals
    this.lastSeq.set(msg.i, { seq: msg.s, at: now });
    let st = this.senders.get(msg.i);
    if (!st) this.senders.set(msg.i, (st = { seen: 0, loads: new Map() }));
    st.seen = now;
    const changed: string[] = [];
    const set = (k: string, n: number) => {
      const old = st!.loads.get(k) ?? 0;
      if (old === n) return;
      if (n > 0) st!.loads.set(k, n);
      else st!.loads.delete(k);
      this.sums.set(k, (this.sums.get(k) ?? 0) - old + n);
      if (this.sums.get(k) === 0) this.sums.delete(k);
      changed.push(k);
    };
    const seenKeys = msg.f ? new Set<string>() : undefined;
    for (const e of msg.l) {
      if (!Array.isArray(e) || typeof e[0] !== "string" || typeof e[1] !== "number" || !(e[1] >= 0)) continue;
      seenKeys?.add(e[0]);
      set(e[0], Math.floor(e[1]));
    }
    if (seenKeys) for (const k of [...st.loads.keys()]) if (!seenKeys.has(k)) set(k, 0);
    if (changed.length) this.onChange(changed);
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, l] of this.lastSeq) if (now - l.at > REMEMBER_MS) this.lastSeq.delete(id);
    for (const [id, st] of this.senders) {
      if (now - st.seen < EXPIRE_MS) continue;
      this.senders.delete(id);
      const changed: string[] = [];
      for (const [k, n] of st.loads) {
        const s = (this.sums.get(k) ?? 0) - n;
        if (s > 0) this.sums.set(k, s);
        else this.sums.delete(k);
        changed.push(k);
      }
      if (changed.length) this.onChange(changed);
    }
  }
}
