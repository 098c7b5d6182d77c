// Host sources mapped to the Host interface, with Pulumi mocks (no machines, no SSH).
import * as pulumi from "@pulumi/pulumi";
import { value } from "../support/outputs";
import type { Host } from "../../components/hosts/host";
import type { SshConnection } from "../../components/remote/connection";

// The real LabHost serializes its provider (covered by hosts-provider.test.ts); that runs on
// after jest has torn the test down, so here a plain CustomResource of the same type stands in.
jest.mock("../../components/hosts/lab/provider", () => {
    const p = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    class LabHost extends p.CustomResource {
        constructor(name: string, args: Record<string, unknown>, opts?: import("@pulumi/pulumi").CustomResourceOptions) {
            super("pulumi-nodejs:dynamic/hosts:LabHost", name, { ...args, hostKey: undefined, privateKey: undefined, machineName: undefined, dir: undefined }, { ...opts, additionalSecretOutputs: ["privateKey"] });
        }
    }
    return { LabHost };
});

const created: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
pulumi.runtime.setMocks(
    {
        newResource: (args) => {
            created.push({ type: args.type, name: args.name, inputs: args.inputs });
            const outs = args.type.endsWith("LabHost")
                ? { ...args.inputs, hostKey: "ssh-ed25519 AAAAHOST", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n", machineName: `m-${args.inputs.name}`, dir: "/d" }
                : args.inputs;
            return { id: `${args.name}-id`, state: outs };
        },
        call: (args) => args.inputs,
    },
    "dynoform",
    "unit",
    false,
);

// Imported after setMocks.
const { labHosts, serverHosts, ServerConfigError } = require("../../components/hosts") as typeof import("../../components/hosts");

function isSecret(o: pulumi.Output<unknown>): Promise<boolean> {
    return pulumi.isSecret(o);
}

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const HOSTKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample";

describe("labHosts", () => {
    let hosts: Host[];
    beforeAll(() => {
        created.length = 0;
        hosts = labHosts({
            lab: { network: "local", subnet: "10.213.1.0/24", image: "packages" },
            hosts: [
                { name: "edge-1", address: "10.213.1.10" },
                { name: "data-1", address: "10.213.1.30" },
            ],
        });
    });

    test("one LabHost per host, with the network's defaults filled in", async () => {
        expect(hosts.map((h) => h.name)).toEqual(["edge-1", "data-1"]);
        await value(hosts[1].ssh);
        const labs = created.filter((c) => c.type.endsWith("hosts:LabHost"));
        expect(labs.map((c) => c.name)).toEqual(["edge-1", "data-1"]);
        expect(labs[0].inputs).toMatchObject({
            network: { name: "local", subnet: "10.213.1.0/24", bridge: "dfbr-local", gateway: "10.213.1.1" },
            name: "edge-1",
            address: "10.213.1.10",
            image: "packages",
        });
        expect(labs[0].type).toBe("pulumi-nodejs:dynamic/hosts:LabHost");
    });

    test("maps to Host: root on port 22, pinned host key, secret private key", async () => {
        const ssh: SshConnection = await value(hosts[0].ssh);
        expect(ssh).toMatchObject({ name: "edge-1", host: "10.213.1.10", port: 22, user: "root", hostKey: "ssh-ed25519 AAAAHOST" });
        expect(ssh.privateKey).toContain("PRIVATE KEY");
        expect(await isSecret(hosts[0].ssh)).toBe(true);
        expect(await value(hosts[0].privateAddress)).toBe("10.213.1.10");
        expect(await value(hosts[0].publicAddress)).toBe("10.213.1.10");
        expect(await value(hosts[0].privateSubnet)).toBe("10.213.1.0/24");
    });

    test("a gateway of the stack config's own, and the base image by default", async () => {
        created.length = 0;
        const h = labHosts({ lab: { network: "test", subnet: "10.213.2.0/24", gateway: "10.213.2.254" }, hosts: [{ name: "a", address: "10.213.2.10" }] });
        expect((await value(h[0].ssh)).host).toBe("10.213.2.10");
        expect(created.find((c) => c.type.endsWith("hosts:LabHost"))!.inputs).toMatchObject({ network: { gateway: "10.213.2.254", bridge: "dfbr-test" }, image: "base" });
    });

    test("fails before creating anything on a bad network or duplicate names", () => {
        const before = created.length;
        expect(() => labHosts({ lab: { network: "local", subnet: "192.0.2.0/24" }, hosts: [] })).toThrow(/inside the lab block/);
        expect(() =>
            labHosts({ lab: { network: "local", subnet: "10.213.1.0/24" }, hosts: [{ name: "a", address: "10.213.1.2" }, { name: "a", address: "10.213.1.3" }] }),
        ).toThrow(/used twice/);
        expect(() => labHosts({ hosts: [] })).toThrow(/no dynoform:lab section/);
        expect(created.length).toBe(before);
    });
});

describe("serverHosts", () => {
    const list = {
        privateSubnet: "10.0.0.0/24",
        hosts: [
            { name: "edge-1", address: "203.0.113.10", privateAddress: "10.0.0.10", hostKey: HOSTKEY },
            { name: "dyno-1", address: "10.0.0.21", user: "admin", port: 2222, hostKey: HOSTKEY },
        ],
    };

    test("maps each server, no resources; key as a secret", async () => {
        const before = created.length;
        const hosts = serverHosts(list, pulumi.secret(KEY));
        expect(created.length).toBe(before);
        const ssh = await value(hosts[0].ssh);
        expect(ssh).toEqual({ name: "edge-1", host: "203.0.113.10", port: 22, user: "root", privateKey: KEY, hostKey: HOSTKEY });
        expect(await isSecret(hosts[0].ssh)).toBe(true);
        expect(await value(hosts[0].privateAddress)).toBe("10.0.0.10");
        expect(await value(hosts[0].publicAddress)).toBe("203.0.113.10");
        expect(await value(hosts[1].ssh)).toMatchObject({ user: "admin", port: 2222, host: "10.0.0.21" });
        expect(await value(hosts[1].privateSubnet)).toBe("10.0.0.0/24");
    });

    test("a plain-string key becomes a secret too; per-host keys win", async () => {
        const other = KEY.replace("b3Bl", "b3Bm");
        const hosts = serverHosts({ ...list, hosts: [{ ...list.hosts[0], privateKey: other }, list.hosts[1]] }, KEY);
        expect(await isSecret(hosts[1].ssh)).toBe(true);
        expect((await value(hosts[0].ssh)).privateKey).toBe(other);
        expect((await value(hosts[1].ssh)).privateKey).toBe(KEY);
    });

    test("lists every problem with its fix", () => {
        let err: InstanceType<typeof ServerConfigError> | undefined;
        try {
            serverHosts({
                privateSubnet: "10.0.0.0/24",
                hosts: [
                    { name: "Edge", address: "203.0.113.10", hostKey: HOSTKEY },
                    { name: "dyno-1", address: "10.0.0.21", port: 70000, user: "Bad User", hostKey: "AAAA" },
                    { name: "dyno-1", address: "10.0.0.22" },
                ],
            }, "not a key");
        } catch (e) {
            err = e as InstanceType<typeof ServerConfigError>;
        }
        expect(err).toBeInstanceOf(ServerConfigError);
        const text = err!.problems.join("\n");
        expect(text).toMatch(/hosts\[0\] \(Edge\)\.name must be lowercase/);
        expect(text).toMatch(/private address 203\.0\.113\.10 is outside privateSubnet 10\.0\.0\.0\/24; set privateAddress/);
        expect(text).toMatch(/hosts\[1\] \(dyno-1\)\.port must be 1-65535/);
        expect(text).toMatch(/hosts\[1\] \(dyno-1\)\.user must be a Unix user name/);
        expect(text).toMatch(/hosts\[1\] \(dyno-1\)\.hostKey is malformed: pin it with `ssh-keyscan -t ed25519 10\.0\.0\.21`/);
        expect(text).toMatch(/hosts\[2\] \(dyno-1\): the name dyno-1 is used twice/);
        expect(text).toMatch(/hosts\[2\] \(dyno-1\)\.hostKey is missing/);
        expect(text).toMatch(/not an OpenSSH\/PEM private key/);
    });

    test("a missing key names the config command", () => {
        expect(() => serverHosts(list)).toThrow(/pulumi config set --secret dynoform:sshPrivateKey/);
    });
});
