// Pure parts of the lab host source: input validation, names, paths and the files written
// into each machine. No I/O here, so it is unit-tested directly.
import * as path from "path";
import { cidrProblem, firstHostAddress, isHostAddress, isIPv4, parseCidr, subnetContains } from "../../config/network";

export interface LabNetwork {
    /** Short name, used in the bridge (`dfbr-<name>`), nft table and state dir. [a-z0-9-], ≤ 10 chars. */
    name: string;
    /** Linux bridge the machines attach to; defaults to `dfbr-<name>`. ≤ 15 chars. */
    bridge: string;
    /** The lab /24, e.g. "10.213.1.0/24". */
    subnet: string;
    /** The bridge's address and the machines' default gateway, e.g. "10.213.1.1". */
    gateway: string;
}

export type LabImage = "base" | "packages";

/** Inputs of one LabHost resource, after defaults. */
export interface LabHostInputs {
    network: LabNetwork;
    /** Host name inside the machine ("edge-1"). [a-z0-9-], ≤ 31 chars. */
    name: string;
    /** Static address on the network's subnet. */
    address: string;
    image: LabImage;
    /** Memory limit in bytes, or with a K/M/G suffix; applied through the memory cgroup when available. */
    memoryMax?: string;
}

/** Outputs of one LabHost resource. */
export interface LabHostOutputs extends LabHostInputs {
    address: string;
    /** The machine's sshd host key, `"ssh-ed25519 AAAA..."`. */
    hostKey: string;
    /** OpenSSH private key for root (a Pulumi secret). */
    privateKey: string;
    /** systemd-nspawn machine name, `<network>-<name>`. */
    machineName: string;
    /** State directory of the machine (overlay upper/work, keys, boot log, pid file). */
    dir: string;
}

/** The lab's address block: lab networks must be /24s inside it. */
export const LAB_BLOCK = "10.213.0.0/16";

const NAME_RE = /^[a-z][a-z0-9-]*$/;

export class LabConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "LabConfigError";
    }
}

export function bridgeName(network: string): string {
    return `dfbr-${network}`;
}

/** nft identifiers take no '-'. */
export function nftTableName(network: string): string {
    return `dynoform_${network.replace(/-/g, "_")}`;
}

export function machineName(network: string, name: string): string {
    return `${network}-${name}`;
}

/** Defaults for a network: bridge `dfbr-<name>`, gateway `.1` of the subnet. */
export function labNetwork(args: { name: string; subnet: string; bridge?: string; gateway?: string }): LabNetwork {
    const net: LabNetwork = {
        name: args.name,
        subnet: args.subnet,
        bridge: args.bridge ?? bridgeName(args.name),
        gateway: args.gateway ?? (cidrProblem(args.subnet) === undefined ? firstHostAddress(args.subnet) : ""),
    };
    validateNetwork(net);
    return net;
}

/** The lab's subnet rules (a /24 inside LAB_BLOCK), as LabConfigErrors. */
function labSubnet(where: string, subnet: string): void {
    const problem = cidrProblem(subnet);
    if (problem !== undefined) throw new LabConfigError(problem);
    const { address, prefix } = parseCidr(subnet);
    if (prefix !== 24) throw new LabConfigError(`${where}: subnet ${subnet} must be a /24`);
    if (!subnetContains(LAB_BLOCK, address)) {
        throw new LabConfigError(`${where}: subnet ${subnet} must lie inside the lab block ${LAB_BLOCK} (local = 10.213.1.0/24, tests 10.213.2.0/24 and up)`);
    }
}

function validateNetwork(net: LabNetwork): void {
    const where = `lab network "${net.name}"`;
    if (!NAME_RE.test(net.name) || net.name.length > 10) {
        throw new LabConfigError(`${where}: the name must be 1-10 characters of a-z, 0-9 and '-', starting with a letter (it becomes the bridge name dfbr-<name>)`);
    }
    if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(net.bridge)) {
        throw new LabConfigError(`${where}: bridge "${net.bridge}" must be a Linux interface name of at most 15 characters`);
    }
    labSubnet(where, net.subnet);
    if (!isIPv4(net.gateway)) throw new LabConfigError(`${where}: gateway "${net.gateway}" is not an IPv4 address`);
    if (!isHostAddress(net.subnet, net.gateway)) {
        throw new LabConfigError(`${where}: gateway ${net.gateway} must be a host address of ${net.subnet} (usually .1)`);
    }
}

export function validateHost(inputs: LabHostInputs): void {
    validateNetwork(inputs.network);
    const where = `lab host "${inputs.name}"`;
    if (!NAME_RE.test(inputs.name) || inputs.name.length > 31) {
        throw new LabConfigError(`${where}: the name must be 1-31 characters of a-z, 0-9 and '-', starting with a letter`);
    }
    if (!isIPv4(inputs.address)) throw new LabConfigError(`${where}: "${inputs.address}" is not an IPv4 address`);
    if (!isHostAddress(inputs.network.subnet, inputs.address)) {
        throw new LabConfigError(`${where}: address ${inputs.address} is not a host address of ${inputs.network.subnet}`);
    }
    if (inputs.address === inputs.network.gateway) {
        throw new LabConfigError(`${where}: address ${inputs.address} is the network's gateway (the bridge); pick another`);
    }
    if (inputs.image !== "base" && inputs.image !== "packages") {
        throw new LabConfigError(`${where}: image must be "base" or "packages", not "${inputs.image}"`);
    }
    if (inputs.memoryMax !== undefined) parseMemory(inputs.memoryMax, where);
}

