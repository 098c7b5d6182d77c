/**
 * The stack configuration (`dynoform:*` keys in stacks/Pulumi.<stack>.yaml), validated as a
 * whole before any resource is declared: every problem is reported at once, each with its fix.
 */
import { X509Certificate } from "node:crypto";
import { PUBLIC_KEY } from "../remote/connection";
import { cidrProblem, firstHostAddress, isHostAddress, isIPv4, parseCidr, subnetContains } from "./network";
import { AwsSpec, awsHostNames, parseAwsConfig } from "../hosts/aws/config";

export const ROLES = ["edge", "dyno", "data", "control"] as const;
export type Role = (typeof ROLES)[number];

export const TARGETS = ["lab", "servers", "aws", "docker"] as const;
export type Target = (typeof TARGETS)[number];

export interface HostSpec {
    name: string;
    roles: Role[];
    /** Address to reach the host by SSH; for the lab, its address on the lab bridge; "" for aws (the instance's, once made). */
    address: string;
    /** Address on the private network (defaults to `address`). */
    privateAddress: string;
    /** Address clients reach (defaults to `address`). */
    publicAddress: string;
    user: string;
    port: number;
    /** Pinned SSH host key (servers target). */
    hostKey?: string;
}

export interface LabSpec {
    network: string;
    subnet: string;
    gateway: string;
    /** `packages`: the cached image with the stack's Debian packages preinstalled (fast); `base`: bare debootstrap (the cold path). */
    image: "base" | "packages";
}

/** The stack configuration, validated, with its defaults. */
export interface StackConfig {
    target: Target;
    domain: string;
    hosts: HostSpec[];
    lab?: LabSpec;
    /** The aws target's section (dynoform:aws): its hosts are made from it, not listed. */
    aws?: AwsSpec;
    privateSubnet: string;
    /** Addresses inside the private subnet that stand for the outside (the lab's gateway): refused like it. */
    outsideAddresses: string[];
    memcachedMemoryMb: number;
    routerPort: number;
    routerControlPort: number;
    agentPort: number;
    varnishPort: number;
    varnishCacheSize: string;
    /**
     * CA certificates (PEM) the control host trusts besides Debian's, for networks whose egress
     * re-signs TLS (a TLS-intercepting proxy): builds fetch runtimes and packages through it.
     */
    extraCaCertificates?: string;
}

/** Raw values as read from Pulumi config (untrusted). */
export interface RawStackConfig {
    target?: unknown;
    domain?: unknown;
    hosts?: unknown;
    lab?: unknown;
    aws?: unknown;
    privateSubnet?: unknown;
    memcachedMemoryMb?: unknown;
    routerPort?: unknown;
    varnishCacheSize?: unknown;
    extraCaCertificates?: unknown;
    /** The passphrase the engine encrypts this stack's secrets with (PULUMI_CONFIG_PASSPHRASE), if any. */
    secretsPassphrase?: unknown;
}

/**
 * The published passphrase of the lab stacks (scripts/env.sh sets it for them). It guards nothing:
 * a stack on real servers must never keep its root SSH key and tokens under it.
 */
export const LAB_PASSPHRASE = "dynoform-local-lab";

/** Address ranges that are private by definition (RFC 1918, RFC 6598 shared space). */
const PRIVATE_RANGES: [string, number][] = [
    ["10.0.0.0", 8],
    ["172.16.0.0", 12],
    ["192.168.0.0", 16],
    ["100.64.0.0", 10],
];

