// Which peers may tell the router who the client is. The edge (nginx, then Varnish) sets
// X-Forwarded-For/-Proto/-Port and X-Request-Start; a request reaching the router from anywhere
// else (a dyno, another host on the private subnet) must not be able to choose them, so only
// connections from these addresses keep them.
import { BlockList, isIP } from "node:net";
import { parseHostPort, splitList } from "./addresses";
import type { RouterConfig } from "./config";

/** Loopback, the router's own listen address (Varnish on the same edge host connects from it) and
 * the hosts of `peers` (the other edge hosts, whose Varnish sends to this router too). */
export function defaultTrustedProxies(cfg: Pick<RouterConfig, "listen" | "peers">): string[] {
  const out = ["127.0.0.0/8", "::1"];
  const add = (host: string) => {
    if (isIP(host) && host !== "0.0.0.0" && host !== "::" && !out.includes(host)) out.push(host);
  };
  add(parseHostPort(cfg.listen).host);
  for (const p of splitList(cfg.peers)) add(parseHostPort(p).host);
  return out;
}

/** A BlockList of addresses and CIDRs ("10.0.0.5", "10.0.0.0/24", "fd00::/8"); throws on anything else. */
export function trustedProxyList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits, extra] = e.split("/");
    const family = isIP(addr);
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (!family || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32) || (bits !== undefined && !/^\d+$/.test(bits))) {
      throw new Error(`config trustedProxies: not an address or CIDR: ${JSON.stringify(e)}`);
    }
    list.addSubnet(addr, prefix, family === 6 ? "ipv6" : "ipv4");
  }
  return list;
}

/** The peer's address as the dyno sees it (IPv4-mapped IPv6 addresses in dotted form). */
export function plainAddress(remote: string): string {
  return remote.startsWith("::ffff:") && isIP(remote.slice(7)) === 4 ? remote.slice(7) : remote;
}

export function isTrusted(list: BlockList, remote: string): boolean {
  const a = plainAddress(remote);
  const family = isIP(a);
  return family !== 0 && list.check(a, family === 6 ? "ipv6" : "ipv4");
}
