// The docker target under Pulumi's mocks (no Docker engine, no provider plugin): the resources it
// declares, what each container publishes and is given, the Host it maps to, and the stack
// config's problems, each with its fix.
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { value } from "../support/outputs";
import { parseStackConfig, type RawStackConfig, type StackConfig } from "../../components/config/stack_config";
import { problemsOf } from "../support/stack_problems";
import type { Host } from "../../components/hosts/host";
import type { SshConnection } from "../../components/remote/connection";

// Counts the loads of @pulumi/docker: a stack of another target never needs its plugin.
let mockDockerLoads = 0;
jest.mock("@pulumi/docker", () => {
    mockDockerLoads++;
    return jest.requireActual("@pulumi/docker");
});

interface Created {
    type: string;
    name: string;
    provider?: string;
    inputs: Record<string, unknown>;
}

const created: Created[] = [];
/** Each made key pair's values: what the mocks return for `<name>`'s SshKeyPair. */
const keyPair = (name: string) => ({
    publicKey: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5${name.replace(/[^A-Za-z0-9]/g, "")}`,
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${name}\n-----END OPENSSH PRIVATE KEY-----\n`,
});
pulumi.runtime.setMocks(
    {
        newResource(args) {
            created.push({ type: args.type, name: args.name, provider: args.provider, inputs: args.inputs });
            const keys = args.type.includes("SshKeyPair") ? keyPair(args.name) : {};
            return { id: `${args.name}-id`, state: { ...args.inputs, ...keys } };
        },
        call: (args) => args.inputs,
    },
    "dynoform",
    "docker-unit",
    false,
);

/** Pulumi's wire form of a secret, as mocks receive it. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";
function isWireSecret(v: unknown): boolean {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;
}
/** `v` with every secret's wire form replaced by its value. */
function reveal(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(reveal);
    if (typeof v === "object" && v !== null) {
        if (isWireSecret(v)) return reveal((v as { value: unknown }).value);
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
    }
    return v;
}
function containsSecret(v: unknown): boolean {
    if (isWireSecret(v)) return true;
    if (Array.isArray(v)) return v.some(containsSecret);
    if (typeof v === "object" && v !== null) return Object.values(v).some(containsSecret);
    return false;
}

const HOSTS = [
    { name: "edge-1", address: "10.214.1.10", roles: ["edge"] },
    { name: "ctl-1", address: "10.214.1.11", roles: ["control"] },
    { name: "dyno-1", address: "10.214.1.21", roles: ["dyno"] },
    { name: "data-1", address: "10.214.1.30", roles: ["data"] },
];
const RAW: RawStackConfig = {
    target: "docker",
    privateSubnet: "10.214.1.0/24",
    hosts: HOSTS,
    docker: { host: "unix:///var/run/docker.sock", network: "dfunit", publish: { http: 8080, https: 8443, git: 2222 } },
};

/** Ports no container may publish: PostgreSQL, Memcached, the router's traffic and control ports, the agent, Varnish, the slug server. */
const INTERNAL_PORTS = [5432, 11300, 11999, 8080, 8081, 5100, 6081, 5080];

interface Port {
    internal: number;
    external: number;
    ip: string;
    protocol: string;
}

