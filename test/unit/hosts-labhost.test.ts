// The real LabHost resource under Pulumi mocks: its outputs are readable (no class field
// shadows what the engine assigns) and the private key is a secret.
import * as pulumi from "@pulumi/pulumi";
import { value } from "../support/outputs";

pulumi.runtime.setMocks(
    {
        newResource: (args) => ({
            id: `${args.name}-id`,
            state: { ...args.inputs, hostKey: "ssh-ed25519 AAAAHOST", privateKey: "KEY", machineName: `local-${args.inputs.name}`, dir: "/d" },
        }),
        call: (args) => args.inputs,
    },
    "dynoform",
    "unit",
    false,
);

const { LabHost } = require("../../components/hosts/lab/provider") as typeof import("../../components/hosts/lab/provider");

// (privateKey is marked secret by additionalSecretOutputs, which the engine applies, not mocks.)
test("LabHost exposes its outputs", async () => {
    jest.setTimeout(60_000);
    const h = new LabHost("edge-1", { network: { name: "local", subnet: "10.213.1.0/24" }, name: "edge-1", address: "10.213.1.10" });
    // The URN resolves once registration (including the provider's serialization) is done.
    expect(await value(h.urn)).toContain("LabHost::edge-1");
    expect(await value(h.address)).toBe("10.213.1.10");
    expect(await value(h.hostKey)).toBe("ssh-ed25519 AAAAHOST");
    expect(await value(h.machineName)).toBe("local-edge-1");
});
