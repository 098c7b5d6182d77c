/**
 * The stack configuration (`dynoform:*` keys in stacks/Pulumi.<stack>.yaml), validated as a
 * whole before any resource is declared: every problem is reported at once, each with its fix.
 */
import { X509Certificate } from "node:crypto";
import { PUBLIC_KEY } from "../remote/connection";
import { cidrProblem, firstHostAddress, isHostAddress, isIPv4, parseCidr, subnetContains, toNumber, withinPrivateRange } from "./network";
import { isObject, wholeNumber } from "./values";
import { parseRotation, parseRotationPhases, Rotation, RotationPhases } from "./rotation";
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

/** The docker target: hosts as containers running systemd on one Docker engine (components/hosts/docker.ts). */
export interface DockerSpec {
    /** The engine's endpoint: `unix:///var/run/docker.sock` or `ssh://user@box`. */
    host: string;
    /** The user-defined bridge network the containers share (its subnet is `privateSubnet`). */
    network: string;
    /** The network's gateway (the first host address): the Docker host's own address on it. */
    gateway: string;
    /** `packages`: the stack's Debian packages preinstalled in the image (fast); `base`: without them. */
    image: "base" | "packages";
    /** What the Docker host publishes for clients: the edge's 80/443 and the control host's sshd (git), on `address`. */
    publish: { address: string; http: number; https: number; git: number };
    /**
     * Where Pulumi reaches each host's sshd: published on `bind`, dialled at `address`. Each host's
     * port (its HostSpec `port`, inside the container and on the Docker host alike) is `portBase` +
     * its offset in privateSubnet.
     */
    ssh: { address: string; bind: string; portBase: number };
}

/** The stack configuration, validated, with its defaults. */
export interface StackConfig {
    target: Target;
    domain: string;
    hosts: HostSpec[];
    lab?: LabSpec;
    /** The aws target's section (dynoform:aws): its hosts are made from it, not listed. */
    aws?: AwsSpec;
    docker?: DockerSpec;
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
    /** dynoform:pgBackupRetentionDays: base backups (and the WAL they need) are kept this long; unset: 7. */
    pgBackupRetentionDays?: number;
    /** dynoform:backupHost: the host whose disk keeps PostgreSQL's backups (never the data host); unset: the control host. */
    backupHost?: string;
    /**
     * The address clients use on lab and servers stacks with two or more edges: VRRP (keepalived)
     * keeps it on one live edge and moves it when that edge dies. Absent: clients use an edge's own address.
     */
    floatingAddress?: string;
    /** dynoform:rotation: each kind of generated secret's rotation counter (config/rotation.ts); absent: none rotated yet. */
    rotation?: Rotation;
    /** dynoform:rotationPhase: the phase of each rotation under way (config/rotation.ts); absent: none. */
    rotationPhase?: RotationPhases;
}

/** Raw values as read from Pulumi config (untrusted). */
export interface RawStackConfig {
    target?: unknown;
    domain?: unknown;
    hosts?: unknown;
    lab?: unknown;
    aws?: unknown;
    docker?: unknown;
    privateSubnet?: unknown;
    memcachedMemoryMb?: unknown;
    routerPort?: unknown;
    varnishCacheSize?: unknown;
    extraCaCertificates?: unknown;
    pgBackupRetentionDays?: unknown;
    backupHost?: unknown;
    floatingAddress?: unknown;
    rotation?: unknown;
    rotationPhase?: unknown;
    /** The passphrase the engine encrypts this stack's secrets with (PULUMI_CONFIG_PASSPHRASE), if any. */
    secretsPassphrase?: unknown;
}

/**
 * The published passphrase of the lab stacks (scripts/env.sh sets it for them). It guards nothing:
 * a stack on real servers must never keep its root SSH key and tokens under it.
 */
export const LAB_PASSPHRASE = "dynoform-local-lab";

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

/** A subnet of hosts that lies wholly inside a private range. */
function isPrivateRange(cidr: string): boolean {
    return isHostSubnet(cidr) && withinPrivateRange(cidr);
}

