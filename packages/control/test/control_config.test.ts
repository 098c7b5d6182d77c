// The control role's config: the file components/control writes, read once, with DYNOFORM_*
// variables over it; secrets from the file only.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cliSettings, loadControlConfig } from "../src/control_config";
import { UserError } from "../src/errors";

let dir: string;
let file: string;
beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-config-"));
    file = path.join(dir, "control.json");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What components/control writes (components/control/control.ts). */
const written = {
    stateDir: "/var/lib/dynoform",
    domain: "apps.example.com",
    gitHost: "10.0.0.10",
    gitPort: 22,
    slugListen: "10.0.0.10:5080",
    apiListen: "10.0.0.10:5200",
    slugBaseUrl: "http://10.0.0.10:5080/slugs",
    slugSigningKey: "k".repeat(64),
    buildUserPrefix: "build-",
    buildTimeoutS: 900,
    agents: ["http://10.0.0.21:5100"],
    agentTokens: { "http://10.0.0.21:5100": "agent-token" },
    routers: ["http://10.0.0.10:8081"],
    routerToken: "router-token",
    addons: { host: "10.0.0.30", port: 22, user: "root", keyFile: "/etc/dynoform/addons.key", knownHostsFile: "/etc/dynoform/addons.known_hosts" },
    gitSshDir: "/home/git/.ssh",
    forcedCommandBinary: "/usr/local/lib/dynoform/dynoform-control",
};

test("the file components/control writes", () => {
    fs.writeFileSync(file, JSON.stringify(written));
    const config = loadControlConfig({ DYNOFORM_CONTROL_CONFIG: file, DYNOFORM_CONTROL_BINARY: "/usr/local/lib/dynoform/dynoform-control" });
    expect(config).toEqual({
        stateDir: "/var/lib/dynoform",
        domain: "apps.example.com",
        gitHost: "10.0.0.10",
        gitPort: 22,
        slugListen: "10.0.0.10:5080",
        apiListen: "10.0.0.10:5200",
        slugSigningKey: written.slugSigningKey,
        buildUserPrefix: "build-",
        buildTimeoutMs: 900_000,
        reconcileIntervalMs: 3000,
        binary: "/usr/local/lib/dynoform/dynoform-control",
        gitSshDir: "/home/git/.ssh",
        forcedCommandBinary: "/usr/local/lib/dynoform/dynoform-control",
        fleet: {
            agents: written.agents,
            agentTokens: written.agentTokens,
            routers: written.routers,
            routerToken: "router-token",
            addons: written.addons,
            slugBaseUrl: "http://10.0.0.10:5080/slugs",
            slugSigningKey: written.slugSigningKey,
        },
    });
    expect(cliSettings(config, "alice")).toMatchObject({ domain: "apps.example.com", user: "alice" });
    expect(cliSettings(config).gitUrl("shop")).toBe("git@10.0.0.10:shop.git");
    expect(cliSettings(config).webUrl("shop")).toBe("http://shop.apps.example.com/");
});

test("a git endpoint off port 22 (the docker target's published git port) is named in ssh:// URLs, which carry the port", () => {
    fs.writeFileSync(file, JSON.stringify({ ...written, gitHost: "127.0.0.1", gitPort: 2222 }));
    const config = loadControlConfig({ DYNOFORM_CONTROL_CONFIG: file });
    expect(config).toMatchObject({ gitHost: "127.0.0.1", gitPort: 2222 });
    expect(cliSettings(config).gitUrl("shop")).toBe("ssh://git@127.0.0.1:2222/shop.git");
    fs.writeFileSync(file, JSON.stringify({ ...written, gitPort: 22 }));
    expect(cliSettings(loadControlConfig({ DYNOFORM_CONTROL_CONFIG: file })).gitUrl("shop")).toBe("git@10.0.0.10:shop.git");
});

test("DYNOFORM_* variables that are set and not empty win over the file; secrets and hosts come from the file only", () => {
    fs.writeFileSync(file, JSON.stringify(written));
    const config = loadControlConfig({
        DYNOFORM_CONTROL_CONFIG: file,
        DYNOFORM_STATE_DIR: "/tmp/state",
        DYNOFORM_DOMAIN: "",
        DYNOFORM_GIT_HOST: "git.example.com",
        DYNOFORM_BUILD_USER_PREFIX: "b-",
        DYNOFORM_BUILD_TIMEOUT_S: "60",
        DYNOFORM_GIT_SSH_DIR: "/tmp/git-ssh",
    });
    expect(config.gitSshDir).toBe("/tmp/git-ssh");
    expect(config).toMatchObject({ stateDir: "/tmp/state", domain: "apps.example.com", gitHost: "git.example.com", buildUserPrefix: "b-", buildTimeoutMs: 60_000 });
});

test("no file: defaults, and no fleet (nothing to drive)", () => {
    expect(loadControlConfig({ DYNOFORM_CONTROL_CONFIG: file })).toEqual({
        stateDir: "/var/lib/dynoform",
        domain: "dynoform.test",
        gitHost: "localhost",
        gitPort: 22,
        slugListen: "127.0.0.1:5080",
        reconcileIntervalMs: 3000,
        binary: process.execPath,
        gitSshDir: "/home/git/.ssh",
        forcedCommandBinary: "/usr/local/lib/dynoform/dynoform-control",
    });
});

test("agents without tokens or no router token: no fleet", () => {
    fs.writeFileSync(file, JSON.stringify({ ...written, agentTokens: undefined }));
    expect(loadControlConfig({ DYNOFORM_CONTROL_CONFIG: file }).fleet).toBeUndefined();
    fs.writeFileSync(file, JSON.stringify({ ...written, routerToken: undefined }));
    expect(loadControlConfig({ DYNOFORM_CONTROL_CONFIG: file }).fleet).toBeUndefined();
});

test("a file that is not JSON, or a timeout that is not a number, is the user's to fix", () => {
    fs.writeFileSync(file, "{not json");
    expect(() => loadControlConfig({ DYNOFORM_CONTROL_CONFIG: file })).toThrow(UserError);
    expect(() => loadControlConfig({ DYNOFORM_CONTROL_CONFIG: file })).toThrow(/^control config is not valid JSON: /);
    fs.writeFileSync(file, "{}");
    expect(() => loadControlConfig({ DYNOFORM_CONTROL_CONFIG: file, DYNOFORM_BUILD_TIMEOUT_S: "15m" })).toThrow("DYNOFORM_BUILD_TIMEOUT_S=15m is not a number: set it to a whole number of seconds");
});