describe("dockerHosts", () => {
    let config: StackConfig;
    let hosts: Host[];
    let loadsBefore: number;
    const containers = () => created.filter((c) => c.type === "docker:index/container:Container");
    const containerOf = (name: string) => containers().find((c) => c.name === name)!;
    const portsOf = (name: string) => containerOf(name).inputs.ports as Port[];

    beforeAll(async () => {
        config = parseStackConfig(RAW);
        const { dockerHosts } = require("../../components/hosts/docker") as typeof import("../../components/hosts/docker");
        loadsBefore = mockDockerLoads;
        hosts = dockerHosts(config);
        await Promise.all(hosts.map((h) => value(h.ssh)));
        await new Promise((r) => setTimeout(r, 100)); // let every registration reach the mocks
    });

    test("@pulumi/docker is loaded when the docker target is chosen, not before", () => {
        expect(loadsBefore).toBe(0);
        expect(mockDockerLoads).toBe(1);
    });

    test("an explicit provider for the configured engine; everything else uses it", () => {
        const providers = created.filter((c) => c.type === "pulumi:providers:docker");
        expect(providers).toHaveLength(1);
        expect(providers[0].inputs.host).toBe("unix:///var/run/docker.sock");
        const docker = created.filter((c) => c.type.startsWith("docker:"));
        expect(docker.length).toBe(2 + HOSTS.length);
        for (const r of docker) expect(r.provider).toMatch(/pulumi:providers:docker::docker::/);
    });

    test("a user-defined bridge network with the stack's privateSubnet; the gateway is .1", () => {
        const networks = created.filter((c) => c.type === "docker:index/network:Network");
        expect(networks).toHaveLength(1);
        expect(networks[0].inputs).toMatchObject({ name: "dfunit", driver: "bridge", ipamConfigs: [{ subnet: "10.214.1.0/24", gateway: "10.214.1.1" }] });
        expect(config.outsideAddresses).toEqual(["10.214.1.1"]);
    });

    test("the image is built from the repo's Dockerfile: bookworm, systemd as PID 1, sshd, no host key shipped", () => {
        const images = created.filter((c) => c.type === "docker:index/image:Image");
        expect(images).toHaveLength(1);
        const build = images[0].inputs.build as { context: string; dockerfile: string; args: Record<string, string> };
        expect(images[0].inputs).toMatchObject({ imageName: "dynoform-host:bookworm-packages", skipPush: true });
        expect(build.context).toBe(path.resolve(__dirname, "../../templates/docker"));
        expect(build.args).toEqual({ DYNOFORM_IMAGE: "packages" });
        const recipe = fs.readFileSync(build.dockerfile, "utf8");
        expect(recipe).toMatch(/^FROM debian:bookworm$/m);
        for (const pkg of ["systemd", "systemd-sysv", "openssh-server", "iproute2", "ca-certificates", "dbus"]) expect(recipe).toMatch(new RegExp(`\\s${pkg}\\s`));
        expect(recipe).toMatch(/^STOPSIGNAL SIGRTMIN\+3$/m);
        expect(recipe).toMatch(/^CMD \["\/lib\/systemd\/systemd"\]$/m);
        expect(recipe).toContain("rm -f /etc/ssh/ssh_host_*");
    });

    test("one container per host, at its static address on the stack's network only", () => {
        expect(containers().map((c) => c.name)).toEqual(HOSTS.map((h) => h.name));
        for (const h of HOSTS) {
            const c = containerOf(h.name);
            expect(c.inputs).toMatchObject({
                name: `dfunit-${h.name}`,
                hostname: h.name,
                image: "dynoform-host:bookworm-packages",
                networkMode: "dfunit",
                networksAdvanced: [{ name: "dfunit", ipv4Address: h.address }],
            });
        }
    });

    test("systemd's requirements: privileged, its own cgroup namespace, tmpfs /run and /run/lock, SIGRTMIN+3", () => {
        for (const c of containers()) {
            expect(c.inputs).toMatchObject({ privileged: true, cgroupnsMode: "private", stopSignal: "SIGRTMIN+3", envs: ["container=docker"], restart: "unless-stopped" });
            expect(Object.keys(c.inputs.tmpfs as object).sort()).toEqual(["/run", "/run/lock"]);
        }
    });

    test("published: every sshd on a loopback port for Pulumi, 80/443 on the edge only, the control host's sshd for git", () => {
        const ssh = (offset: number) => ({ internal: 22000 + offset, external: 22000 + offset, ip: "127.0.0.1", protocol: "tcp" });
        expect(portsOf("edge-1")).toEqual([
            ssh(10),
            { internal: 80, external: 8080, ip: "127.0.0.1", protocol: "tcp" },
            { internal: 443, external: 8443, ip: "127.0.0.1", protocol: "tcp" },
        ]);
        expect(portsOf("ctl-1")).toEqual([ssh(11), { internal: 22011, external: 2222, ip: "127.0.0.1", protocol: "tcp" }]);
        expect(portsOf("dyno-1")).toEqual([ssh(21)]);
        expect(portsOf("data-1")).toEqual([ssh(30)]);
        for (const c of containers()) {
            const internal = (c.inputs.ports as Port[]).map((p) => p.internal);
            for (const port of INTERNAL_PORTS) expect(internal).not.toContain(port);
            const sshPort = config.hosts.find((h) => h.name === c.name)!.port;
            expect(internal.every((p) => p === sshPort || ((p === 80 || p === 443) && c.name === "edge-1"))).toBe(true);
            expect(c.inputs.publishAllPorts).toBeUndefined();
        }
    });

    test("the stack's host key and root key are written into each container before it starts; the uploads are secret", () => {
        for (const h of HOSTS) {
            const c = containerOf(h.name);
            expect(containsSecret(c.inputs.uploads)).toBe(true);
            const hostKey = keyPair(`${h.name}-docker-host-key`);
            const rootKey = keyPair(`${h.name}-docker-root-key`);
            expect(reveal(c.inputs.uploads)).toEqual([
                { file: "/etc/ssh/ssh_host_ed25519_key", content: hostKey.privateKey, permissions: "0600", owner: "0", group: "0" },
                { file: "/etc/ssh/ssh_host_ed25519_key.pub", content: `${hostKey.publicKey}\n`, permissions: "0644", owner: "0", group: "0" },
                { file: "/root/.ssh/authorized_keys", content: `${rootKey.publicKey}\n`, permissions: "0600", owner: "0", group: "0" },
                { file: "/etc/ssh/sshd_config.d/20-dynoform-port.conf", content: `Port ${config.hosts.find((x) => x.name === h.name)!.port}\n`, permissions: "0644", owner: "0", group: "0" },
            ]);
            // Never the root key's private half, nor a key in the environment.
            expect(JSON.stringify(reveal(c.inputs))).not.toContain(JSON.stringify(rootKey.privateKey).slice(1, -1));
            expect(c.inputs.envs).toEqual(["container=docker"]);
        }
        const pairs = created.filter((c) => c.type.includes("SshKeyPair")).map((c) => c.name);
        expect(pairs.sort()).toEqual(HOSTS.flatMap((h) => [`${h.name}-docker-host-key`, `${h.name}-docker-root-key`]).sort());
    });

    test("Host.ssh dials each container's published port with the root key and pins its host key", async () => {
        const offsets: Record<string, number> = { "edge-1": 10, "ctl-1": 11, "dyno-1": 21, "data-1": 30 };
        for (const [i, h] of HOSTS.entries()) {
            const ssh: SshConnection = await value(hosts[i].ssh);
            expect(ssh).toEqual({
                name: h.name,
                host: "127.0.0.1",
                port: 22000 + offsets[h.name],
                user: "root",
                privateKey: keyPair(`${h.name}-docker-root-key`).privateKey,
                hostKey: keyPair(`${h.name}-docker-host-key`).publicKey,
            });
            expect(await pulumi.isSecret(hosts[i].ssh)).toBe(true);
            expect(await value(hosts[i].privateAddress)).toBe(h.address);
            expect(await value(hosts[i].publicAddress)).toBe(h.address);
            expect(await value(hosts[i].privateSubnet)).toBe("10.214.1.0/24");
        }
    });

    test("each host's SSH port is its published one, for the firewall and the other hosts too", () => {
        expect(Object.fromEntries(config.hosts.map((h) => [h.name, h.port]))).toEqual({ "edge-1": 22010, "ctl-1": 22011, "dyno-1": 22021, "data-1": 22030 });
    });

    test("the control host says where users push: its git port on the Docker host, on 0.0.0.0 dialled where the hosts' sshd is", async () => {
        const ctl = hosts[HOSTS.findIndex((h) => h.name === "ctl-1")];
        expect(await value(ctl.publicSsh!)).toEqual({ host: "127.0.0.1", port: 2222 });
        for (const h of hosts.filter((x) => x !== ctl)) expect(h.publicSsh).toBeUndefined();
        const { dockerGitEndpoint } = require("../../components/hosts/docker") as typeof import("../../components/hosts/docker");
        const everywhere = parseStackConfig({ ...RAW, docker: { publish: { address: "0.0.0.0" } } });
        expect(dockerGitEndpoint(everywhere.docker!)).toEqual({ host: "127.0.0.1", port: 2222 });
    });

    test("another target's config is refused before anything is declared", () => {
        const { dockerHosts } = require("../../components/hosts/docker") as typeof import("../../components/hosts/docker");
        const before = created.length;
        const lab = parseStackConfig({ target: "lab", lab: { network: "local", subnet: "10.213.1.0/24" }, hosts: HOSTS.map((h) => ({ ...h, address: h.address.replace("10.214", "10.213") })) });
        expect(() => dockerHosts(lab)).toThrow(/set dynoform:target docker/);
        expect(created.length).toBe(before);
    });
});

