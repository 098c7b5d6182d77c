// Where drains may send. A drain's URL is whatever an app's owner typed, and the log router sits
// inside the private network: without this, `drains:add syslog://10.0.0.30:5432` would have it
// write to the data host, `https://127.0.0.1:…` to the control host's own services, and
// `169.254.169.254` to a cloud's metadata service. Refused: loopback, link-local, unspecified and
// multicast addresses, and the networks the stack names (its private subnet), save the addresses in
// them that stand for the outside (the lab's gateway). Checked on every connection, after DNS, so a
// name that resolves inward later (DNS rebinding) is refused too.
import dns from "node:dns";
import net from "node:net";

/** Never a drain's destination, whatever the stack's networks. */
export const ALWAYS_REFUSED = ["0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3", "::/127", "fe80::/10", "ff00::/8"];

export class DrainDestinationError extends Error {
  readonly code = "EDRAINREFUSED";
}

export class DrainDestinations {
  private readonly refused = new net.BlockList();
  private readonly allowed: Set<string>;

  /** `refusedNetworks`: CIDRs beside ALWAYS_REFUSED (the private subnet); `allowedAddresses`: exceptions in them. */
  constructor(refusedNetworks: string[], allowedAddresses: string[]) {
    for (const cidr of [...ALWAYS_REFUSED, ...refusedNetworks]) {
      const [address, prefix] = cidr.split("/");
      const family = net.isIP(address);
      if (!family || prefix === undefined || !/^\d+$/.test(prefix)) throw new Error(`drain destinations: ${cidr} is not a CIDR`);
      this.refused.addSubnet(address, Number(prefix), family === 6 ? "ipv6" : "ipv4");
    }
    this.allowed = new Set(allowedAddresses);
  }

  /** Why `address` (an IP) may not be a drain's destination, or undefined when it may. */
  refusal(address: string): string | undefined {
    if (this.allowed.has(address)) return undefined;
    const family = net.isIP(address);
    const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] : undefined;
    const refused = mapped ? this.refused.check(mapped, "ipv4") : family !== 0 && this.refused.check(address, family === 6 ? "ipv6" : "ipv4");
    return refused ? `${address} is inside the platform's own network (loopback, link-local or the private subnet): a drain must be an address outside it` : undefined;
  }

  /**
   * What a connection to `host` adds to its options: for an IP, nothing once it is checked (Node
   * looks no IP up); for a name, a lookup that keeps only allowed addresses. Throws for a refused IP.
   */
  connectOptions(host: string): { lookup?: net.LookupFunction } {
    if (net.isIP(host)) {
      const why = this.refusal(host);
      if (why) throw new DrainDestinationError(why);
      return {};
    }
    return { lookup: this.lookup };
  }

  private readonly lookup = ((hostname: string, options: dns.LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 0);
      const ok = addresses.filter((a) => this.refusal(a.address) === undefined);
      if (ok.length === 0) {
        const why = this.refusal(addresses[0]?.address ?? "") ?? "no address";
        return callback(new DrainDestinationError(`${hostname} resolves to ${addresses.map((a) => a.address).join(", ")}: ${why}`), "", 0);
      }
      if (options.all) return callback(null, ok);
      callback(null, ok[0].address, ok[0].family);
    });
  }) as unknown as net.LookupFunction;
}
