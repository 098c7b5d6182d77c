// Host source `servers`: existing Debian servers reached over SSH. No resources: each entry is
// validated and mapped to the Host interface (private key as a Pulumi secret, host key pinned).
import * as pulumi from "@pulumi/pulumi";
import { PUBLIC_KEY } from "../remote/connection";
import type { Host } from "./host";
import { cidrProblem, isIPv4, subnetContains } from "../config/network";

export interface ServerSpec {
    name: string;
    /** Address (or DNS name) SSH connects to; also the public address unless publicAddress is set. */
    address: string;
    /** Address on the private network (default: address). */
    privateAddress?: string;
    /** Address clients reach (default: address). */
    publicAddress?: string;
    /** Default "root". */
    user?: string;
    /** Default 22. */
    port?: number;
    /** OpenSSH private key; default: the one serverHosts is given for all servers. */
    privateKey?: pulumi.Input<string>;
    /** Pinned host key, `"ssh-ed25519 AAAA..."` (get it with `ssh-keyscan -t ed25519 <address>`). */
    hostKey?: string;
}

export interface ServerHostsArgs {
    hosts: ServerSpec[];
    /** CIDR holding every privateAddress (for pg_hba and firewalls). */
    privateSubnet: string;
}

export class ServerConfigError extends Error {
    constructor(public readonly problems: string[]) {
        super(`invalid servers host list (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ServerConfigError";
    }
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const DNS_NAME = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const PRIVATE_KEY = /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----[\s\S]+-----END ([A-Z]+ )?PRIVATE KEY-----/;

function privateKeyProblem(key: string, where: string): string | undefined {
    if (!PRIVATE_KEY.test(key)) {
        return `${where}: the private key is not an OpenSSH/PEM private key (expected "-----BEGIN OPENSSH PRIVATE KEY-----"); set it with \`pulumi config set --secret dynoform:sshPrivateKey -- < ~/.ssh/id_ed25519\``;
    }
    if (/ENCRYPTED|Proc-Type: 4,ENCRYPTED/.test(key)) {
        return `${where}: the private key is passphrase-protected; use a key without a passphrase (Pulumi keeps it as a secret)`;
    }
    return undefined;
}

/** Every problem with the list at once, each with its fix. */
function validateServers(args: ServerHostsArgs, privateKey: pulumi.Input<string> | undefined): string[] {
    const problems: string[] = [];
    const subnetValid = typeof args.privateSubnet === "string" && cidrProblem(args.privateSubnet) === undefined;
    if (!subnetValid) {
        problems.push(`privateSubnet ${JSON.stringify(args.privateSubnet)} is not a CIDR like 10.0.0.0/24: set dynoform:privateSubnet to your servers' private network`);
    }
    if (!Array.isArray(args.hosts) || args.hosts.length === 0) {
        problems.push("no servers listed: add {name, address, hostKey} entries to dynoform:hosts");
        return problems;
    }
    const names = new Set<string>();
    args.hosts.forEach((h, i) => {
        const where = `hosts[${i}]${typeof h?.name === "string" ? ` (${h.name})` : ""}`;
        if (typeof h?.name !== "string" || !NAME.test(h.name)) {
            problems.push(`${where}.name must be lowercase letters, digits and dashes, starting with a letter (got ${JSON.stringify(h?.name)})`);
        } else if (names.has(h.name)) {
            problems.push(`${where}: the name ${h.name} is used twice; names must be unique`);
        } else {
            names.add(h.name);
        }
        if (typeof h?.address !== "string" || !(isIPv4(h.address) || DNS_NAME.test(h.address))) {
            problems.push(`${where}.address must be an IPv4 address or DNS name SSH can reach (got ${JSON.stringify(h?.address)})`);
        }
        for (const key of ["privateAddress", "publicAddress"] as const) {
            const v = h?.[key];
            if (v !== undefined && (typeof v !== "string" || !(isIPv4(v) || DNS_NAME.test(v)))) {
                problems.push(`${where}.${key} must be an IPv4 address (got ${JSON.stringify(v)})`);
            }
        }
        const privateAddress = h?.privateAddress ?? h?.address;
        if (subnetValid && typeof privateAddress === "string" && isIPv4(privateAddress) && !subnetContains(args.privateSubnet, privateAddress)) {
            problems.push(`${where}: private address ${privateAddress} is outside privateSubnet ${args.privateSubnet}; set privateAddress to its address on that network`);
        }
        if (subnetValid && typeof privateAddress === "string" && !isIPv4(privateAddress)) {
            problems.push(`${where}: set privateAddress to its IPv4 address on ${args.privateSubnet} (got ${JSON.stringify(privateAddress)})`);
        }
        if (h?.user !== undefined && (typeof h.user !== "string" || !USER.test(h.user))) {
            problems.push(`${where}.user must be a Unix user name (got ${JSON.stringify(h.user)})`);
        }
        if (h?.port !== undefined && (!Number.isInteger(h.port) || h.port < 1 || h.port > 65535)) {
            problems.push(`${where}.port must be 1-65535 (got ${JSON.stringify(h.port)})`);
        }
        if (typeof h?.hostKey !== "string" || !PUBLIC_KEY.test(h.hostKey.trim())) {
            const addr = typeof h?.address === "string" ? h.address : "<address>";
            problems.push(
                `${where}.hostKey is ${h?.hostKey === undefined ? "missing" : "malformed"}: pin it with \`ssh-keyscan -t ed25519 ${addr}\` and set hostKey to "ssh-ed25519 AAAA..." (no host name field)`,
            );
        }
        const key = h?.privateKey ?? privateKey;
        if (key === undefined || key === "") {
            problems.push(`${where}: no private key: set dynoform:sshPrivateKey (pulumi config set --secret dynoform:sshPrivateKey -- < ~/.ssh/id_ed25519) or privateKey on the host`);
        } else if (typeof key === "string") {
            const p = privateKeyProblem(key, where);
            if (p) problems.push(p);
        }
    });
    return problems;
}

/**
 * Existing servers as Hosts: `{hosts, privateSubnet}` (the stack config has this shape), with
 * `privateKey` for every host that has none of its own; throws a ServerConfigError listing every
 * problem before anything is provisioned.
 */
export function serverHosts(args: ServerHostsArgs, privateKey?: pulumi.Input<string>): Host[] {
    const problems = validateServers(args, privateKey);
    if (problems.length) throw new ServerConfigError(problems);
    return args.hosts.map((h) => {
        const key = pulumi.secret(pulumi.output((h.privateKey ?? privateKey)!)).apply((k) => {
            const p = privateKeyProblem(k, h.name);
            if (p) throw new ServerConfigError([p]);
            return k.endsWith("\n") ? k : `${k}\n`;
        });
        const privateAddress = h.privateAddress ?? h.address;
        return {
            name: h.name,
            privateAddress: pulumi.output(privateAddress),
            publicAddress: pulumi.output(h.publicAddress ?? h.address),
            privateSubnet: pulumi.output(args.privateSubnet),
            ssh: pulumi.secret(
                key.apply((privateKey) => ({
                    name: h.name,
                    host: h.address,
                    port: h.port ?? 22,
                    user: h.user ?? "root",
                    privateKey,
                    hostKey: h.hostKey!.trim(),
                })),
            ),
        };
    });
}
