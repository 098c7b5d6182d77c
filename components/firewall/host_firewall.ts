import * as pulumi from "@pulumi/pulumi";
import { Host } from "../hosts/host";
import { AptPackages, RemoteFile, SystemdService } from "../remote";
import { render } from "../templates/render";

/** Where the rules live on each host (loaded by dynoform-firewall.service). */
export const FIREWALL_FILE = "/etc/dynoform/firewall.nft";
export const FIREWALL_UNIT = "dynoform-firewall";
/** What the edge serves to everyone (nginx). */
export const PUBLIC_PORTS = [80, 443] as const;
/** Dyno users' uids (packages/agent/src/users.ts DYNO_UID_RANGE): what the dyno hosts' rules match. */
export const DYNO_UID_RANGE = [3_000_000, 3_099_999] as const;
/** Build users' uids (packages/control/src/build_users.ts BUILD_UID_RANGE): what the control host's rules match. */
export const BUILD_UID_RANGE = [2_000_000, 2_099_999] as const;
/** Ports the agent gives dynos: agent.json's `portRange` (components/dyno), refused to tenants on loopback. */
export const DYNO_PORT_RANGE = [20_000, 29_999] as const;

/**
 * What tenant code — a dyno, or a build on the control host — may reach on the private network,
 * and what it must not reach on its own host.
 */
export interface TenantNetworkPolicy {
    /** The data host's private address: the only private address dynos reach. */
    dataAddress: pulumi.Input<string>;
    /** The edge hosts' addresses (private and public): dynos reach nginx there, as anyone does. */
    edgeAddresses: pulumi.Input<string>[];
    /** PostgreSQL's port on the data host. */
    postgresPort: number;
    /** The per-app Memcached instances' ports on the data host. */
    memcachedPorts: { first: number; last: number };
    /** The agent's control API port (refused on loopback too). */
    agentPort: number;
    /** The tenants' uids on this host: dyno users (dyno hosts), build users (the control host). */
    uids: (readonly [number, number])[];
}

export interface HostFirewallArgs {
    host: Host;
    /** The host's roles, for the rules' header. */
    roles: string[];
    /** The port sshd listens on: open to everyone (provisioning and `git push`). */
    sshPort: number;
    /** Serves PUBLIC_PORTS to everyone (the edge role). */
    public: boolean;
    /** The private network: everything else answers it only. */
    privateSubnet: pulumi.Input<string>;
    /** Addresses inside the subnet that stand for the outside (the lab's gateway). */
    outsideAddresses: string[];
    /** Present where tenant code runs (dyno and control hosts): its outbound policy. */
    tenantPolicy?: TenantNetworkPolicy;
}

/** The resolved inputs of `firewallRules`. */
export interface FirewallSpec {
    hostName: string;
    roles: string[];
    sshPort: number;
    public: boolean;
    privateSubnet: string;
    outsideAddresses: string[];
    tenantPolicy?: Omit<TenantNetworkPolicy, "dataAddress" | "edgeAddresses"> & { dataAddress: string; edgeAddresses: string[] };
}

const range = ([first, last]: readonly [number, number]): string => `${first}-${last}`;

/** templates/firewall/host.nft (with tenant.nft where tenant code runs) for one host. */
export function firewallRules(spec: FirewallSpec): string {
    const p = spec.tenantPolicy;
    const uids = p?.uids.map(range) ?? [];
    const tenantChains = p
        ? render("firewall/tenant.nft", {
              tenantUids: uids.length === 1 ? uids[0] : `{ ${uids.join(", ")} }`,
              dataAddress: p.dataAddress,
              dataPorts: `${p.postgresPort}, ${p.memcachedPorts.first}-${p.memcachedPorts.last}`,
              edgeAddresses: [...new Set(p.edgeAddresses)].sort().join(", "),
              publicPorts: PUBLIC_PORTS.join(", "),
              // The dynos' ports: other apps' dynos listen there.
              localPorts: `${p.agentPort}, ${range(DYNO_PORT_RANGE)}`,
              privateSubnet: spec.privateSubnet,
          })
        : "";
    return render("firewall/host.nft", {
        hostName: spec.hostName,
        roles: spec.roles.join(", "),
        sshPort: spec.sshPort,
        publicInput: spec.public ? `tcp dport { ${PUBLIC_PORTS.join(", ")} } accept` : "# (no public service on this host)",
        outsideInput: spec.outsideAddresses.length > 0 ? `ip saddr { ${spec.outsideAddresses.join(", ")} } drop` : "# (no outside address inside the private subnet)",
        privateSubnet: spec.privateSubnet,
        tenantChains,
    });
}

/**
 * A host's nftables firewall: the `nftables` package, the rules file and dynoform-firewall.service
 * (a oneshot that loads them). New rules and a new unit file reload it instead of restarting it:
 * a restart's stop deletes the table, while a reload swaps it in one transaction, so the host is
 * never without rules. Only the table `inet dynoform_host` is the stack's.
 */
export class HostFirewall extends pulumi.ComponentResource {
    constructor(name: string, args: HostFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dynoform:firewall:HostFirewall", name, {}, opts);
        const connection = args.host.ssh;
        // netbase: nft resolves protocol names (ipv6-icmp) through /etc/protocols, which a minimal
        // Debian (a cloud or container image) may not have.
        const packages = new AptPackages(`${name}-nftables`, { connection, packages: ["nftables", "netbase"] }, { parent: this });
        const policy = args.tenantPolicy;
        const rules = pulumi
            .all([args.privateSubnet, policy?.dataAddress ?? "", pulumi.all(policy?.edgeAddresses ?? [])])
            .apply(([privateSubnet, dataAddress, edgeAddresses]) =>
                firewallRules({
                    hostName: args.host.name,
                    roles: args.roles,
                    sshPort: args.sshPort,
                    public: args.public,
                    privateSubnet,
                    outsideAddresses: args.outsideAddresses,
                    tenantPolicy: policy ? { ...policy, dataAddress, edgeAddresses } : undefined,
                }),
            );
        const file = new RemoteFile(`${name}-rules`, { connection, path: FIREWALL_FILE, content: rules, mode: "0644" }, { parent: this, dependsOn: [packages] });
        new SystemdService(
            `${name}-service`,
            { connection, unit: FIREWALL_UNIT, unitFile: render("firewall/dynoform-firewall.service", {}), reloadTriggers: [file.sha256], onUnitChange: "reload" },
            { parent: this, dependsOn: [file] },
        );
        this.registerOutputs({});
    }
}
