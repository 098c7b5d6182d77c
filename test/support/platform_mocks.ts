// The Platform component under Pulumi's mocks: every resource it registers, with the host its
// connection names, and hosts that need no machine.
import * as pulumi from "@pulumi/pulumi";
import type { RawStackConfig, StackConfig } from "../../components/config/stack_config";
import type { Host } from "../../components/hosts/host";
import type { Platform as PlatformComponent, PlatformArgs } from "../../components/platform/platform";
import { value } from "./outputs";

export interface Created {
    type: string;
    name: string;
    host?: string;
    inputs: Record<string, unknown>;
}

export const ADDONS_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAclvHPdBJTN+VPuY33ZgZCeG3YzDxaQWqDOxfLxT8gp";
export const ADDONS_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nADDONS-PRIVATE\n-----END OPENSSH PRIVATE KEY-----\n";
export const PG_BACKUP_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBackupKeyOfTheDataHostForTheBackupStore0";
export const PG_BACKUP_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nPG-BACKUP-PRIVATE\n-----END OPENSSH PRIVATE KEY-----\n";

/**
 * Installs the mocks (before the components are imported) and returns the list each registered
 * resource lands on. A resource's outputs are its inputs, `sha256: sha-of-<name>` and `value:
 * secret-<name>` (and `previous: previous-<name>` with `keepPrevious`); the add-ons and backup key pairs have real-looking public keys (their hosts check them)
 * and a private key only the stack holds.
 */
/** A lab stack's config with two edges (the first also control), a dyno host and a data host, on 10.213.7.0/24. */
export const TWO_EDGE_LAB: RawStackConfig = {
    target: "lab",
    lab: { network: "unit", subnet: "10.213.7.0/24" },
    hosts: [
        { name: "edge-1", address: "10.213.7.10", roles: ["edge", "control"] },
        { name: "edge-2", address: "10.213.7.11", roles: ["edge"] },
        { name: "dyno-1", address: "10.213.7.21", roles: ["dyno"] },
        { name: "data-1", address: "10.213.7.30", roles: ["data"] },
    ],
};

export function recordResources(): Created[] {
    const created: Created[] = [];
    pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                const connection = args.inputs.connection as { name?: string } | undefined;
                created.push({ type: args.type, name: args.name, host: connection?.name, inputs: args.inputs });
                const isKey = args.type.includes("SshKeyPair");
                const addonsKey =
                    isKey && args.name.includes("addons") ? { publicKey: ADDONS_PUBLIC_KEY, privateKey: ADDONS_PRIVATE_KEY }
                    : isKey && args.name.includes("pg-backup") ? { publicKey: PG_BACKUP_PUBLIC_KEY, privateKey: PG_BACKUP_PRIVATE_KEY }
                    : {};
                // A secret kept through a rotation in phases has its value before it.
                const previous = args.inputs.keepPrevious ? { previous: `previous-${args.name}` } : {};
                return { id: `${args.name}-id`, state: { ...args.inputs, sha256: `sha-of-${args.name}`, value: `secret-${args.name}`, ...previous, ...addonsKey } };
            },
            call() {
                return {};
            },
        },
        "dynoform",
        "unit",
        false,
    );
    return created;
}

/** A host at `address` of `subnet` (clients reach it at `publicAddress`), reached as root with a made-up key. */
export function fakeHost(name: string, address: string, subnet: string, publicAddress = address): Host {
    return {
        name,
        privateAddress: pulumi.output(address),
        publicAddress: pulumi.output(publicAddress),
        privateSubnet: pulumi.output(subnet),
        ssh: pulumi.output({ name, host: address, port: 22, user: "root", privateKey: "KEY", hostKey: "ssh-ed25519 AAAA" }),
    };
}

/** A Platform of `config` on fake hosts and made-up binaries, once every registration reached the mocks. */
export async function platformOnFakeHosts(config: StackConfig, extra: Partial<PlatformArgs> = {}): Promise<{ edgeUrl: string; platform: PlatformComponent }> {
    const { Platform } = await import("../../components/platform");
    const platform = new Platform("dynoform", {
        config,
        hosts: config.hosts.map((h) => fakeHost(h.name, h.privateAddress, config.privateSubnet, h.publicAddress)),
        binaries: {
            router: { source: "/build/dynoform-router", sha256: "r".repeat(64) },
            agent: { source: "/build/dynoform-agent", sha256: "a".repeat(64) },
            control: { source: "/build/dynoform-control", sha256: "c".repeat(64) },
            logplex: { source: "/build/dynoform-logplex", sha256: "l".repeat(64) },
        },
        ...extra,
    });
    const edgeUrl = await value(platform.edgeUrl);
    await new Promise((r) => setTimeout(r, 100)); // let every registration reach the mocks
    return { edgeUrl, platform };
}