function integer(raw: unknown, key: string, min: number, max: number, fallback: number, problems: string[]): number {
    if (raw === undefined) return fallback;
    const n = wholeNumber(raw, min, max);
    if (n === undefined) {
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

const DOCKER_NETWORK = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const DOCKER_UNIX_HOST = /^unix:\/\/\/\S+$/;
const DOCKER_SSH_HOST = /^ssh:\/\/(?:[a-z_][a-z0-9_.-]*@)?([A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(?::(\d{1,5}))?$/;
const DNS_OR_IPV4 = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;


/**
 * The docker target's section. Runs after the hosts and privateSubnet are read, since every host's
 * SSH port and address depend on the subnet; problems go to `problems`, each with its fix.
 */
function parseDocker(raw: unknown, hosts: HostSpec[], subnet: string | undefined, problems: string[]): { spec: DockerSpec; sshPorts: Map<string, number> } | undefined {
    const section = raw ?? {};
    if (!isObject(section)) {
        problems.push(`dynoform:docker must be an object such as {host: unix:///var/run/docker.sock} (got ${JSON.stringify(raw)})`);
        return undefined;
    }
    const host = section.host ?? "unix:///var/run/docker.sock";
    let remote: { box: string; port?: string } | undefined;
    if (typeof host !== "string" || !(DOCKER_UNIX_HOST.test(host) || DOCKER_SSH_HOST.test(host))) {
        problems.push(
            `dynoform:docker.host must be unix:///var/run/docker.sock (an engine on this machine) or ssh://user@box (an engine reached by SSH) ` +
                `(got ${JSON.stringify(section.host)}): set it with \`pulumi config set --path dynoform:docker.host unix:///var/run/docker.sock\`; ` +
                `tcp:// is refused (it would drive the engine unauthenticated or need TLS material this stack does not take)`,
        );
    } else if (host.startsWith("ssh://")) {
        const [, box, , port] = DOCKER_SSH_HOST.exec(host)!;
        remote = { box, port };
    }
    const network = section.network ?? "dynoform";
    if (typeof network !== "string" || !DOCKER_NETWORK.test(network)) {
        problems.push(`dynoform:docker.network must be a Docker network name (lowercase letters, digits, '.', '_', '-'; got ${JSON.stringify(section.network)})`);
    }
    const image = section.image ?? "packages";
    if (image !== "base" && image !== "packages") {
        problems.push(`dynoform:docker.image must be base or packages (got ${JSON.stringify(section.image)})`);
    }
    const publishRaw = section.publish ?? {};
    if (!isObject(publishRaw)) {
        problems.push(`dynoform:docker.publish must be an object such as {address: 127.0.0.1, http: 80, https: 443, git: 2222} (got ${JSON.stringify(section.publish)})`);
    }
    const publishIn = isObject(publishRaw) ? publishRaw : {};
    // Where the Docker host publishes the hosts' sshd: its loopback unless an address is named,
    // never every address unless 0.0.0.0 is named.
    const sshBind = section.sshBind ?? "127.0.0.1";
    const bind = typeof sshBind === "string" && isIPv4(sshBind) ? sshBind : "127.0.0.1";
    if (bind !== sshBind) {
        problems.push(`dynoform:docker.sshBind must be an IPv4 address of the Docker host that this machine reaches, or 127.0.0.1 (got ${JSON.stringify(section.sshBind)})`);
    }
    // git push and the edge go where the hosts' sshd does unless the stack says otherwise.
    const publishAddress = publishIn.address ?? bind;
    if (typeof publishAddress !== "string" || !isIPv4(publishAddress)) {
        problems.push(`dynoform:docker.publish.address must be an IPv4 address of the Docker host: 127.0.0.1 (this machine only) or 0.0.0.0 (every address) (got ${JSON.stringify(publishIn.address)})`);
    }
    const publish = {
        address: String(publishAddress),
        http: integer(publishIn.http, "docker.publish.http", 1, 65535, 80, problems),
        https: integer(publishIn.https, "docker.publish.https", 1, 65535, 443, problems),
        git: integer(publishIn.git, "docker.publish.git", 1, 65535, 2222, problems),
    };
    const portBase = integer(section.sshPortBase, "docker.sshPortBase", 1024, 65534, 22000, problems);
    // Dialled where they are published; on every address, at the engine's box (or this machine).
    const sshAddress = section.sshAddress ?? (bind === "0.0.0.0" ? (remote?.box ?? "127.0.0.1") : bind);
    if (typeof sshAddress !== "string" || !DNS_OR_IPV4.test(sshAddress)) {
        problems.push(`dynoform:docker.sshAddress must be the address or DNS name this machine reaches the Docker host at (got ${JSON.stringify(section.sshAddress)})`);
    }
    const ssh = { address: String(sshAddress), bind, portBase };

    const gateway = subnet !== undefined ? firstHostAddress(subnet) : "";
    const sshPorts = new Map<string, number>();
    const published = new Map<number, string>([
        [publish.http, "docker.publish.http"],
        [publish.https, "docker.publish.https"],
    ]);
    if (published.has(publish.git)) problems.push(`dynoform:docker.publish.git ${publish.git} is also ${published.get(publish.git)}: give each published port its own number`);
    published.set(publish.git, "docker.publish.git");
    if (publish.http === publish.https) problems.push(`dynoform:docker.publish.http and https are both ${publish.http}: give each its own port`);
    for (const h of hosts) {
        const label = `${h.name} (docker target)`;
        if (h.privateAddress !== h.address || h.publicAddress !== h.address) {
            problems.push(`${label}: a container has one address on the Docker network: remove privateAddress and publicAddress and set address to its address in dynoform:privateSubnet`);
        }
        if (h.port !== 22) problems.push(`${label}: port ${h.port}: the stack gives each container its SSH port (docker.sshPortBase + its offset in privateSubnet): remove port`);
        if (h.user !== "root") problems.push(`${label}: user ${h.user}: the stack's key is root's: remove user`);
        if (h.hostKey !== undefined) problems.push(`${label}: hostKey is made by the stack for each container and pinned: remove hostKey`);
        if (subnet === undefined || !isIPv4(h.address) || !subnetContains(subnet, h.address)) continue; // reported with privateSubnet
        if (!isHostAddress(subnet, h.address) || h.address === gateway) {
            problems.push(`${label}: address ${h.address} is the subnet's own, its broadcast or the gateway ${gateway} (the Docker host's address on the network): pick another address in ${subnet}`);
            continue;
        }
        const port = portBase + toNumber(h.address) - toNumber(parseCidr(subnet).address);
        if (port > 65535) {
            problems.push(`${label}: its SSH port would be ${port} (docker.sshPortBase ${portBase} + its offset in ${subnet}): lower dynoform:docker.sshPortBase or pick a lower address`);
        } else if (published.has(port)) {
            problems.push(`${label}: its SSH port ${port} (docker.sshPortBase + its offset in ${subnet}) is also dynoform:${published.get(port)}: move docker.sshPortBase or that port`);
        } else {
            sshPorts.set(h.name, port);
        }
    }
    const edges = hosts.filter((h) => h.roles.includes("edge"));
    if (edges.length > 1) {
        problems.push(
            `role edge is on ${edges.length} hosts (${edges.map((h) => h.name).join(", ")}): the docker target publishes one edge's 80/443 on the Docker host; keep edge on one host`,
        );
    }
    // A remote engine's loopback is reached through a tunnel only: the stack says so by dialling 127.0.0.1.
    const tunnelled = section.sshAddress !== undefined && isLoopbackName(ssh.address);
    if (remote !== undefined && section.sshBind === undefined && !tunnelled) {
        problems.push(unreachableRemoteSshd(String(host), remote.port, [...sshPorts.values(), publish.git]));
    }
    return { spec: { host: String(host), network: String(network), gateway, image: image as DockerSpec["image"], publish, ssh }, sshPorts };
}

const isLoopbackName = (address: string): boolean => address === "localhost" || /^127\./.test(address);

/**
 * A remote engine whose sshd would sit on its own loopback: the two ways to reach them, the
 * tunnel spelt out with every host's port and the git port.
 */
function unreachableRemoteSshd(engine: string, enginePort: string | undefined, ports: number[]): string {
    const login = engine.replace(/^ssh:\/\//, "").replace(/:\d+$/, "");
    const forwards = ports.map((p) => `-L ${p}:127.0.0.1:${p}`).join(" ");
    return (
        `dynoform:docker.host ${engine} is a remote engine: the hosts' sshd would be published on the box's 127.0.0.1, which this machine cannot reach. ` +
        "Publish them on an address of the box this machine reaches (`pulumi config set --path dynoform:docker.sshBind <the box's IPv4 address>`; " +
        "anyone who reaches it reaches root's sshd, key only), or keep them on the box's loopback and tunnel to it " +
        `(\`pulumi config set --path dynoform:docker.sshAddress 127.0.0.1\`, then keep \`ssh -N ${enginePort ? `-p ${enginePort} ` : ""}${forwards} ${login}\` running)`
    );
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
    if (target !== "lab" && raw.lab !== undefined) {
        problems.push(`dynoform:lab is set but dynoform:target is ${String(raw.target)}: remove dynoform:lab (\`pulumi config rm dynoform:lab\`), or set dynoform:target lab`);
    }
    if (target !== "aws" && raw.aws !== undefined) {
        problems.push(`dynoform:aws is set but dynoform:target is ${String(raw.target ?? "lab")}: remove dynoform:aws (\`pulumi config rm dynoform:aws\`), or set dynoform:target aws`);
    }
    if (target !== "docker" && raw.docker !== undefined) {
        problems.push(`dynoform:docker is set but dynoform:target is ${String(raw.target ?? "lab")}: set dynoform:target docker or remove dynoform:docker`);
    }

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
                if (target === "docker" && !subnetContains(subnet, host.address)) {
                    problems.push(`${host.name}: address ${host.address} is outside dynoform:privateSubnet ${subnet} (the Docker network's subnet): pick an address in it`);
                } else if (target !== "docker" && !subnetContains(subnet, host.privateAddress)) {
                    problems.push(
                        `${host.name}: private address ${host.privateAddress} is outside dynoform:privateSubnet ${subnet}: set privateAddress ` +
                            `(it defaults to address, the SSH address; internal services listen on the private one, and only there do they answer)`,
                    );
                } else if (target !== "docker" && !isHostAddress(subnet, host.privateAddress)) {
                    problems.push(`${host.name}: private address ${host.privateAddress} is the network or broadcast address of dynoform:privateSubnet ${subnet}: set privateAddress to the host's own address on it`);
                }
            }
            if (target !== "docker") {
                const byPrivate = new Map<string, string[]>();
                for (const host of hosts) byPrivate.set(host.privateAddress, [...(byPrivate.get(host.privateAddress) ?? []), host.name]);
                for (const [address, names] of byPrivate) {
                    if (names.length > 1) {
                        problems.push(`private address ${address} is given to ${names.join(" and ")}: each host needs its own privateAddress on dynoform:privateSubnet ${subnet} (it defaults to address)`);
                    }
                }
            }
        }
    }

    const dockerSection = target === "docker" ? parseDocker(raw.docker, hosts, privateSubnet, problems) : undefined;
    const docker = dockerSection?.spec;

    const memcachedMemoryMb = integer(raw.memcachedMemoryMb, "memcachedMemoryMb", 16, 65536, 64, problems);
    const routerPort = integer(raw.routerPort, "routerPort", 1024, 65534, 8080, problems);
    const varnishCacheSize = raw.varnishCacheSize ?? "256m";
    if (typeof varnishCacheSize !== "string" || !SIZE.test(varnishCacheSize)) {
        problems.push(`dynoform:varnishCacheSize must be a size such as 256m or 1g (got ${JSON.stringify(raw.varnishCacheSize)})`);
    }

    const extraCaCertificates = raw.extraCaCertificates === undefined ? undefined : caCertificates(raw.extraCaCertificates, problems);
    const pgBackupRetentionDays = raw.pgBackupRetentionDays === undefined ? undefined : integer(raw.pgBackupRetentionDays, "pgBackupRetentionDays", 1, 3650, 7, problems);
    const backupHost = raw.backupHost === undefined ? undefined : backupHostName(raw.backupHost, hosts, problems);
    const rotation = raw.rotation === undefined ? undefined : parseRotation(raw.rotation, problems);
    const rotationPhase = raw.rotationPhase === undefined ? undefined : parseRotationPhases(raw.rotationPhase, problems);
    const floatingAddress =
        raw.floatingAddress === undefined ? undefined : floatingAddressOf(raw.floatingAddress, { target, hosts, lab, privateSubnet }, problems);

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
        // A container's sshd listens on the port the Docker host publishes it on: the one port
        // Pulumi, the firewall and the other hosts (the control host's add-ons key) all use.
        hosts: dockerSection ? hosts.map((h) => ({ ...h, port: dockerSection.sshPorts.get(h.name)! })) : hosts,
        lab,
        ...(aws ? { aws } : {}),
        docker,
        privateSubnet: privateSubnet!,
        // The Docker network's gateway is where the Docker host's own connections and published
        // ports' userland proxy arrive from: like the lab's gateway, it stands for the outside.
        outsideAddresses: lab ? [lab.gateway] : docker ? [docker.gateway] : [],
        memcachedMemoryMb,
        routerPort,
        routerControlPort: routerPort + 1,
        agentPort: 5100,
        varnishPort: 6081,
        varnishCacheSize: String(varnishCacheSize),
        ...(extraCaCertificates ? { extraCaCertificates } : {}),
        ...(pgBackupRetentionDays !== undefined ? { pgBackupRetentionDays } : {}),
        ...(backupHost !== undefined ? { backupHost } : {}),
        ...(floatingAddress ? { floatingAddress } : {}),
        ...(rotation ? { rotation } : {}),
        ...(rotationPhase && Object.keys(rotationPhase).length > 0 ? { rotationPhase } : {}),
    };
}

/**
 * The most edges a floating address takes: their VRRP priorities step down by 10 from 200
 * (components/edge/keepalived.ts), and a priority stays above 0.
 */
export const FLOATING_ADDRESS_MAX_EDGES = 20;

/**
 * dynoform:floatingAddress, checked against the target, the hosts and the private network. It goes
 * on the interface that holds each edge's private address, and the edges' VRRP adverts travel
 * between their private addresses: so it must be a free address of that network. One edge is
 * refused: with no peer to send adverts to, keepalived would fall back to multicast, and the address
 * would promise a fail-over that cannot happen.
 */
function floatingAddressOf(
    raw: unknown,
    where: { target: Target; hosts: HostSpec[]; lab: LabSpec | undefined; privateSubnet: string | undefined },
    problems: string[],
): string | undefined {
    const { target, hosts, lab, privateSubnet } = where;
    if (target === "aws") {
        problems.push("dynoform:floatingAddress is not used by target aws: the aws target puts a Network Load Balancer over the edges; remove dynoform:floatingAddress");
        return undefined;
    }
    if (target === "docker") {
        problems.push(
            "dynoform:floatingAddress is not used by target docker: it publishes one edge's 80/443 on the Docker host (dynoform:docker.publish), " +
                "and a floating address moves between two or more edges; remove dynoform:floatingAddress",
        );
        return undefined;
    }
    if (typeof raw !== "string" || !isIPv4(raw)) {
        problems.push(
            `dynoform:floatingAddress must be an IPv4 address such as 10.0.0.9 (got ${JSON.stringify(raw)}): a free address of the edges' private network, which VRRP moves to a live edge`,
        );
        return undefined;
    }
    if (lab) {
        if (!isHostAddress(lab.subnet, raw) || raw === lab.gateway) {
            problems.push(`dynoform:floatingAddress ${raw} must be inside dynoform:lab.subnet ${lab.subnet} (.2 to .254; .1 is the lab gateway): pick a free address there`);
        }
    } else if (privateSubnet !== undefined && !isHostAddress(privateSubnet, raw)) {
        problems.push(
            `dynoform:floatingAddress ${raw} must be a host address inside dynoform:privateSubnet ${privateSubnet}: it moves on the interface that holds ` +
                `each edge's private address, where the edges' VRRP adverts travel; pick a free address there (and point clients, or your router's forwarding, at it)`,
        );
    }
    const owner = hosts.find((h) => [h.address, h.privateAddress, h.publicAddress].includes(raw));
    if (owner) problems.push(`dynoform:floatingAddress ${raw} is also ${owner.name}'s address: pick an address no host uses (it moves between the edges)`);
    const edges = hosts.filter((h) => h.roles.includes("edge"));
    if (edges.length === 1) {
        problems.push(
            `dynoform:floatingAddress needs two or more hosts with role edge (found one, ${edges[0].name}): add "edge" to another host's roles, ` +
                `or remove dynoform:floatingAddress and point clients at ${edges[0].name}'s own address`,
        );
    } else if (edges.length > FLOATING_ADDRESS_MAX_EDGES) {
        problems.push(`dynoform:floatingAddress takes at most ${FLOATING_ADDRESS_MAX_EDGES} edges (found ${edges.length}): keep edge on fewer hosts`);
    }
    return raw;
}

/** dynoform:backupHost: a host of dynoform:hosts other than the data host (a backup beside its database is no backup). */
function backupHostName(raw: unknown, hosts: HostSpec[], problems: string[]): string | undefined {
    const host = hosts.find((h) => h.name === raw);
    if (typeof raw !== "string" || !host) {
        problems.push(`dynoform:backupHost must name a host of dynoform:hosts (${hosts.map((h) => h.name).join(", ")}); got ${JSON.stringify(raw)}`);
        return undefined;
    }
    if (host.roles.includes("data")) {
        problems.push(`dynoform:backupHost ${raw} is the data host: backups must live on another host's disk (unset it to use the control host)`);
        return undefined;
    }
    return raw;
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
