// git push and the CLI come from outside the private network: on servers with a public and a
// private address, the control role's git remote is public and its agents' side stays private
// (Pulumi's mocks, the servers example stack).
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { parseStackConfig, type RawStackConfig } from "../../components/config/stack_config";
import { platformOnFakeHosts, recordResources } from "../support/platform_mocks";

const created = recordResources();

test("the control host's git remote is its public address; slugs are served on its private one", async () => {
    const doc = yaml.load(fs.readFileSync(path.join(__dirname, "../../stacks/Pulumi.servers.example.yaml"), "utf8")) as { config: Record<string, unknown> };
    const raw = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^dynoform:/, ""), v])) as RawStackConfig;
    await platformOnFakeHosts(parseStackConfig(raw));
    const file = created.find((c) => c.host === "edge-1" && c.inputs.path === "/etc/dynoform/control.json")!;
    const content = file.inputs.content as { value?: string } | string;
    const config = JSON.parse(typeof content === "string" ? content : String(content.value));
    expect(config.gitHost).toBe("203.0.113.10");
    expect(config.slugBaseUrl).toBe("http://10.0.0.10:5080/slugs");
    expect(config.slugListen).toBe("10.0.0.10:5080");
});