export class StackConfigError extends Error {
    constructor(public readonly problems: string[]) {
        super(
            `invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "StackConfigError";
    }
}

const HOST_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const LAB_NETWORK = /^[a-z0-9]{1,8}$/;
const SIZE = /^[1-9][0-9]*[kKmMgG]$/;

/** A subnet of /8 to /30: a private network of hosts. */
function isHostSubnet(value: string): boolean {
    if (cidrProblem(value) !== undefined) return false;
    const { prefix } = parseCidr(value);
    return prefix >= 8 && prefix <= 30;
}

/** The whole of `cidr` lies inside one of PRIVATE_RANGES. */
function isPrivateRange(cidr: string): boolean {
    if (!isHostSubnet(cidr)) return false;
    const subnet = parseCidr(cidr);
    return PRIVATE_RANGES.some(([base, prefix]) => subnet.prefix >= prefix && subnetContains(`${base}/${prefix}`, subnet.address));
}

function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function integer(raw: unknown, key: string, min: number, max: number, fallback: number, problems: string[]): number {
    if (raw === undefined) return fallback;
    const n = typeof raw === "string" ? Number(raw) : raw;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
        problems.push(`dynoform:${key} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
        return fallback;
    }
    return n;
}

function parseLab(raw: unknown, problems: string[]): LabSpec | undefined {
    if (!isObject(raw)) {
        problems.push("dynoform:lab is required for target lab: set it to {network: local, subnet: 10.213.1.0/24}");
        return undefined;
    }
    const network = raw.network;
    if (typeof network !== "string" || !LAB_NETWORK.test(network)) {
        problems.push(`dynoform:lab.network must be 1-8 lowercase letters or digits (got ${JSON.stringify(network)})`);
    }
    const subnet = raw.subnet;
    if (typeof subnet !== "string" || cidrProblem(subnet) !== undefined || parseCidr(subnet).prefix !== 24) {
        problems.push(`dynoform:lab.subnet must be a /24 such as 10.213.1.0/24 (got ${JSON.stringify(subnet)})`);
        return undefined;
    }
    const image = raw.image ?? "packages";
    if (image !== "base" && image !== "packages") {
        problems.push(`dynoform:lab.image must be base or packages (got ${JSON.stringify(raw.image)})`);
    }
    return { network: String(network), subnet: String(subnet), gateway: firstHostAddress(subnet), image: image as LabSpec["image"] };
}

function parseHost(
    raw: unknown,
    index: number,
    target: Target,
    problems: string[],
): HostSpec | undefined {
    const where = `dynoform:hosts[${index}]`;
    if (!isObject(raw)) {
        problems.push(`${where} must be an object like {name: edge-1, address: 10.213.1.10, roles: [edge]}`);
        return undefined;
    }
    const name = raw.name;
    const label = typeof name === "string" ? `${where} (${name})` : where;
    if (typeof name !== "string" || !HOST_NAME.test(name)) {
        problems.push(`${where}.name must be lowercase letters, digits and dashes, starting with a letter (got ${JSON.stringify(name)})`);
    }
    const roles: Role[] = [];
    if (!Array.isArray(raw.roles) || raw.roles.length === 0) {
        problems.push(`${label}.roles is missing: give at least one of ${ROLES.join(", ")}`);
    } else {
        for (const role of raw.roles) {
            if ((ROLES as readonly unknown[]).includes(role)) {
                roles.push(role as Role);
            } else {
                problems.push(`${label}: unknown role ${JSON.stringify(role)} (roles are: ${ROLES.join(", ")})`);
            }
        }
    }
    const address = raw.address;
    if (typeof address !== "string" || !isIPv4(address)) {
        problems.push(`${label}.address must be an IPv4 address (got ${JSON.stringify(address)})`);
    }
    const optionalAddress = (key: "privateAddress" | "publicAddress"): string | undefined => {
        const v = raw[key];
        if (v === undefined) return undefined;
        if (typeof v !== "string" || !isIPv4(v)) {
            problems.push(`${label}.${key} must be an IPv4 address (got ${JSON.stringify(v)})`);
            return undefined;
        }
        return v;
    };
    const privateAddress = optionalAddress("privateAddress");
    const publicAddress = optionalAddress("publicAddress");
    const port = integer(raw.port, `hosts[${index}].port`, 1, 65535, 22, problems);
    const user = raw.user === undefined ? "root" : raw.user;
    if (typeof user !== "string" || !/^[a-z_][a-z0-9_-]*$/.test(user)) {
        problems.push(`${label}.user must be a Unix user name (got ${JSON.stringify(user)})`);
    }
    const hostKey = raw.hostKey;
    if (target === "servers") {
        if (typeof hostKey !== "string" || !PUBLIC_KEY.test(hostKey.trim())) {
            problems.push(
                `${label}.hostKey is missing or malformed: pin it with \`ssh-keyscan -t ed25519 ${String(address)}\` ` +
                    `and set hostKey to "ssh-ed25519 AAAA..."`,
            );
        }
    }
    return {
        name: String(name),
        roles,
        address: String(address),
        privateAddress: privateAddress ?? String(address),
        publicAddress: publicAddress ?? String(address),
        user: String(user),
        port,
        hostKey: typeof hostKey === "string" ? hostKey.trim() : undefined,
    };
}

export function parseStackConfig(raw: RawStackConfig): StackConfig {
    const problems: string[] = [];

    const target = (raw.target ?? "lab") as Target;
    if (!TARGETS.includes(target)) {
        problems.push(`dynoform:target must be one of ${TARGETS.join(", ")} (got ${JSON.stringify(raw.target)})`);
    }

    const domain = raw.domain ?? "dynoform.test";
    if (typeof domain !== "string" || !DOMAIN.test(domain)) {
        problems.push(`dynoform:domain must be a DNS name such as apps.example.com (got ${JSON.stringify(raw.domain)})`);
    }

    const lab = target === "lab" ? parseLab(raw.lab, problems) : undefined;

    const aws = target === "aws" ? parseAwsConfig(raw.aws, problems) : undefined;

    const hosts: HostSpec[] = [];
    if (target === "aws") {
        // The aws target makes its hosts (addresses come with the instances, after this check).
        if (raw.hosts !== undefined) problems.push("dynoform:hosts is not used by target aws (it makes its hosts from dynoform:aws): remove it");
        if (raw.privateSubnet !== undefined) problems.push("dynoform:privateSubnet is not used by target aws (the private network is dynoform:aws.vpcCidr): remove it");
        for (const h of aws ? awsHostNames(aws) : []) {
            hosts.push({ name: h.name, roles: [h.role], address: "", privateAddress: "", publicAddress: "", user: "root", port: 22 });
        }
    } else if (!Array.isArray(raw.hosts) || raw.hosts.length === 0) {
        problems.push("dynoform:hosts is missing: list the hosts, e.g. [{name: edge-1, address: 10.213.1.10, roles: [edge, control]}]");
    } else {
        raw.hosts.forEach((h, i) => {
            const host = parseHost(h, i, target, problems);
            if (host) hosts.push(host);
        });
    }

    const seenNames = new Set<string>();
    const seenAddresses = new Set<string>();
    for (const host of hosts) {
        if (seenNames.has(host.name)) problems.push(`host name ${host.name} is used twice: host names must be unique`);
        if (host.address !== "" && seenAddresses.has(host.address)) problems.push(`address ${host.address} is used by two hosts: addresses must be unique`);
        seenNames.add(host.name);
        seenAddresses.add(host.address);
        if (lab && isIPv4(host.address)) {
            if (!isHostAddress(lab.subnet, host.address) || host.address === lab.gateway) {
                problems.push(`${host.name}: address ${host.address} must be inside dynoform:lab.subnet ${lab.subnet} (.2 to .254; .1 is the lab gateway)`);
            }
        }
    }

    for (const role of target === "aws" && !aws ? [] : ROLES) {
        const count = hosts.filter((h) => h.roles.includes(role)).length;
        if (count === 0) {
            problems.push(`role ${role} has no host: add "${role}" to the roles of one of dynoform:hosts`);
        } else if ((role === "data" || role === "control") && count > 1) {
            problems.push(`role ${role} must be on exactly one host (found ${count}): remove it from all but one`);
        }
    }

    let privateSubnet = lab?.subnet ?? aws?.vpcCidr;
    if (!lab && target !== "aws") {
        const subnet = raw.privateSubnet;
        if (typeof subnet !== "string" || !isHostSubnet(subnet)) {
            problems.push(`dynoform:privateSubnet is missing or not a CIDR such as 10.0.0.0/24: set the private network of your hosts`);
        } else if (!isPrivateRange(subnet)) {
            problems.push(
                `dynoform:privateSubnet ${subnet} is not a private range: internal services (agents, routers' control API, PostgreSQL, Memcached, the slug server) ` +
                    `listen on it. Use the hosts' private network (inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10) and set each host's privateAddress`,
            );
        } else {
            privateSubnet = subnet;
            for (const host of hosts) {
                if (!subnetContains(subnet, host.privateAddress)) {
                    problems.push(
                        `${host.name}: private address ${host.privateAddress} is outside dynoform:privateSubnet ${subnet}: set privateAddress ` +
                            `(it defaults to address, the SSH address; internal services listen on the private one, and only there do they answer)`,
                    );
                }
            }
        }
    }

    const memcachedMemoryMb = integer(raw.memcachedMemoryMb, "memcachedMemoryMb", 16, 65536, 64, problems);
    const routerPort = integer(raw.routerPort, "routerPort", 1024, 65534, 8080, problems);
    const varnishCacheSize = raw.varnishCacheSize ?? "256m";
    if (typeof varnishCacheSize !== "string" || !SIZE.test(varnishCacheSize)) {
        problems.push(`dynoform:varnishCacheSize must be a size such as 256m or 1g (got ${JSON.stringify(raw.varnishCacheSize)})`);
    }

    const extraCaCertificates = raw.extraCaCertificates === undefined ? undefined : caCertificates(raw.extraCaCertificates, problems);

    if (target !== "lab" && raw.secretsPassphrase === LAB_PASSPHRASE) {
        problems.push(
            `this ${target} stack's secrets (root SSH key, tokens, database password) would be encrypted with the lab's published passphrase: ` +
                `set your own PULUMI_CONFIG_PASSPHRASE (then \`pulumi stack change-secrets-provider passphrase\` if the stack already exists) or use a secrets provider (\`--secrets-provider awskms://...\`)`,
        );
    }

    if (problems.length > 0) {
        throw new StackConfigError(problems);
    }
    return {
        target,
        domain: String(domain),
        hosts,
        lab,
        ...(aws ? { aws } : {}),
        privateSubnet: privateSubnet!,
        outsideAddresses: lab ? [lab.gateway] : [],
        memcachedMemoryMb,
        routerPort,
        routerControlPort: routerPort + 1,
        agentPort: 5100,
        varnishPort: 6081,
        varnishCacheSize: String(varnishCacheSize),
        ...(extraCaCertificates ? { extraCaCertificates } : {}),
    };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const SET_CA = 'set it to your network\'s CA: pulumi config set dynoform:extraCaCertificates -- "$(cat proxy-ca.pem)"';

/** One or more PEM certificates and nothing else, each one Node can read; normalized to one per block. */
function caCertificates(raw: unknown, problems: string[]): string | undefined {
    if (typeof raw !== "string" || !raw.trim()) {
        problems.push(`dynoform:extraCaCertificates must be PEM text (-----BEGIN CERTIFICATE----- ...): ${SET_CA}`);
        return undefined;
    }
    const blocks = raw.match(PEM_CERTIFICATE) ?? [];
    if (blocks.length === 0 || raw.replace(PEM_CERTIFICATE, "").trim() !== "") {
        problems.push(`dynoform:extraCaCertificates holds something other than PEM certificates (only -----BEGIN CERTIFICATE----- blocks may be there): ${SET_CA}`);
        return undefined;
    }
    let ok = true;
    blocks.forEach((pem, i) => {
        try {
            new X509Certificate(pem);
        } catch (err) {
            ok = false;
            problems.push(`dynoform:extraCaCertificates: certificate ${i + 1} of ${blocks.length} cannot be read (${(err as Error).message}): ${SET_CA}`);
        }
    });
    return ok ? blocks.join("\n") + "\n" : undefined;
}

export function hostsWithRole(config: StackConfig, role: Role): HostSpec[] {
    return config.hosts.filter((h) => h.roles.includes(role));
}
