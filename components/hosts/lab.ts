// Host source `lab`: local Debian bookworm machines (systemd under systemd-nspawn), one LabHost
// resource each, on a private bridge with outbound NAT.
import * as pulumi from "@pulumi/pulumi";
import type { Host } from "./host";
import { labNetwork, LabImage } from "./lab/config";
import { LabHost, LabNetworkArgs } from "./lab/provider";

export { LabHost } from "./lab/provider";
export type { LabHostArgs, LabNetworkArgs } from "./lab/provider";

export interface LabHostSpec {
    name: string;
    /** Address on the lab subnet (.2 - .254). */
    address: string;
}

export interface LabHostsArgs {
    /** e.g. {name: "local", subnet: "10.213.1.0/24"}; bridge and gateway default to dfbr-<name> and .1. */
    network: LabNetworkArgs;
    hosts: LabHostSpec[];
    /** "base" = bare debootstrap image (the cold path), "packages" = stack packages preinstalled. Default "base". */
    image?: LabImage;
}

/** The stack-config shape (StackConfig): `{lab: {network, subnet, gateway?, image?}, hosts}`. */
export interface LabStackConfig {
    lab?: { network: string; subnet: string; gateway?: string; image?: LabImage };
    hosts: LabHostSpec[];
}

function toArgs(args: LabHostsArgs | LabStackConfig): LabHostsArgs {
    if ("network" in args && args.network) return args;
    const cfg = args as LabStackConfig;
    if (!cfg.lab) throw new Error("labHosts: the stack config has no dynoform:lab section ({network: local, subnet: 10.213.1.0/24})");
    return {
        network: { name: cfg.lab.network, subnet: cfg.lab.subnet, gateway: cfg.lab.gateway },
        hosts: cfg.hosts,
        image: cfg.lab.image,
    };
}

/**
 * One LabHost per entry, mapped to the Host interface (ssh as root on port 22, the generated
 * key as a secret, the generated host key pinned). Accepts explicit args or the stack config.
 */
export function labHosts(input: LabHostsArgs | LabStackConfig): Host[] {
    const args = toArgs(input);
    const network = labNetwork(args.network); // validates now, before any resource exists
    const seen = new Set<string>();
    for (const h of args.hosts) {
        if (seen.has(h.name)) throw new Error(`labHosts: host name ${h.name} is used twice`);
        seen.add(h.name);
    }
    return args.hosts.map((spec) => {
        const machine = new LabHost(spec.name, { network, name: spec.name, address: spec.address, image: args.image ?? "base" });
        const ssh = pulumi.secret(
            pulumi.all([machine.address, machine.hostKey, machine.privateKey]).apply(([host, hostKey, privateKey]) => ({
                name: spec.name,
                host,
                port: 22,
                user: "root",
                privateKey,
                hostKey,
            })),
        );
        return {
            name: spec.name,
            privateAddress: machine.address,
            publicAddress: machine.address,
            privateSubnet: pulumi.output(network.subnet),
            ssh,
        };
    });
}
