// Which addresses the control host may fetch a build's source_blob.url from: only public ones. The
// control host sits inside the private network, so a URL is a way for any API token holder to make
// it GET what only it reaches: its own services on loopback (the REST API on :5200, the slug server),
// the other hosts' private services (agents, routers' control API, PostgreSQL, Memcached) and a
// cloud's metadata service (169.254.169.254, fd00:ec2::254 on AWS). Every range that is not the public
// internet is refused; the stack's private subnet is always inside one of them (stack_config.ts
// accepts it only within 10/8, 172.16/12, 192.168/16 or 100.64/10).
import net from "node:net";

/** [CIDR, what it is]: the first that holds an address names why it is refused. */
const REFUSED: [string, string][] = [
    ["0.0.0.0/8", "an unspecified"],
    ["127.0.0.0/8", "a loopback"],
    ["10.0.0.0/8", "a private"],
    ["172.16.0.0/12", "a private"],
    ["192.168.0.0/16", "a private"],
    ["100.64.0.0/10", "a shared (CGNAT)"],
    ["169.254.0.0/16", "a link-local"],
    ["192.0.0.0/24", "a reserved (IETF protocol)"],
    ["198.18.0.0/15", "a reserved (benchmarking)"],
    ["224.0.0.0/4", "a multicast"],
    ["240.0.0.0/4", "a reserved"],
    ["::/128", "an unspecified"],
    ["::1/128", "a loopback"],
    ["::/96", "a reserved (IPv4-compatible)"],
    ["64:ff9b:1::/48", "a private (local NAT64)"],
    ["100::/64", "a reserved (discard)"],
    ["fc00::/7", "a unique-local"],
    ["fe80::/10", "a link-local"],
    ["fec0::/10", "a site-local"],
    ["ff00::/8", "a multicast"],
];

/** IPv6 forms that carry an IPv4 address (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d): judged by it. */
const EMBEDDING_V4 = ["::ffff:0:0/96", "64:ff9b::/96"];

function subnetList(cidrs: string[]): net.BlockList {
    const list = new net.BlockList();
    for (const cidr of cidrs) {
        const [address, prefix] = cidr.split("/");
        list.addSubnet(address, Number(prefix), net.isIPv6(address) ? "ipv6" : "ipv4");
    }
    return list;
}

const embedding = subnetList(EMBEDDING_V4);
const ranges = REFUSED.map(([cidr, kind]) => ({ kind, list: subnetList([cidr]), family: net.isIPv6(cidr.split("/")[0]) ? 6 : 4 }));

/** The IPv4 address the last 32 bits of an IPv6 address hold ("::ffff:7f00:1" → "127.0.0.1"). */
function embeddedV4(address: string): string {
    const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
    if (dotted) return dotted[1];
    const [head, tail] = address.split("::").map((part) => (part ? part.split(":") : []));
    const words = tail === undefined ? head : [...head, ...Array<string>(8 - head.length - tail.length).fill("0"), ...tail];
    const [hi, lo] = words.slice(6).map((w) => parseInt(w, 16));
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

export class PublicAddresses {
    private readonly allowed: Set<string>;

    /** `allowed`: addresses taken although a range holds them (the tests' loopback stand-in for the internet). */
    constructor(opts: { allowed?: string[] } = {}) {
        this.allowed = new Set(opts.allowed ?? []);
    }

    /** What `address` is when it may not be fetched from ("a loopback address"), or undefined when it is public. */
    kind(address: string): string | undefined {
        if (this.allowed.has(address)) return undefined;
        const family = net.isIP(address);
        if (family === 0) return "not an IP address";
        const kind = family === 6 && embedding.check(address, "ipv6") ? kindOf(embeddedV4(address), 4) : kindOf(address, family);
        return kind && `${kind} address`;
    }

    /** Why `address` may not be fetched from ("127.0.0.1 is a loopback address"), or undefined when it is public. */
    refusal(address: string): string | undefined {
        const kind = this.kind(address);
        return kind && `${address} is ${kind}`;
    }
}

function kindOf(address: string, family: number): string | undefined {
    const type = family === 6 ? "ipv6" : "ipv4";
    return ranges.find((r) => r.family === family && r.list.check(address, type))?.kind;
}
