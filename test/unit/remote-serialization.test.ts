// The providers are stored in the state as text made by Pulumi's closure serializer and run later
// in another process, possibly from another checkout. Guard what that text may depend on.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { aptPackagesProvider } from "../../components/remote/apt-provider";
import { remoteCommandProvider } from "../../components/remote/command-provider";
import { remoteBinaryProvider } from "../../components/remote/binary-provider";
import { remoteFileProvider } from "../../components/remote/file-provider";
import { systemdServiceProvider } from "../../components/remote/systemd-provider";
import { startSshd, TestSshd } from "../support/sshd";

jest.setTimeout(60_000);

const providers = {
    file: remoteFileProvider,
    apt: aptPackagesProvider,
    systemd: systemdServiceProvider,
    command: remoteCommandProvider,
    binary: remoteBinaryProvider,
};

async function serialize(provider: object): Promise<string> {
    const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: false });
    return serialized.text;
}

describe.each(Object.entries(providers))("serialized %s provider", (_name, provider) => {
    test("requires only Node built-ins and ssh2, and no path of this checkout", async () => {
        const text = await serialize(provider);
        const requires = [...text.matchAll(/require\("([^"]+)"\)/g)].map((match) => match[1]);
        expect(requires.filter((name) => !["child_process", "crypto", "fs", "net", "ssh2/lib/index.js"].includes(name))).toEqual([]);
        expect(text).not.toContain(path.resolve(__dirname, "../.."));
        expect(text).not.toContain("@pulumi/pulumi");
    });
});

describe("a serialized provider run outside this checkout", () => {
    let sshd: TestSshd;
    beforeAll(async () => {
        sshd = await startSshd({ name: "edge-1" });
    });
    afterAll(async () => {
        await sshd?.stop();
    });

    test("creates a file", async () => {
        const text = await serialize(remoteFileProvider);
        // As the dynamic-provider host does it: a module from the text, resolving packages from node_modules.
        const requireFromString = require("require-from-string");
        const loaded = requireFromString(text, "/nonexistent/elsewhere/provider.js", {
            appendPaths: [path.resolve(__dirname, "../../node_modules")],
        });
        const provider = loaded.handler();
        const target = path.join(sshd.dir, "from-state.conf");
        const result = await provider.create({
            connection: sshd.connection, path: target, content: "ok\n", mode: "0644", owner: "root:root", providerVersion: "v",
        });
        expect(result.outs.sha256).toHaveLength(64);
        expect(fs.readFileSync(target, "utf8")).toBe("ok\n");
    });
});