/** "512M" → bytes. */
export function parseMemory(value: string, where = "memoryMax"): number {
    const m = /^(\d+)([KMGT]?)$/i.exec(String(value).trim());
    if (!m) throw new LabConfigError(`${where}: memoryMax "${value}" must be bytes or a number with K, M, G or T`);
    const mult = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2].toUpperCase() as "" | "K" | "M" | "G" | "T"];
    return Number(m[1]) * mult;
}

/** systemd-networkd file for the container side of the veth (host0). */
export function networkdFile(address: string, subnet: string, gateway: string, dns: string[]): string {
    const prefix = parseCidr(subnet).prefix;
    return [
        "# Written by dynoform's lab host source.",
        "[Match]",
        "Name=host0",
        "",
        "[Network]",
        `Address=${address}/${prefix}`,
        `Gateway=${gateway}`,
        ...dns.map((d) => `DNS=${d}`),
        "LinkLocalAddressing=no",
        "IPv6AcceptRA=no",
        "",
    ].join("\n");
}

/**
 * The resolvers a lab machine uses: the machine's own from resolv.conf, minus loopback ones
 * (a stub like systemd-resolved's 127.0.0.53 is unreachable from a container); `fallback`
 * (e.g. /run/systemd/resolve/resolv.conf) is read when nothing usable is left.
 */
export function resolvers(resolvConf: string, fallback?: string): { nameservers: string[]; search: string[] } {
    const parse = (text: string) => {
        const nameservers: string[] = [];
        const search: string[] = [];
        for (const line of text.split("\n")) {
            const words = line.trim().split(/\s+/);
            if (words[0] === "nameserver" && words[1] && /^[\d.]+$/.test(words[1]) && !words[1].startsWith("127.")) {
                nameservers.push(words[1]);
            } else if ((words[0] === "search" || words[0] === "domain") && words.length > 1) {
                search.push(...words.slice(1));
            }
        }
        return { nameservers, search };
    };
    const first = parse(resolvConf);
    if (first.nameservers.length > 0 || fallback === undefined) return first;
    return parse(fallback);
}

export function resolvConfFile(r: { nameservers: string[]; search: string[] }): string {
    const lines = ["# Copied from the lab machine's host by dynoform."];
    if (r.search.length) lines.push(`search ${r.search.join(" ")}`);
    for (const ns of r.nameservers) lines.push(`nameserver ${ns}`);
    return lines.join("\n") + "\n";
}

/** The nftables table giving a lab network outbound NAT (`nft -f -`). */
export function nftRuleset(net: LabNetwork): string {
    const t = nftTableName(net.name);
    return [
        `table ip ${t} {`,
        `  chain postrouting {`,
        `    type nat hook postrouting priority srcnat; policy accept;`,
        `    ip saddr ${net.subnet} ip daddr != ${net.subnet} masquerade`,
        `  }`,
        `  chain forward {`,
        `    type filter hook forward priority filter; policy accept;`,
        `    iifname "${net.bridge}" accept`,
        `    oifname "${net.bridge}" ct state established,related accept`,
        `  }`,
        `}`,
        "",
    ].join("\n");
}

/** Where the lab keeps a machine's state: `<root>/.lab/<network>/<name>/`. */
export function hostDir(projectRoot: string, network: string, name: string): string {
    return path.join(projectRoot, ".lab", network, name);
}

/** Paths inside a host dir. */
export function hostPaths(dir: string) {
    return {
        dir,
        root: path.join(dir, "root"),
        upper: path.join(dir, "upper"),
        work: path.join(dir, "work"),
        aptUpper: path.join(dir, "apt-upper"),
        pidFile: path.join(dir, "nspawn.pid"),
        bootLog: path.join(dir, "boot.log"),
        clientKey: path.join(dir, "id_ed25519"),
        knownHosts: path.join(dir, "known_hosts"),
    };
}

export function imageDir(cacheDir: string, image: LabImage): string {
    return path.join(cacheDir, "lab", image === "base" ? "base-bookworm" : "packages-bookworm");
}

export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
    return env.DYNOFORM_CACHE || path.join(env.HOME || "/root", ".cache", "dynoform");
}

/** The systemd-nspawn command line that boots a machine. */
export function nspawnArgs(opts: { root: string; machine: string; hostname: string; bridge: string; aptLower: string; aptUpper: string }): string[] {
    return [
        "-D", opts.root,
        "-M", opts.machine,
        `--hostname=${opts.hostname}`,
        "-b",
        "--register=no",
        "--keep-unit",
        `--network-bridge=${opts.bridge}`,
        // The guest's console (boot and shutdown progress, "A stop job is running...") goes to
        // boot.log: the first thing to read when a machine does not come back.
        "--console=pipe",
        "--link-journal=no",
        "--resolv-conf=off",
        "--timezone=off",
        // The shared apt archive: an overlay per machine, so hosts share downloads without
        // sharing apt's lock file (a plain bind mount would make concurrent apt runs on
        // different hosts fail with "Could not get lock").
        `--overlay=${opts.aptLower}:${opts.aptUpper}:/var/cache/apt/archives`,
    ];
}

/** "ssh-ed25519 AAAA... comment" → "ssh-ed25519 AAAA..." */
export function publicKeyOnly(line: string): string {
    const [type, key] = line.trim().split(/\s+/);
    if (!type || !key) throw new Error(`not an OpenSSH public key: "${line.trim().slice(0, 40)}"`);
    return `${type} ${key}`;
}
