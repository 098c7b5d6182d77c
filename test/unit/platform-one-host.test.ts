// A stack of one host with every role (Pulumi's mocks): each file on it has one owner.
import { parseStackConfig } from "../../components/config/stack_config";
import { platformOnFakeHosts, recordResources } from "../support/platform_mocks";

const created = recordResources();

test("no two resources write the same path", async () => {
    await platformOnFakeHosts(
        parseStackConfig({
            target: "lab",
            lab: { network: "unit", subnet: "10.213.7.0/24" },
            hosts: [{ name: "all-1", address: "10.213.7.10", roles: ["edge", "dyno", "data", "control"] }],
        }),
    );
    const paths = created.filter((c) => c.host === "all-1" && typeof c.inputs.path === "string").map((c) => c.inputs.path as string);
    expect(paths.length).toBeGreaterThan(15);
    expect(paths.filter((p, i) => paths.indexOf(p) !== i)).toEqual([]);
    // The routers' control token and this host's registration credential, side by side.
    expect(paths).toEqual(expect.arrayContaining(["/etc/dynoform/router-control.token", "/etc/dynoform/registration.token"]));
});