describe("docker stack config", () => {

    test("defaults: the local socket, network dynoform, packages image, 80/443/2222 on loopback, sshd from 22000", () => {
        const config = parseStackConfig({ target: "docker", privateSubnet: "10.214.1.0/24", hosts: HOSTS });
        expect(config.docker).toEqual({
            host: "unix:///var/run/docker.sock",
            network: "dynoform",
            gateway: "10.214.1.1",
            image: "packages",
            publish: { address: "127.0.0.1", http: 80, https: 443, git: 2222 },
            ssh: { address: "127.0.0.1", bind: "127.0.0.1", portBase: 22000 },
        });
    });

    test("the example stack parses as a docker stack", () => {
        const doc = yaml.load(fs.readFileSync(path.join(__dirname, "../../stacks/Pulumi.docker.example.yaml"), "utf8")) as { config: Record<string, unknown> };
        const raw = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^dynoform:/, ""), v]));
        const config = parseStackConfig(raw as RawStackConfig);
        expect(config.target).toBe("docker");
        expect(config.docker).toMatchObject({ host: "unix:///var/run/docker.sock", publish: { http: 8080, https: 8443, git: 2222 } });
    });

    test("an engine address other than unix:// or ssh:// names the forms and the command", () => {
        expect(problemsOf({ ...RAW, docker: { host: "tcp://box:2375" } })).toEqual([
            expect.stringMatching(/^dynoform:docker\.host must be unix:\/\/\/var\/run\/docker\.sock .* or ssh:\/\/user@box .*pulumi config set --path dynoform:docker\.host/),
        ]);
        expect(problemsOf({ ...RAW, docker: { host: "/var/run/docker.sock" } })).toEqual([expect.stringContaining("dynoform:docker.host must be")]);
        expect(problemsOf({ ...RAW, docker: { host: "ssh://ops@box:2200", sshBind: "192.0.2.7" } })).toEqual([]);
    });

    test("an ssh:// engine: sshd stays on the box's loopback unless an address of the box is named; without one or a tunnel, the fix is said", () => {
        const remote = { ...RAW, docker: { host: "ssh://ops@box.example.com" } };
        expect(problemsOf(remote)).toEqual([
            "dynoform:docker.host ssh://ops@box.example.com is a remote engine: the hosts' sshd would be published on the box's 127.0.0.1, which this machine cannot reach. " +
                "Publish them on an address of the box this machine reaches (`pulumi config set --path dynoform:docker.sshBind <the box's IPv4 address>`; " +
                "anyone who reaches it reaches root's sshd, key only), or keep them on the box's loopback and tunnel to it " +
                "(`pulumi config set --path dynoform:docker.sshAddress 127.0.0.1`, then keep `ssh -N -L 22010:127.0.0.1:22010 -L 22011:127.0.0.1:22011 -L 22021:127.0.0.1:22021 -L 22030:127.0.0.1:22030 -L 2222:127.0.0.1:2222 ops@box.example.com` running)",
        ]);
        expect(problemsOf({ ...remote, docker: { ...remote.docker, host: "ssh://ops@box.example.com:2200", sshAddress: "box.example.com" } })).toEqual([
            expect.stringContaining("`ssh -N -p 2200 -L 22010:127.0.0.1:22010"),
        ]);
        // The address named for the box serves git push and the edge too, unless publish.address says otherwise.
        const { dockerGitEndpoint } = require("../../components/hosts/docker") as typeof import("../../components/hosts/docker");
        const bound = parseStackConfig({ ...RAW, docker: { host: "ssh://ops@box.example.com", sshBind: "192.0.2.7" } });
        expect(bound.docker).toMatchObject({ ssh: { address: "192.0.2.7", bind: "192.0.2.7" }, publish: { address: "192.0.2.7" } });
        expect(dockerGitEndpoint(bound.docker!)).toEqual({ host: "192.0.2.7", port: 2222 });
        const everywhere = parseStackConfig({ ...RAW, docker: { host: "ssh://ops@box.example.com", sshBind: "0.0.0.0", publish: { address: "192.0.2.7" } } });
        expect(everywhere.docker).toMatchObject({ ssh: { address: "box.example.com", bind: "0.0.0.0" }, publish: { address: "192.0.2.7" } });
        const tunnelled = parseStackConfig({ ...RAW, docker: { host: "ssh://ops@box.example.com:2200", sshAddress: "127.0.0.1" } });
        expect(tunnelled.docker).toMatchObject({ ssh: { address: "127.0.0.1", bind: "127.0.0.1" }, publish: { address: "127.0.0.1" } });
        expect(dockerGitEndpoint(tunnelled.docker!)).toEqual({ host: "127.0.0.1", port: 2222 });
        expect(problemsOf({ ...RAW, docker: { sshBind: "box" } })).toEqual([
            expect.stringContaining("dynoform:docker.sshBind must be an IPv4 address of the Docker host"),
        ]);
    });

    test("an address outside privateSubnet, or on its gateway, says which address to pick", () => {
        const hosts = [{ ...HOSTS[0], address: "10.99.0.10" }, { ...HOSTS[1], address: "10.214.1.1" }, ...HOSTS.slice(2)];
        expect(problemsOf({ ...RAW, hosts })).toEqual([
            "edge-1: address 10.99.0.10 is outside dynoform:privateSubnet 10.214.1.0/24 (the Docker network's subnet): pick an address in it",
            "ctl-1 (docker target): address 10.214.1.1 is the subnet's own, its broadcast or the gateway 10.214.1.1 (the Docker host's address on the network): pick another address in 10.214.1.0/24",
        ]);
    });

    test("every role needs a host, and one edge publishes 80/443", () => {
        expect(problemsOf({ ...RAW, hosts: HOSTS.filter((h) => h.name !== "data-1") })).toEqual(['role data has no host: add "data" to the roles of one of dynoform:hosts']);
        const twoEdges = [...HOSTS, { name: "edge-2", address: "10.214.1.12", roles: ["edge"] }];
        expect(problemsOf({ ...RAW, hosts: twoEdges })).toEqual([expect.stringMatching(/^role edge is on 2 hosts \(edge-1, edge-2\): .* keep edge on one host$/)]);
    });

    test("what the stack makes itself is refused with the fix: port, user, hostKey, a second address", () => {
        const hosts = [{ ...HOSTS[0], port: 2200, user: "admin", hostKey: "ssh-ed25519 AAAA", privateAddress: "10.214.1.99" }, ...HOSTS.slice(1)];
        expect(problemsOf({ ...RAW, hosts })).toEqual([
            "edge-1 (docker target): a container has one address on the Docker network: remove privateAddress and publicAddress and set address to its address in dynoform:privateSubnet",
            "edge-1 (docker target): port 2200: the stack gives each container its SSH port (docker.sshPortBase + its offset in privateSubnet): remove port",
            "edge-1 (docker target): user admin: the stack's key is root's: remove user",
            "edge-1 (docker target): hostKey is made by the stack for each container and pinned: remove hostKey",
        ]);
    });

    test("port clashes and bad values: each with its fix", () => {
        expect(problemsOf({ ...RAW, docker: { publish: { git: 80 } } })).toEqual([
            "dynoform:docker.publish.git 80 is also docker.publish.http: give each published port its own number",
        ]);
        expect(problemsOf({ ...RAW, docker: { publish: { http: 22010 } } })).toEqual([
            "edge-1 (docker target): its SSH port 22010 (docker.sshPortBase + its offset in 10.214.1.0/24) is also dynoform:docker.publish.http: move docker.sshPortBase or that port",
        ]);
        expect(problemsOf({ ...RAW, docker: { sshPortBase: 65520 } })).toEqual([
            "dyno-1 (docker target): its SSH port would be 65541 (docker.sshPortBase 65520 + its offset in 10.214.1.0/24): lower dynoform:docker.sshPortBase or pick a lower address",
            "data-1 (docker target): its SSH port would be 65550 (docker.sshPortBase 65520 + its offset in 10.214.1.0/24): lower dynoform:docker.sshPortBase or pick a lower address",
        ]);
        expect(problemsOf({ ...RAW, docker: { network: "Bad Name", image: "full", publish: { address: "localhost" } } })).toEqual([
            expect.stringContaining("dynoform:docker.network must be a Docker network name"),
            "dynoform:docker.image must be base or packages (got \"full\")",
            expect.stringContaining("dynoform:docker.publish.address must be an IPv4 address of the Docker host: 127.0.0.1 (this machine only) or 0.0.0.0"),
        ]);
    });

    test("a docker section on another target, and the lab's passphrase, are refused", () => {
        const lab = { target: "lab", lab: { network: "local", subnet: "10.213.1.0/24" }, hosts: HOSTS.map((h) => ({ ...h, address: h.address.replace("10.214", "10.213") })) };
        expect(problemsOf({ ...lab, docker: { host: "unix:///var/run/docker.sock" } })).toEqual([
            "dynoform:docker is set but dynoform:target is lab: set dynoform:target docker or remove dynoform:docker",
        ]);
        expect(problemsOf({ ...RAW, secretsPassphrase: "dynoform-local-lab" })).toEqual([expect.stringContaining("this docker stack's secrets")]);
    });
});
