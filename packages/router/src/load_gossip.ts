// Load sharing between router instances (e.g. one per edge host behind Varnish): each primary
// tells its peers, over UDP on the private network, how many requests its instance has in flight
// per dyno, and adds what its peers say to what its workers see as a dyno's "remote" load. So the
// concurrency caps and P2C see every balancer's requests, not only their own: a one-at-a-time
// dyno busy with a peer's slow request gets no request from here meanwhile.
//
// Datagram: HMAC-SHA256(gossip key, payload) (32 bytes) + JSON payload (Datagram below; its
// one-letter names are the wire format, which instances of different versions share during a
// rolling upgrade).
// The key is the routers' own (not the control token, not anything a dyno host holds), so only a
// router can speak. A datagram whose `t` is more than MAX_SKEW_MS off this router's clock is stale;
// one whose sequence is not above the last seen from its instance is replayed; instances are
// remembered for REMEMBER_MS (longer than the skew) after they fall silent, so a captured datagram
// cannot be replayed once its sender is forgotten either. Rejections are counted (rejected()).
// Changes are sent as they come (at most every shareLoadMs); the full state every HEARTBEAT_MS, so
// a lost datagram heals. A peer silent for EXPIRE_MS counts as zero (it stopped or restarted).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { parseHostPort } from "./addresses";
import type { LoadList } from "./ipc";

const HEARTBEAT_MS = 250;
const EXPIRE_MS = 1500;
const MAX_DATAGRAM = 60_000;
/** Clocks of the edge hosts agree within this (NTP); older or newer datagrams are refused. */
export const MAX_SKEW_MS = 10_000;
const REMEMBER_MS = 3 * MAX_SKEW_MS;

interface Datagram {
  /** The sender instance's id (random per start). */
  i: string;
  /** Its sequence number. */
  s: number;
  /** Its clock (unix ms). */
  t: number;
  /** 1 when `l` is the sender's full state, 0 when only changes. */
  f: number;
  /** In flight per dyno key. */
  l: LoadList;
}

/** A peer instance as last heard. */
interface Instance {
  /** Its highest sequence seen (the replay guard). */
  seq: number;
  heardAt: number;
  /** Its in-flight counts (nonzero only); emptied once it is silent for EXPIRE_MS. */
  loads: Map<string, number>;
}
export type GossipRejection = "forged" | "stale" | "replayed";

export class LoadGossip {
  private readonly id = randomBytes(8).toString("hex");
  private seq = 0;
  private readonly sock: Socket;
  private readonly peers: Array<{ host: string; port: number }>;
  /** Peer instances by id, kept REMEMBER_MS after their last datagram. */
  private readonly instances = new Map<string, Instance>();
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
  publish(changes: LoadList): void {
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

  private send(l: LoadList, full: boolean): void {
    if (this.peers.length === 0) return;
    const d: Datagram = { i: this.id, s: ++this.seq, t: Date.now(), f: full ? 1 : 0, l };
    const payload = Buffer.from(JSON.stringify(d));
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
    let msg: Datagram;
    try {
      msg = JSON.parse(payload.toString("utf8"));
    } catch {
      return;
    }
    if (typeof msg.i !== "string" || msg.i === this.id || typeof msg.s !== "number" || !Array.isArray(msg.l)) return;
    const now = Date.now();
    if (typeof msg.t !== "number" || !(Math.abs(now - msg.t) <= MAX_SKEW_MS)) return void this.rejections.stale++;
    let peer = this.instances.get(msg.i);
    if (peer && msg.s <= peer.seq) return void this.rejections.replayed++; // or reordered: the next one heals
    if (!peer) this.instances.set(msg.i, (peer = { seq: msg.s, heardAt: now, loads: new Map() }));
    peer.seq = msg.s;
    peer.heardAt = now;
    const changed: string[] = [];
    const seenKeys = msg.f ? new Set<string>() : undefined;
    for (const e of msg.l) {
      if (!Array.isArray(e) || typeof e[0] !== "string" || typeof e[1] !== "number" || !(e[1] >= 0)) continue;
      seenKeys?.add(e[0]);
      if (this.setLoad(peer, e[0], Math.floor(e[1]))) changed.push(e[0]);
    }
    if (seenKeys) for (const k of [...peer.loads.keys()]) if (!seenKeys.has(k) && this.setLoad(peer, k, 0)) changed.push(k);
    if (changed.length) this.onChange(changed);
  }

  /** A peer's count for `key`, kept in the sums too; true when it changed. */
  private setLoad(peer: Instance, key: string, n: number): boolean {
    const old = peer.loads.get(key) ?? 0;
    if (old === n) return false;
    if (n > 0) peer.loads.set(key, n);
    else peer.loads.delete(key);
    const sum = (this.sums.get(key) ?? 0) - old + n;
    if (sum === 0) this.sums.delete(key);
    else this.sums.set(key, sum);
    return true;
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, peer] of this.instances) {
      const silent = now - peer.heardAt;
      // Silent this long: it stopped or restarted, so its counts are zero...
      if (silent >= EXPIRE_MS && peer.loads.size) {
        const changed = [...peer.loads.keys()];
        for (const k of changed) this.setLoad(peer, k, 0);
        this.onChange(changed);
      }
      // ...and once no datagram of it can pass the skew check, its sequence is forgotten too.
      if (silent > REMEMBER_MS) this.instances.delete(id);
    }
  }
}