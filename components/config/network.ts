// IPv4 addresses and subnets, as the stack config and the host sources check them. Whether an
// address lies in a subnet is Node's BlockList. The arithmetic below is for what BlockList does
// not answer: whether a CIDR has host bits set, and which addresses of a subnet are its own, its
// broadcast and its first host address (the lab's gateway).
import { BlockList, isIPv4 } from "net";

export { isIPv4 };

/** A subnet as `parseCidr` gives it: "10.213.1.0/24" is {address: "10.213.1.0", prefix: 24}. */
export interface Subnet {
    address: string;
    prefix: number;
}

/** A dotted IPv4 address as a 32-bit number, and back. */
export const toNumber = (address: string): number => address.split(".").reduce((n, part) => n * 256 + Number(part), 0);
export const toAddress = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

/** Address ranges that are private by definition (RFC 1918, RFC 6598 shared space). */
export const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"];

/** The whole of the subnet `cidr` lies inside one of PRIVATE_RANGES. */
export function withinPrivateRange(cidr: string): boolean {
    const subnet = parseCidr(cidr);
    return PRIVATE_RANGES.some((r) => subnet.prefix >= parseCidr(r).prefix && subnetContains(r, subnet.address));
}

/** Two subnets share an address (one contains the other's base). */
export function overlaps(a: string, b: string): boolean {
    return subnetContains(a, parseCidr(b).address) || subnetContains(b, parseCidr(a).address);
}

/** Why `cidr` is not an IPv4 subnet such as 10.213.1.0/24 (host bits set included); undefined when it is one. */
export function cidrProblem(cidr: string): string | undefined {
    const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
    if (!m || !isIPv4(m[1])) return `"${cidr}" is not a CIDR like 10.213.1.0/24`;
    const prefix = Number(m[2]);
    if (prefix > 32) return `"${cidr}": prefix length must be 0-32`;
    const base = toNumber(m[1]);
    const own = base - (base % 2 ** (32 - prefix));
    return own === base ? undefined : `"${cidr}" has host bits set; did you mean ${toAddress(own)}/${prefix}?`;
}

/** `cidr` split into its address and prefix; throws with `cidrProblem`'s words when it is not a subnet. */
export function parseCidr(cidr: string): Subnet {
    const problem = cidrProblem(cidr);
    if (problem !== undefined) throw new Error(problem);
    const [address, prefix] = cidr.split("/");
    return { address, prefix: Number(prefix) };
}

/** `address` lies in the subnet `cidr` (false when either is not valid). */
export function subnetContains(cidr: string, address: string): boolean {
    if (cidrProblem(cidr) !== undefined || !isIPv4(address)) return false;
    const subnet = parseCidr(cidr);
    const list = new BlockList();
    list.addSubnet(subnet.address, subnet.prefix, "ipv4");
    return list.check(address, "ipv4");
}

/** `address` lies in the subnet `cidr` and is neither the subnet's own address nor its broadcast address. */
export function isHostAddress(cidr: string, address: string): boolean {
    if (!subnetContains(cidr, address)) return false;
    const subnet = parseCidr(cidr);
    const base = toNumber(subnet.address);
    return address !== subnet.address && toNumber(address) !== base + 2 ** (32 - subnet.prefix) - 1;
}

/** The subnet's first host address (10.213.1.1 of 10.213.1.0/24): the lab's gateway. */
export function firstHostAddress(cidr: string): string {
    return toAddress(toNumber(parseCidr(cidr).address) + 1);
}
