// Host source `lab`: local Debian bookworm machines (systemd under systemd-nspawn), one LabHost
// resource each, on a private bridge with outbound NAT.
import * as pulumi from "@pulumi/pulumi";
import type { Host } from "./host";
import { labNetwork, LabImage } from "./lab/config";
import { LabHost } from "./lab/provider";

export { LabHost } from "./lab/provider";
export type { LabHostArgs, LabNetworkArgs } from "./lab/provider";

export interface LabHostSpec {
    name: string;
    /** Address on the lab subnet (.2 - .254). */
    address: string;
}

/** What labHosts reads of the stack config (StackConfig's `lab` and `hosts`). */
export interface LabStackConfig {
    /** The lab network: bridge `dfbr-<network>`, gateway .1 of the subnet unless given. */
    lab?: { network: string; subnet: string; gateway?: string; image?: LabImage };
    hosts: LabHostSpec[];
}

/**
 * One LabHost per host of the stack config, mapped to the Host interface (ssh as root on port 22,
 * the generated key as a secret, the generated host key pinned).
 */
export function labHosts(config: LabStackConfig): Host[] {
    if (!config.lab) throw new Error("labHosts: the stack config has no dynoform:lab section ({network: local, subnet: 10.213.1.0/24})");
    const network = labNetwork({ name: config.lab.network, subnet: config.lab.subnet, gateway: config.lab.gateway }); // validates now, before any resource exists
    const image = config.lab.image ?? "base";
    const seen = new Set<string>();
    for (const h of config.hosts) {
        if (seen.has(h.name)) throw new Error(`labHosts: host name ${h.name} is used twice`);
        seen.add(h.name);
    }
    return config.hosts.map((spec) => {
        const machine = new LabHost(spec.name, { network, name: spec.name, address: spec.address, image });
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
