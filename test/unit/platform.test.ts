import * as pulumi from "@pulumi/pulumi";
import { value } from "../support/outputs";
import { parseStackConfig } from "../../components/config/stack_config";
import type { Host } from "../../components/hosts/host";

// The Platform component under Pulumi's mocks: which resources land on which host.
interface Created {
    type: string;
    name: string;
    host?: string;
    inputs: Record<string, unknown>;
}
const created: Created[] = [];

pulumi.runtime.setMocks(
    {
        newResource(args: pulumi.runtime.MockResourceArgs) {
            const connection = args.inputs.connection as { name?: string } | undefined;
            created.push({ type: args.type, name: args.name, host: connection?.name, inputs: args.inputs });
            const state = { ...args.inputs, sha256: `sha-of-${args.name}`, value: `secret-${args.name}` };
            return { id: `${args.name}-id`, state };
        },
        call() {
            return {};
        },
    },
    "dynoform",
    "unit",
    false,
);

const config = parseStackConfig({
    target: "lab",
    lab: { network: "unit", subnet: "10.213.7.0/24" },
    hosts: [
        { name: "edge-1", address: "10.213.7.10", roles: ["edge", "control"] },
        { name: "dyno-1", address: "10.213.7.21", roles: ["dyno"] },
        { name: "dyno-2", address: "10.213.7.22", roles: ["dyno"] },
        { name: "data-1", address: "10.213.7.30", roles: ["data"] },
    ],
    memcachedMemoryMb: 80,
});

function fakeHost(name: string, address: string): Host {
    return {
        name,
        privateAddress: pulumi.output(address),
        publicAddress: pulumi.output(address),
        privateSubnet: pulumi.output("10.213.7.0/24"),
        ssh: pulumi.output({ name, host: address, port: 22, user: "root", privateKey: "KEY", hostKey: "ssh-ed25519 AAAA" }),
    };
}


let edgeUrl: string;

beforeAll(async () => {
    const { Platform } = await import("../../components/platform");
    const platform = new Platform("dynoform", {
        config,
        hosts: config.hosts.map((h) => fakeHost(h.name, h.address)),
        binaries: {
            router: { source: "/build/dynoform-router", sha256: "r".repeat(64) },
            agent: { source: "/build/dynoform-agent", sha256: "a".repeat(64) },
            control: { source: "/build/dynoform-control", sha256: "c".repeat(64) },
        },
    });
    edgeUrl = await value(platform.edgeUrl);
    await new Promise((r) => setTimeout(r, 100)); // let every registration reach the mocks
});

function on(host: string): Created[] {
    return created.filter((c) => c.host === host);
}

function paths(host: string): string[] {
    return on(host)
        .map((c) => c.inputs.path as string | undefined)
        .filter((p): p is string => !!p)
        .sort();
}

test("the edge host gets nginx, varnish and the router", () => {
    expect(edgeUrl).toBe("http://10.213.7.10/");
    // edge-1 is also the control host (see "the control host gets ..." below)
    // (+ the lab's extra CAs for the control host's builds, when this machine has any)
    expect(paths("edge-1").filter((p) => !CONTROL_PATHS.includes(p) && !p.startsWith("/usr/local/share/ca-certificates/"))).toEqual([
        "/etc/dynoform/router.json",
        "/etc/dynoform/router.token",
        "/etc/nginx/dynoform/edge.conf",
        "/etc/nginx/nginx.conf",
        "/etc/systemd/system/dynoform-router.socket",
        "/etc/varnish/default.vcl",
        "/usr/local/lib/dynoform/dynoform-router",
    ]);
    const units = on("edge-1").filter((c) => c.type.endsWith("remote:Service")).map((c) => c.inputs.unit).sort();
    expect(units.filter((u) => u !== "dynoform-control")).toEqual(["dynoform-router", "nginx", "varnish"]);
});

const CONTROL_PATHS = ["/etc/dynoform/control.json", "/etc/sudoers.d/dynoform-control", "/home/git/.ssh/authorized_keys", "/usr/local/lib/dynoform/dynoform-control"];

