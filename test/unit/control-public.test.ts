// git push and the CLI come from outside the private network: on servers with a public and a
// private address, the control role's git remote is public and its agents' side stays private
// (Pulumi's mocks, the servers example stack).
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { parseStackConfig, type RawStackConfig } from "../../components/config/stack_config";
import * as pulumi from "@pulumi/pulumi";
import { platformOnFakeHosts, recordResources, fakeHost } from "../support/platform_mocks";
import { value } from "../support/outputs";

const created = recordResources();

/** The control.json the Platform wrote to `host`. */
function controlJson(host: string): Record<string, unknown> {
    const file = created.find((c) => c.host === host && c.inputs.path === "/etc/dynoform/control.json")!;
    const content = file.inputs.content as { value?: string } | string;
    return JSON.parse(typeof content === "string" ? content : String(content.value));
}

test("the control host's git remote is its public address; slugs are served on its private one", async () => {
    const doc = yaml.load(fs.readFileSync(path.join(__dirname, "../../stacks/Pulumi.servers.example.yaml"), "utf8")) as { config: Record<string, unknown> };
    const raw = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^dynoform:/, ""), v])) as RawStackConfig;
    const { platform } = await platformOnFakeHosts(parseStackConfig(raw));
    const config = controlJson("edge-1");
    expect(config.gitHost).toBe("203.0.113.10");
    expect(config.gitPort).toBe(22);
    expect(await value(platform.control.gitEndpoint)).toEqual({ host: "203.0.113.10", port: 22 });
    expect(config.slugBaseUrl).toBe("http://10.0.0.10:5080/slugs");
    expect(config.slugListen).toBe("10.0.0.10:5080");
});

test("where the control host's sshd is published elsewhere (docker), control.json and the stack's control output both name that endpoint", async () => {
    created.length = 0;
    const config = parseStackConfig({
        target: "docker",
        privateSubnet: "10.214.1.0/24",
        hosts: [
            { name: "ctl-1", address: "10.214.1.11", roles: ["control", "edge", "data", "dyno"] },
        ],
    });
    const published = { ...fakeHost("ctl-1", "10.214.1.11", "10.214.1.0/24"), publicSsh: pulumi.output({ host: "127.0.0.1", port: 2222 }) };
    const { platform } = await platformOnFakeHosts(config, { hosts: [published] });
    expect(controlJson("ctl-1")).toMatchObject({ gitHost: "127.0.0.1", gitPort: 2222 });
    expect(await value(platform.control.gitEndpoint)).toEqual({ host: "127.0.0.1", port: 2222 });
});
