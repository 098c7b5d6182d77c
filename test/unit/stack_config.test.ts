import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { parseStackConfig, RawStackConfig } from "../../components/config/stack_config";
import { problemsOf } from "../support/stack_problems";

const labHosts = [
    { name: "edge-1", address: "10.213.1.10", roles: ["edge", "control"] },
    { name: "dyno-1", address: "10.213.1.21", roles: ["dyno"] },
    { name: "data-1", address: "10.213.1.30", roles: ["data"] },
];
const valid: RawStackConfig = { target: "lab", lab: { network: "local", subnet: "10.213.1.0/24" }, hosts: labHosts };


describe("stack config", () => {
    test("the committed stacks parse", () => {
        for (const file of fs.readdirSync(path.join(__dirname, "../../stacks")).filter((f) => f.endsWith(".yaml"))) {
            const doc = yaml.load(fs.readFileSync(path.join(__dirname, "../../stacks", file), "utf8")) as { config: Record<string, unknown> };
            const raw: Record<string, unknown> = {};
            for (const [key, value] of Object.entries(doc.config)) {
                if (key.startsWith("dynoform:")) raw[key.slice("dynoform:".length)] = value;
            }
            expect(() => parseStackConfig(raw as RawStackConfig)).not.toThrow();
        }
    });

    test("defaults for the lab", () => {
        const config = parseStackConfig(valid);
        expect(config.privateSubnet).toBe("10.213.1.0/24");
        expect(config.outsideAddresses).toEqual(["10.213.1.1"]);
        expect(config.memcachedMemoryMb).toBe(64);
        expect(config.hosts[0]).toMatchObject({ user: "root", port: 22, privateAddress: "10.213.1.10" });
    });

    test("an unknown role names the valid ones", () => {
        const hosts = [{ ...labHosts[0], roles: ["edge", "edg", "control"] }, ...labHosts.slice(1)];
        expect(problemsOf({ ...valid, hosts })).toEqual(['dynoform:hosts[0] (edge-1): unknown role "edg" (roles are: edge, dyno, data, control)']);
    });

    test("a role with no host says how to fix it", () => {
        expect(problemsOf({ ...valid, hosts: labHosts.slice(0, 2) })).toEqual([
            'role data has no host: add "data" to the roles of one of dynoform:hosts',
        ]);
    });

    test("missing keys are all reported at once", () => {
        const problems = problemsOf({ target: "lab", hosts: [{ name: "x" }] });
        expect(problems).toEqual(
            expect.arrayContaining([
                expect.stringContaining("dynoform:lab is required"),
                expect.stringContaining("dynoform:hosts[0] (x).roles is missing"),
                expect.stringContaining("dynoform:hosts[0] (x).address must be an IPv4 address"),
                expect.stringContaining("role edge has no host"),
            ]),
        );
    });

    test("lab addresses must be inside the subnet and not the gateway", () => {
        const hosts = [{ ...labHosts[0], address: "10.213.1.1" }, { ...labHosts[1], address: "10.9.9.9" }, labHosts[2]];
        expect(problemsOf({ ...valid, hosts })).toEqual([
            "edge-1: address 10.213.1.1 must be inside dynoform:lab.subnet 10.213.1.0/24 (.2 to .254; .1 is the lab gateway)",
            "dyno-1: address 10.9.9.9 must be inside dynoform:lab.subnet 10.213.1.0/24 (.2 to .254; .1 is the lab gateway)",
        ]);
    });

    test("servers need pinned host keys and a private subnet", () => {
        const problems = problemsOf({ target: "servers", hosts: labHosts });
        expect(problems).toContain(
            'dynoform:hosts[0] (edge-1).hostKey is missing or malformed: pin it with `ssh-keyscan -t ed25519 10.213.1.10` and set hostKey to "ssh-ed25519 AAAA..."',
        );
        expect(problems).toContain(
            "dynoform:privateSubnet is missing or not a CIDR such as 10.0.0.0/24: set the private network of your hosts",
        );
    });

    test("servers: internal services never on a public network, secrets never under the lab passphrase", () => {
        const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample";
        const hosts = labHosts.map((h, i) => ({ ...h, address: `203.0.113.${10 + i}`, hostKey: key }));
        // privateAddress left to default to the (public) SSH address, and a subnet that covers it.
        const problems = problemsOf({ target: "servers", hosts, privateSubnet: "203.0.113.0/24", secretsPassphrase: "dynoform-local-lab" });
        expect(problems).toEqual([
            expect.stringMatching(/^dynoform:privateSubnet 203\.0\.113\.0\/24 is not a private range: .* set each host's privateAddress$/),
            expect.stringMatching(/^this servers stack's secrets \(root SSH key, tokens, database password\) would be encrypted with the lab's published passphrase: set your own PULUMI_CONFIG_PASSPHRASE/),
        ]);
        // A private subnet, but no private address: each host says so (its SSH address is public).
        expect(problemsOf({ target: "servers", hosts, privateSubnet: "10.0.0.0/24", secretsPassphrase: "a passphrase of our own" })).toEqual(
            hosts.map((h) => `${h.name}: private address ${h.address} is outside dynoform:privateSubnet 10.0.0.0/24: set privateAddress (it defaults to address, the SSH address; internal services listen on the private one, and only there do they answer)`),
        );
        const fine = hosts.map((h, i) => ({ ...h, privateAddress: `10.0.0.${10 + i}` }));
        expect(problemsOf({ target: "servers", hosts: fine, privateSubnet: "10.0.0.0/24", secretsPassphrase: "a passphrase of our own" })).toEqual([]);
        expect(problemsOf({ ...valid, secretsPassphrase: "dynoform-local-lab" })).toEqual([]);
    });

    test("servers: a host without a private address of its own, or a section of another target, stops with the fix", () => {
        const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample";
        const base = { target: "servers", privateSubnet: "10.0.0.0/24", secretsPassphrase: "ours" };
        const hosts = [
            { name: "edge-1", address: "203.0.113.10", privateAddress: "10.0.0.10", roles: ["edge", "control"], hostKey: key },
            // A public-only host: only its public address is known.
            { name: "dyno-1", address: "203.0.113.21", publicAddress: "203.0.113.21", roles: ["dyno"], hostKey: key },
            { name: "dyno-2", address: "203.0.113.22", privateAddress: "10.0.0.10", roles: ["dyno"], hostKey: key },
            { name: "data-1", address: "203.0.113.30", privateAddress: "10.0.0.255", roles: ["data"], hostKey: key },
        ];
        expect(problemsOf({ ...base, hosts, lab: { network: "local", subnet: "10.213.1.0/24" }, aws: { region: "eu-central-1" } })).toEqual([
            "dynoform:lab is set but dynoform:target is servers: remove dynoform:lab (`pulumi config rm dynoform:lab`), or set dynoform:target lab",
            "dynoform:aws is set but dynoform:target is servers: remove dynoform:aws (`pulumi config rm dynoform:aws`), or set dynoform:target aws",
            "dyno-1: private address 203.0.113.21 is outside dynoform:privateSubnet 10.0.0.0/24: set privateAddress (it defaults to address, the SSH address; internal services listen on the private one, and only there do they answer)",
            "data-1: private address 10.0.0.255 is the network or broadcast address of dynoform:privateSubnet 10.0.0.0/24: set privateAddress to the host's own address on it",
            "private address 10.0.0.10 is given to edge-1 and dyno-2: each host needs its own privateAddress on dynoform:privateSubnet 10.0.0.0/24 (it defaults to address)",
        ]);
        // A role with no host: named, with where to add it.
        const noData = hosts.filter((h) => h.name !== "data-1" && h.name !== "dyno-1").map((h, i) => ({ ...h, privateAddress: `10.0.0.${10 + i}` }));
        expect(problemsOf({ ...base, hosts: noData })).toEqual(['role data has no host: add "data" to the roles of one of dynoform:hosts']);
    });

    test("bad target, domain, sizes and duplicates", () => {
        const problems = problemsOf({
            ...valid,
            target: "gcp",
            domain: "Not A Domain",
            memcachedMemoryMb: 2,
            hosts: [...labHosts, { ...labHosts[1] }],
        });
        expect(problems).toEqual(
            expect.arrayContaining([
                'dynoform:target must be one of lab, servers, aws, docker (got "gcp")',
                'dynoform:domain must be a DNS name such as apps.example.com (got "Not A Domain")',
                "dynoform:memcachedMemoryMb must be a whole number from 16 to 65536 (got 2)",
                "host name dyno-1 is used twice: host names must be unique",
            ]),
        );
    });

    test("data and control on exactly one host", () => {
        const hosts = [...labHosts, { name: "data-2", address: "10.213.1.31", roles: ["data"] }];
        expect(problemsOf({ ...valid, hosts })).toEqual(["role data must be on exactly one host (found 2): remove it from all but one"]);
    });

    describe("dynoform:floatingAddress", () => {
        const twoEdges = [...labHosts, { name: "edge-2", address: "10.213.1.11", roles: ["edge"] }];
        const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample";
        const servers = twoEdges.map((h, i) => ({ ...h, address: `203.0.113.${10 + i}`, privateAddress: `10.0.0.${10 + i}`, hostKey: key }));
        const serversStack = { target: "servers", hosts: servers, privateSubnet: "10.0.0.0/24", secretsPassphrase: "a passphrase of our own" };

        test("a free address of the lab subnet or the private subnet, with two edges", () => {
            expect(parseStackConfig({ ...valid, hosts: twoEdges, floatingAddress: "10.213.1.9" }).floatingAddress).toBe("10.213.1.9");
            expect(parseStackConfig(serversStack).floatingAddress).toBeUndefined();
            expect(parseStackConfig({ ...serversStack, floatingAddress: "10.0.0.9" }).floatingAddress).toBe("10.0.0.9");
        });

        test("refused on aws (its load balancer spans the edges) and docker (one published edge)", () => {
            const aws = problemsOf({ target: "aws", aws: {}, floatingAddress: "10.0.0.9" });
            expect(aws).toContain("dynoform:floatingAddress is not used by target aws: the aws target puts a Network Load Balancer over the edges; remove dynoform:floatingAddress");
            const docker = problemsOf({ target: "docker", privateSubnet: "10.214.1.0/24", hosts: [{ name: "all-1", address: "10.214.1.10", roles: ["edge", "dyno", "data", "control"] }], floatingAddress: "10.214.1.9" });
            expect(docker).toEqual([
                "dynoform:floatingAddress is not used by target docker: it publishes one edge's 80/443 on the Docker host (dynoform:docker.publish), and a floating address moves between two or more edges; remove dynoform:floatingAddress",
            ]);
        });

        test("not an IPv4 address", () => {
            expect(problemsOf({ ...valid, hosts: twoEdges, floatingAddress: "edge.example.com" })).toEqual([
                'dynoform:floatingAddress must be an IPv4 address such as 10.0.0.9 (got "edge.example.com"): a free address of the edges\' private network, which VRRP moves to a live edge',
            ]);
        });

        test("lab: inside the lab subnet, not the gateway, the subnet's own or broadcast address", () => {
            for (const address of ["10.213.9.9", "10.213.1.1", "10.213.1.0", "10.213.1.255"]) {
                expect(problemsOf({ ...valid, hosts: twoEdges, floatingAddress: address })).toEqual([
                    `dynoform:floatingAddress ${address} must be inside dynoform:lab.subnet 10.213.1.0/24 (.2 to .254; .1 is the lab gateway): pick a free address there`,
                ]);
            }
        });

        test("servers: inside the private subnet, where the edges' VRRP adverts travel", () => {
            expect(problemsOf({ ...serversStack, floatingAddress: "203.0.113.9" })).toEqual([
                "dynoform:floatingAddress 203.0.113.9 must be a host address inside dynoform:privateSubnet 10.0.0.0/24: it moves on the interface that holds each edge's private address, " +
                    "where the edges' VRRP adverts travel; pick a free address there (and point clients, or your router's forwarding, at it)",
            ]);
        });

        test("no host's address", () => {
            expect(problemsOf({ ...valid, hosts: twoEdges, floatingAddress: "10.213.1.21" })).toEqual([
                "dynoform:floatingAddress 10.213.1.21 is also dyno-1's address: pick an address no host uses (it moves between the edges)",
            ]);
            // A servers host's public and private addresses alike.
            expect(problemsOf({ ...serversStack, floatingAddress: "10.0.0.11" })).toEqual([
                "dynoform:floatingAddress 10.0.0.11 is also dyno-1's address: pick an address no host uses (it moves between the edges)",
            ]);
        });

        test("two or more edges: one edge has nowhere to fail over to", () => {
            expect(problemsOf({ ...valid, floatingAddress: "10.213.1.9" })).toEqual([
                'dynoform:floatingAddress needs two or more hosts with role edge (found one, edge-1): add "edge" to another host\'s roles, or remove dynoform:floatingAddress and point clients at edge-1\'s own address',
            ]);
            const many = [...labHosts, ...Array.from({ length: 20 }, (_x, i) => ({ name: `edge-${i + 2}`, address: `10.213.1.${100 + i}`, roles: ["edge"] }))];
            expect(problemsOf({ ...valid, hosts: many, floatingAddress: "10.213.1.9" })).toEqual(["dynoform:floatingAddress takes at most 20 edges (found 21): keep edge on fewer hosts"]);
        });
    });
});