test("the control host gets the git user's forced command, the binary, its config and the daemon", () => {
    expect(paths("edge-1").filter((p) => CONTROL_PATHS.includes(p))).toEqual(CONTROL_PATHS);
    const units = on("edge-1").filter((c) => c.type.endsWith("remote:Service")).map((c) => c.inputs.unit);
    expect(units).toContain("dynoform-control");
    const config = on("edge-1").find((c) => c.inputs.path === "/etc/dynoform/control.json")!;
    expect(config.inputs.mode).toBe("0600"); // tokens and the database admin URL
    const keys = on("edge-1").find((c) => c.inputs.path === "/home/git/.ssh/authorized_keys")!;
    expect(String(keys.inputs.content)).not.toContain("ssh-"); // under mocks the generated key is unknown; no other key configured
});

test("every dyno host gets the agent, pointed at the router", () => {
    for (const host of ["dyno-1", "dyno-2"]) {
        expect(paths(host)).toEqual(["/etc/dynoform/agent.json", "/etc/dynoform/agent.token", "/etc/dynoform/router.token", "/usr/local/lib/dynoform/dynoform-agent"]);
        const config = on(host).find((c) => c.inputs.path === "/etc/dynoform/agent.json")!;
        expect(JSON.parse(config.inputs.content as string).routers).toEqual([{ url: "http://10.213.7.10:8081" }]);
    }
});

test("the data host gets postgresql and memcached from the stack config", () => {
    expect(paths("data-1")).toEqual([
        "/etc/memcached.conf",
        "/etc/postgresql/15/main/conf.d/dynoform.conf",
        "/etc/postgresql/15/main/pg_hba.conf",
        "/usr/local/sbin/dynoform-pg-app",
    ]);
    const memcached = on("data-1").find((c) => c.inputs.path === "/etc/memcached.conf")!;
    expect(memcached.inputs.content).toContain("-m 80\n");
    expect(memcached.inputs.content).toContain("-l 10.213.7.30\n");
    const hba = on("data-1").find((c) => c.inputs.path?.toString().endsWith("pg_hba.conf"))!;
    expect(hba.inputs.content).toContain("10.213.7.1/32  reject");
});

test("binaries ship by hash, never by content", () => {
    const binaries = created.filter((c) => c.type.endsWith("remote:Binary"));
    expect(binaries).toHaveLength(4);
    for (const b of binaries) {
        expect(b.inputs).not.toHaveProperty("content");
        expect(b.inputs.sha256).toMatch(/^[rac]{64}$/);
    }
});

test("secrets are generated by the stack, one per purpose", () => {
    const secrets = created.filter((c) => c.type.includes("GeneratedSecret")).map((c) => c.name).sort();
    expect(secrets).toEqual(["control-slug-signing-key", "dynoform-agent-token", "dynoform-postgres-admin-password", "dynoform-router-token"]);
});

/** A secret input as the mocks see it: Pulumi's secret envelope around the value. */
function secretValue(v: unknown): unknown {
    const o = v as Record<string, unknown> | undefined;
    return o && o[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig ? o.value : undefined;
}

/** Every string in a resource's inputs that is not inside a secret. */
function plainStrings(v: unknown): string[] {
    if (typeof v === "string") return [v];
    if (secretValue(v) !== undefined || v === null || typeof v !== "object") return [];
    return Object.values(v as Record<string, unknown>).flatMap(plainStrings);
}

test("the control host's config carries the slug-signing key, as a secret; the key is nowhere in plaintext", () => {
    const key = "secret-control-slug-signing-key"; // the mocks' value of the GeneratedSecret
    const config = on("edge-1").find((c) => c.inputs.path === "/etc/dynoform/control.json")!;
    const content = secretValue(config.inputs.content);
    expect(typeof content).toBe("string");
    expect(JSON.parse(content as string)).toMatchObject({ slugSigningKey: key, slugListen: "10.213.7.10:5080", slugBaseUrl: "http://10.213.7.10:5080/slugs" });
    const leaks = created.filter((c) => plainStrings(c.inputs).some((s) => s.includes(key))).map((c) => c.name);
    expect(leaks).toEqual([]);
    // agents get per-slug tokens from the control role at rollout, never the key
    for (const host of ["dyno-1", "dyno-2"]) expect(JSON.stringify(on(host).map((c) => c.inputs))).not.toContain(key);
});
