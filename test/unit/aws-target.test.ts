// The aws target under Pulumi's mocks: the resource graph it declares (VPC, subnets, routes,
// security groups, instances, load balancer, volumes), the user data, the Hosts it yields and
// the Platform's SSH resources on them; and the stack config's checks of dynoform:aws.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { value } from "../support/outputs";
import { parseStackConfig, RawStackConfig, StackConfigError } from "../../components/config/stack_config";
import type { Host } from "../../components/hosts/host";
import type { SshConnection } from "../../components/remote/connection";
import type { AwsHostsResult } from "../../components/hosts/aws";
import { parseAwsUserData } from "../../components/hosts/aws/user_data";
import { generateEd25519 } from "../../components/secrets/ssh_keypair";

interface Created {
    type: string;
    name: string;
    provider: string;
    inputs: Record<string, any>;
    state: Record<string, any>;
}

const AMI = "ami-0d3b1a6e2c0ffee12";
const ZONES = ["eu-central-1a", "eu-central-1b", "eu-central-1c"];
const VPC = "10.42.0.0/16";
const SSH_FROM = "198.51.100.7/32";
const LB_DNS = "dynoform-edge-lb-0123456789.elb.eu-central-1.amazonaws.com";
/** Where the mock puts an instance's private address, by the subnet (mock id) it is launched in. */
const SUBNET_PREFIX: Record<string, string> = {
    "dynoform-public-a-id": "10.42.0.",
    "dynoform-public-b-id": "10.42.64.",
    "dynoform-private-a-id": "10.42.128.",
    "dynoform-private-b-id": "10.42.192.",
};

/** SshKeyPair's type token (a dynamic resource of module secrets:SshKeyPair). */
const KEY_PAIR = "pulumi-nodejs:dynamic/secrets:SshKeyPair:Resource";

const created: Created[] = [];
const calls: { token: string; inputs: Record<string, any>; provider?: string }[] = [];
let instanceCount = 0;
let eipCount = 0;

pulumi.runtime.setMocks(
    {
        newResource(args) {
            const state: Record<string, any> = { ...args.inputs };
            if (args.type === "aws:ec2/instance:Instance") {
                instanceCount += 1;
                state.privateIp = `${SUBNET_PREFIX[args.inputs.subnetId]}${10 + instanceCount}`;
                state.publicIp = args.inputs.associatePublicIpAddress ? `192.0.2.${10 + instanceCount}` : "";
            } else if (args.type === "aws:ec2/eip:Eip") {
                eipCount += 1;
                state.publicIp = `203.0.113.${eipCount}`;
            } else if (args.type === "aws:lb/loadBalancer:LoadBalancer") {
                state.dnsName = LB_DNS;
                state.arn = `arn:aws:elasticloadbalancing:eu-central-1:1:loadbalancer/net/${args.name}`;
            } else if (args.type === "aws:lb/targetGroup:TargetGroup") {
                state.arn = `arn:aws:elasticloadbalancing:eu-central-1:1:targetgroup/${args.name}`;
            } else if (args.type === KEY_PAIR) {
                const pair = generateEd25519(args.inputs.comment);
                state.publicKey = pair.public.trim().split(/\s+/).slice(0, 2).join(" ");
                state.privateKey = pair.private;
            }
            state.sha256 = `sha-of-${args.name}`;
            state.value = `secret-${args.name}`;
            created.push({ type: args.type, name: args.name, provider: args.provider ?? "", inputs: args.inputs, state });
            return { id: `${args.name}-id`, state };
        },
        call(args) {
            calls.push({ token: args.token, inputs: args.inputs, provider: args.provider });
            if (args.token === "aws:ec2/getAmi:getAmi") return { id: AMI, imageId: AMI, name: "debian-12-amd64-20261101-1900", architecture: "x86_64" };
            if (args.token === "aws:index/getAvailabilityZones:getAvailabilityZones") return { id: "eu-central-1", names: ZONES, zoneIds: ["euc1-az2", "euc1-az3", "euc1-az1"] };
            return {};
        },
    },
    "dynoform",
    "aws",
    false,
);

/** Pulumi's wire form of a secret, as mocks may receive it. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
function plain(v: any): any {
    return v && typeof v === "object" && SECRET_SIG in v ? v.value : v;
}

const RAW: RawStackConfig = {
    target: "aws",
    domain: "apps.example.com",
    aws: {
        region: "eu-central-1",
        instanceTypes: { edge: "t3.small", control: "t3.medium", dyno: "m7i-flex.large", data: "r6i.large" },
        edgeHosts: 2,
        dynoHosts: 3,
        sshFrom: SSH_FROM,
    },
};

const of = (type: string): Created[] => created.filter((c) => c.type === type);
const one = (type: string, name: string): Created => {
    const found = created.filter((c) => c.type === type && c.name === name);
    expect(found.map((c) => c.name)).toEqual([name]);
    return found[0];
};
const idOf = (c: Created): string => `${c.name}-id`;
/** Rows in a fixed order: resources reach the mocks in the order their inputs resolve, not as declared. */
const sorted = (rows: unknown[][]): unknown[][] => [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));


let result: AwsHostsResult;
let connections: Record<string, SshConnection>;
let hosts: Host[];

beforeAll(async () => {
    const config = parseStackConfig(RAW);
    // Required after setMocks, as index.ts requires it: only for target aws.
    const { awsHosts } = require("../../components/hosts/aws") as typeof import("../../components/hosts/aws");
    result = awsHosts(config);
    hosts = result.hosts;
    const list = await Promise.all(hosts.map((h) => value(h.ssh)));
    connections = Object.fromEntries(list.map((c) => [c.name, c]));
    await value(result.outputs.loadBalancer);
    await new Promise((r) => setTimeout(r, 200)); // let every registration reach the mocks
}, 60_000); // loading @pulumi/aws takes a while

const NAMES = ["edge-1", "edge-2", "control-1", "dyno-1", "dyno-2", "dyno-3", "data-1"];
const instance = (host: string): Created => one("aws:ec2/instance:Instance", `dynoform-${host}`);

describe("the stack config", () => {
    test("dynoform:aws makes the hosts: edges and dynos by count, one control and one data host; the VPC is the private subnet", () => {
        const config = parseStackConfig(RAW);
        expect(config.hosts.map((h) => [h.name, h.roles])).toEqual([
            ["edge-1", ["edge"]],
            ["edge-2", ["edge"]],
            ["control-1", ["control"]],
            ["dyno-1", ["dyno"]],
            ["dyno-2", ["dyno"]],
            ["dyno-3", ["dyno"]],
            ["data-1", ["data"]],
        ]);
        expect(config.privateSubnet).toBe(VPC);
        expect(config.aws).toMatchObject({ region: "eu-central-1", sshFrom: SSH_FROM, vpcCidr: VPC, volumeGb: { data: 20, control: 20 } });
    });

    function problems(aws: unknown, extra: Partial<RawStackConfig> = {}): string[] {
        try {
            parseStackConfig({ ...RAW, aws, ...extra });
        } catch (err) {
            expect(err).toBeInstanceOf(StackConfigError);
            return (err as StackConfigError).problems;
        }
        throw new Error("expected a StackConfigError");
    }
    const base = RAW.aws as Record<string, unknown>;

    test.each([
        ["no dyno host", { ...base, dynoHosts: 0 }, "dynoform:aws.dynoHosts must be a whole number from 1 to 50 (got 0): every role needs at least one host"],
        ["no edge count", { ...base, edgeHosts: undefined }, "dynoform:aws.edgeHosts is missing: give the number of edge instances (1 to 10), e.g. edgeHosts: 2"],
        ["a bad CIDR", { ...base, sshFrom: "198.51.100.7/33" }, "dynoform:aws.sshFrom: \"198.51.100.7/33\": prefix length must be 0-32"],
        ["host bits", { ...base, sshFrom: "198.51.100.7/24" }, "did you mean 198.51.100.0/24?"],
        ["an address", { ...base, sshFrom: "198.51.100.7" }, "dynoform:aws.sshFrom 198.51.100.7 is an address, not a CIDR: write 198.51.100.7/32"],
        ["the world", { ...base, sshFrom: "0.0.0.0/0" }, "opens root SSH on every host to (nearly) the whole internet"],
        ["a private range", { ...base, sshFrom: "10.1.0.0/16" }, "is a private range, but SSH reaches the hosts' public addresses from the internet"],
        ["no sshFrom", { ...base, sshFrom: undefined }, "dynoform:aws.sshFrom must be a CIDR such as 203.0.113.7/32: set it to the public address your SSH comes from"],
        ["a region name", { ...base, region: "Frankfurt" }, "dynoform:aws.region must be an AWS region code such as eu-central-1 or us-east-1 (got \"Frankfurt\")"],
        ["a region code missing its number", { ...base, region: "eu-central" }, "dynoform:aws.region must be an AWS region code"],
        ["a public VPC", { ...base, vpcCidr: "8.8.0.0/16" }, "dynoform:aws.vpcCidr 8.8.0.0/16 is not a private range"],
        ["a VPC too big", { ...base, vpcCidr: "10.0.0.0/8" }, "dynoform:aws.vpcCidr must be a CIDR from /16 to /24"],
        ["an Arm type", { ...base, instanceTypes: { edge: "t4g.small", control: "t3.medium", dyno: "t3.medium", data: "t3.medium" } }, "dynoform:aws.instanceTypes.edge t4g.small is an Arm (Graviton) type"],
        ["a missing type", { ...base, instanceTypes: { edge: "t3.small", control: "t3.medium", dyno: "t3.medium" } }, "dynoform:aws.instanceTypes.data must be an EC2 instance type such as t3.medium (got undefined)"],
        ["a typo", { ...base, dynohosts: 2 }, "dynoform:aws.dynohosts is not a setting of the aws target"],
        ["an image name for dynoform:aws.ami", { ...base, ami: "debian-12-amd64-20261101-1900" }, "dynoform:aws.ami must be an image id of this region such as ami-0123456789abcdef0"],
        ["no section", undefined, "dynoform:aws is required for target aws: set it to {region: eu-central-1"],
    ])("%s stops with the fix", (_what, aws, message) => {
        const list = problems(aws);
        expect(list.some((p) => p.includes(message))).toBe(true);
    });

    test("every problem at once, and lab/servers keys are refused with what to do", () => {
        const list = problems({ ...base, dynoHosts: 0, region: "x" }, { hosts: [{ name: "edge-1", address: "10.0.0.1", roles: ["edge"] }], privateSubnet: "10.0.0.0/24" });
        expect(list).toEqual(
            expect.arrayContaining([
                expect.stringContaining("dynoform:aws.region"),
                expect.stringContaining("dynoform:aws.dynoHosts"),
                "dynoform:hosts is not used by target aws (it makes its hosts from dynoform:aws): remove it",
                "dynoform:privateSubnet is not used by target aws (the private network is dynoform:aws.vpcCidr): remove it",
            ]),
        );
        // a broken dynoform:aws does not also report every role as hostless
        expect(list.some((p) => p.startsWith("role "))).toBe(false);
    });

    test("a config error stops before any resource is declared", () => {
        const before = created.length;
        expect(() => parseStackConfig({ ...RAW, aws: { ...base, edgeHosts: 0 } })).toThrow(StackConfigError);
        expect(created.length).toBe(before);
    });

    test("stacks/Pulumi.aws.example.yaml is a valid aws stack", () => {
        const yaml = require("js-yaml") as typeof import("js-yaml");
        const file = yaml.load(fs.readFileSync(path.join(__dirname, "../../stacks/Pulumi.aws.example.yaml"), "utf8")) as { config: Record<string, unknown> };
        const raw = Object.fromEntries(Object.entries(file.config).map(([k, v]) => [k.replace(/^dynoform:/, ""), v]));
        const config = parseStackConfig(raw as RawStackConfig);
        expect(config.target).toBe("aws");
        expect(config.hosts.map((h) => h.name)).toEqual(["edge-1", "edge-2", "control-1", "dyno-1", "dyno-2", "data-1"]);
    });

    test("the lab's published passphrase is refused for an aws stack too", () => {
        expect(() => parseStackConfig({ ...RAW, secretsPassphrase: "dynoform-local-lab" })).toThrow(/lab's published passphrase/);
    });
});

describe("the resource graph", () => {
    test("every AWS resource and lookup goes through one provider in the configured region", () => {
        const provider = one("pulumi:providers:aws", "dynoform-aws");
        expect(provider.inputs.region).toBe("eu-central-1");
        const awsResources = created.filter((c) => c.type.startsWith("aws:"));
        expect(awsResources.length).toBeGreaterThan(30);
        for (const r of awsResources) expect(r.provider).toMatch(/^urn:pulumi:aws::dynoform::pulumi:providers:aws::dynoform-aws::/);
        for (const c of calls) expect(c.provider).toMatch(/pulumi:providers:aws::dynoform-aws::/);
    });

    test("the Debian 12 image is looked up (Debian's account, amd64, most recent), not written down", () => {
        const lookups = calls.filter((c) => c.token === "aws:ec2/getAmi:getAmi");
        expect(lookups).toHaveLength(1);
        expect(lookups[0].inputs).toMatchObject({ owners: ["136693071363"], mostRecent: true });
        expect(lookups[0].inputs.filters).toEqual(
            expect.arrayContaining([
                { name: "name", values: ["debian-12-amd64-*"] },
                { name: "architecture", values: ["x86_64"] },
            ]),
        );
        for (const host of NAMES) expect(instance(host).inputs.ami).toBe(AMI);
        // dynoform:aws.ami unset: no lookup by id, no account check (test/unit/aws-image.test.ts has those)
        expect(calls.filter((c) => c.token === "aws:index/getCallerIdentity:getCallerIdentity")).toEqual([]);
    });

    test("a VPC with a public and a private subnet in each of two availability zones", () => {
        expect(one("aws:ec2/vpc:Vpc", "dynoform-vpc").inputs).toMatchObject({ cidrBlock: VPC, enableDnsSupport: true, enableDnsHostnames: true });
        const subnets = of("aws:ec2/subnet:Subnet").map((s) => [s.name, s.inputs.cidrBlock, s.inputs.availabilityZone, s.inputs.vpcId, s.inputs.mapPublicIpOnLaunch]);
        expect(sorted(subnets)).toEqual(sorted([
            ["dynoform-public-a", "10.42.0.0/18", "eu-central-1a", "dynoform-vpc-id", false],
            ["dynoform-public-b", "10.42.64.0/18", "eu-central-1b", "dynoform-vpc-id", false],
            ["dynoform-private-a", "10.42.128.0/18", "eu-central-1a", "dynoform-vpc-id", false],
            ["dynoform-private-b", "10.42.192.0/18", "eu-central-1b", "dynoform-vpc-id", false],
        ]));
    });

    test("routes: public subnets by the internet gateway, private ones by the NAT gateway (and back to sshFrom by the internet gateway)", () => {
        one("aws:ec2/internetGateway:InternetGateway", "dynoform-igw");
        const nat = one("aws:ec2/natGateway:NatGateway", "dynoform-nat");
        expect(nat.inputs).toMatchObject({ subnetId: "dynoform-public-a-id", allocationId: "dynoform-nat-ip-id" });
        expect(one("aws:ec2/eip:Eip", "dynoform-nat-ip").inputs.domain).toBe("vpc");
        const routes = of("aws:ec2/route:Route").map((r) => [r.inputs.routeTableId, r.inputs.destinationCidrBlock, r.inputs.gatewayId ?? r.inputs.natGatewayId]);
        expect(sorted(routes)).toEqual(sorted([
            ["dynoform-public-routes-id", "0.0.0.0/0", "dynoform-igw-id"],
            ["dynoform-private-routes-id", "0.0.0.0/0", "dynoform-nat-id"],
            ["dynoform-private-routes-id", SSH_FROM, "dynoform-igw-id"],
        ]));
        const associations = of("aws:ec2/routeTableAssociation:RouteTableAssociation").map((a) => [a.inputs.subnetId, a.inputs.routeTableId]);
        expect(sorted(associations)).toEqual(sorted([
            ["dynoform-public-a-id", "dynoform-public-routes-id"],
            ["dynoform-public-b-id", "dynoform-public-routes-id"],
            ["dynoform-private-a-id", "dynoform-private-routes-id"],
            ["dynoform-private-b-id", "dynoform-private-routes-id"],
        ]));
    });

    test("every security-group rule: from outside the VPC only edges' 80/443, the control host's SSH and SSH from sshFrom", () => {
        expect(sorted(of("aws:ec2/securityGroup:SecurityGroup").map((g) => [g.name, g.inputs.vpcId]))).toEqual(sorted([
            ["dynoform-edge", "dynoform-vpc-id"],
            ["dynoform-control", "dynoform-vpc-id"],
            ["dynoform-dyno", "dynoform-vpc-id"],
            ["dynoform-data", "dynoform-vpc-id"],
        ]));
        const rules = of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map((r) => [
            r.inputs.securityGroupId.replace(/^dynoform-|-id$/g, ""),
            r.inputs.ipProtocol,
            r.inputs.fromPort ?? "all",
            r.inputs.toPort ?? "all",
            r.inputs.cidrIpv4,
        ]);
        expect(sorted(rules)).toEqual(sorted([
            ["edge", "-1", "all", "all", VPC],
            ["edge", "tcp", 22, 22, SSH_FROM],
            ["edge", "tcp", 80, 80, "0.0.0.0/0"],
            ["edge", "tcp", 443, 443, "0.0.0.0/0"],
            ["control", "-1", "all", "all", VPC],
            ["control", "tcp", 22, 22, "0.0.0.0/0"],
            ["dyno", "-1", "all", "all", VPC],
            ["dyno", "tcp", 22, 22, SSH_FROM],
            ["data", "-1", "all", "all", VPC],
            ["data", "tcp", 22, 22, SSH_FROM],
        ]));
        // the same, as the rule it is: nothing internal is open to the world
        for (const [role, protocol, from, , cidr] of rules) {
            if (cidr === VPC) continue;
            expect(protocol).toBe("tcp");
            if (cidr === "0.0.0.0/0") expect(role === "edge" ? [80, 443] : role === "control" ? [22] : []).toContain(from);
            else expect([cidr, from]).toEqual([SSH_FROM, 22]);
        }
        const egress = of("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").map((r) => [r.inputs.securityGroupId, r.inputs.ipProtocol, r.inputs.cidrIpv4]);
        expect(sorted(egress)).toEqual(sorted(["edge", "control", "dyno", "data"].map((role) => [`dynoform-${role}-id`, "-1", "0.0.0.0/0"])));
    });

    test("one instance per host: its role's type and group; edges and control public, dynos and data private; zones alternate", () => {
        const rows = NAMES.map((host) => {
            const i = instance(host).inputs;
            return [host, i.instanceType, i.subnetId, i.vpcSecurityGroupIds, i.associatePublicIpAddress];
        });
        expect(rows).toEqual([
            ["edge-1", "t3.small", "dynoform-public-a-id", ["dynoform-edge-id"], true],
            ["edge-2", "t3.small", "dynoform-public-b-id", ["dynoform-edge-id"], true],
            ["control-1", "t3.medium", "dynoform-public-a-id", ["dynoform-control-id"], false],
            ["dyno-1", "m7i-flex.large", "dynoform-private-a-id", ["dynoform-dyno-id"], true],
            ["dyno-2", "m7i-flex.large", "dynoform-private-b-id", ["dynoform-dyno-id"], true],
            ["dyno-3", "m7i-flex.large", "dynoform-private-a-id", ["dynoform-dyno-id"], true],
            ["data-1", "r6i.large", "dynoform-private-a-id", ["dynoform-data-id"], true],
        ]);
        for (const host of NAMES) {
            expect(instance(host).inputs).toMatchObject({
                userDataReplaceOnChange: true,
                rootBlockDevice: { volumeSize: 16, volumeType: "gp3", encrypted: true },
                metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 1 },
            });
        }
    });

    test("the control host keeps an Elastic IP", () => {
        const eip = one("aws:ec2/eip:Eip", "dynoform-control-1-ip");
        expect(eip.inputs).toMatchObject({ domain: "vpc", instance: idOf(instance("control-1")) });
    });

    test("a network load balancer over the edges: TCP 80 and 443, one target group per port holding every edge", () => {
        const lb = one("aws:lb/loadBalancer:LoadBalancer", "dynoform-edge-lb");
        expect(lb.inputs).toMatchObject({ loadBalancerType: "network", internal: false, subnets: ["dynoform-public-a-id", "dynoform-public-b-id"], enableCrossZoneLoadBalancing: true });
        for (const port of [80, 443]) {
            const group = one("aws:lb/targetGroup:TargetGroup", `dynoform-edge-${port}`);
            expect(group.inputs).toMatchObject({ port, protocol: "TCP", targetType: "instance", vpcId: "dynoform-vpc-id", preserveClientIp: "true" });
            const listener = one("aws:lb/listener:Listener", `dynoform-edge-${port}`);
            expect(listener.inputs).toMatchObject({ loadBalancerArn: lb.state.arn, port, protocol: "TCP", defaultActions: [{ type: "forward", targetGroupArn: group.state.arn }] });
            const targets = of("aws:lb/targetGroupAttachment:TargetGroupAttachment").filter((a) => a.inputs.targetGroupArn === group.state.arn);
            expect(sorted(targets.map((t) => [t.inputs.targetId, t.inputs.port]))).toEqual(sorted([
                [idOf(instance("edge-1")), port],
                [idOf(instance("edge-2")), port],
            ]));
        }
        expect(of("aws:lb/listener:Listener")).toHaveLength(2);
    });

    test("EBS volumes for the data host's PostgreSQL and the control host's state, in their zone, attached", () => {
        const volumes = of("aws:ebs/volume:Volume").map((v) => [v.name, v.inputs.availabilityZone, v.inputs.size, v.inputs.type, v.inputs.encrypted]);
        expect(sorted(volumes)).toEqual(sorted([
            ["dynoform-control-1-volume", "eu-central-1a", 20, "gp3", true],
            ["dynoform-data-1-volume", "eu-central-1a", 20, "gp3", true],
        ]));
        const attachments = of("aws:ec2/volumeAttachment:VolumeAttachment").map((a) => [a.inputs.instanceId, a.inputs.volumeId, a.inputs.deviceName, a.inputs.stopInstanceBeforeDetaching]);
        expect(sorted(attachments)).toEqual(sorted([
            [idOf(instance("control-1")), "dynoform-control-1-volume-id", "/dev/sdf", true],
            [idOf(instance("data-1")), "dynoform-data-1-volume-id", "/dev/sdf", true],
        ]));
    });
});

describe("the user data", () => {
    const keyPair = (name: string): Created => one(KEY_PAIR, name);

    test("prepares SSH only: root's key, the stack's host key (no other types), and on data/control the volume mount", () => {
        const root = keyPair("dynoform-aws-root-key").state;
        for (const host of NAMES) {
            const text = plain(instance(host).inputs.userData) as string;
            const doc = parseAwsUserData(text);
            const hostKey = keyPair(`dynoform-${host}-host-key`).state;
            const volume = host === "data-1" ? "/var/lib/postgresql" : host === "control-1" ? "/var/lib/dynoform" : undefined;
            expect(Object.keys(doc).sort()).toEqual(
                ["disable_root", "ssh_authorized_keys", "ssh_deletekeys", "ssh_genkeytypes", "ssh_keys", "ssh_pwauth", ...(volume ? ["runcmd", "write_files"] : [])].sort(),
            );
            expect(doc).toMatchObject({ disable_root: false, ssh_pwauth: false, ssh_deletekeys: true, ssh_genkeytypes: [] });
            expect(doc.ssh_authorized_keys).toEqual([root.publicKey]);
            expect(doc.ssh_keys).toEqual({ ed25519_private: hostKey.privateKey, ed25519_public: hostKey.publicKey });
            // the key the instance gets is the key the connection pins
            expect(connections[host].hostKey).toBe(hostKey.publicKey);
            if (volume) {
                expect(doc.runcmd).toEqual([["/usr/local/sbin/dynoform-mount-volume", `dynoform-${host}-volume-id`, volume]]);
                const script = (doc.write_files as { path: string; content: string }[])[0];
                expect(script.path).toBe("/usr/local/sbin/dynoform-mount-volume");
                // formats only a blank disk, mounts by UUID from fstab (again at every boot)
                expect(script.content).toMatch(/if \[ -z "\$\(blkid -p -s TYPE -o value "\$dev"[^\n]*\n\s+mkfs\.ext4/);
                expect(script.content).toContain('/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$serial');
                expect(script.content).toContain("/etc/fstab");
                execFileSync("sh", ["-n"], { input: script.content }); // parses as POSIX sh
            }
            // nothing is installed or started: the role components do that over SSH
            const rest = JSON.stringify({ ...doc, ssh_keys: undefined, ssh_authorized_keys: undefined });
            expect(rest).not.toMatch(/\bapt(-get)?\b|\bnginx\b|\bpostgresql-|\bnpm\b|\bsystemctl\b|\bcurl\b/);
        }
    });

    test("the user data, which holds the host's private key, is a secret", async () => {
        // the mocks see a secret input in its wire form
        for (const host of NAMES) expect(instance(host).inputs.userData).toMatchObject({ [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270" });
    });
});

describe("the hosts and the SSH layer", () => {
    test("one Host per host: SSH as root to the instance's public address (the Elastic IP for control), the stack's key, the host key pinned", async () => {
        expect(hosts.map((h) => h.name)).toEqual(NAMES);
        const root = one(KEY_PAIR, "dynoform-aws-root-key").state;
        for (const h of hosts) {
            const i = instance(h.name).state;
            const c = connections[h.name];
            const address = h.name === "control-1" ? "203.0.113.2" : i.publicIp;
            expect(c).toEqual({ name: h.name, host: address, port: 22, user: "root", privateKey: root.privateKey, hostKey: expect.stringMatching(/^ssh-ed25519 /) });
            expect(await value(h.privateAddress)).toBe(i.privateIp);
            expect(await value(h.publicAddress)).toBe(address);
            expect(await value(h.privateSubnet)).toBe(VPC);
            expect(await pulumi.isSecret(h.ssh)).toBe(true);
        }
        expect(one("aws:ec2/eip:Eip", "dynoform-control-1-ip").state.publicIp).toBe("203.0.113.2");
    });

    test("every host first waits (over SSH) for cloud-init, and data/control for their volume's mount", () => {
        for (const host of NAMES) {
            const ready = one("pulumi-nodejs:dynamic/remote:Command", `${host}-ready`);
            const c = plain(ready.inputs.connection) as SshConnection;
            expect(c.host).toBe(connections[host].host);
            expect(ready.inputs.create).toContain("cloud-init status --wait");
            expect(ready.inputs.triggers).toEqual([idOf(instance(host))]);
            const mount = host === "data-1" ? "/var/lib/postgresql" : host === "control-1" ? "/var/lib/dynoform" : undefined;
            execFileSync("sh", ["-n"], { input: ready.inputs.create });
            if (mount) expect(ready.inputs.create).toContain(`mountpoint -q ${mount}`);
            else expect(ready.inputs.create).not.toContain("mountpoint");
        }
    });

    test("the outputs the CLI and the operator need: the control host's Elastic IP, the load balancer, the NAT address", async () => {
        expect(await value(result.outputs.controlAddress)).toBe("203.0.113.2");
        expect(await value(result.outputs.loadBalancer)).toBe(LB_DNS);
        expect(await value(result.outputs.egressAddress)).toBe("203.0.113.1");
        expect(result.outputs.region).toBe("eu-central-1");
        expect(Object.keys(await value(result.outputs.instances))).toEqual(NAMES);
    });

    test("the Platform provisions each instance over SSH at its address (the servers target's components, unchanged)", async () => {
        const before = created.length;
        const { Platform } = await import("../../components/platform");
        const platform = new Platform("dynoform", {
            config: parseStackConfig(RAW),
            hosts,
            binaries: {
                router: { source: "/build/dynoform-router", sha256: "r".repeat(64) },
                agent: { source: "/build/dynoform-agent", sha256: "a".repeat(64) },
                control: { source: "/build/dynoform-control", sha256: "c".repeat(64) },
                logplex: { source: "/build/dynoform-logplex", sha256: "l".repeat(64) },
            },
        });
        await value(platform.edgeUrl);
        await new Promise((r) => setTimeout(r, 300));
        const remote = created.slice(before).filter((c) => c.type.startsWith("pulumi-nodejs:dynamic/remote:"));
        expect(remote.length).toBeGreaterThan(50);
        const byHost = new Map<string, Set<string>>();
        for (const r of remote) {
            const c = plain(r.inputs.connection) as SshConnection;
            expect(c.host).toBe(connections[c.name].host);
            expect(c.hostKey).toBe(connections[c.name].hostKey);
            byHost.set(c.name, new Set([...(byHost.get(c.name) ?? []), String(r.inputs.path ?? r.inputs.unit ?? "")]));
        }
        expect([...byHost.keys()].sort()).toEqual([...NAMES].sort());
        expect(byHost.get("control-1")).toContain("/home/git/.ssh/authorized_keys");
        expect(byHost.get("data-1")).toContain("postgresql@15-main");
        // the host firewall's private network is the VPC
        const firewall = remote.find((r) => r.inputs.path === "/etc/dynoform/firewall.nft" && plain(r.inputs.connection).name === "dyno-1");
        expect(String(plain(firewall?.inputs.content))).toContain(`ip saddr ${VPC} accept`);
    }, 30_000);
});

describe("loading", () => {
    const read = (file: string): string => fs.readFileSync(path.join(__dirname, "../..", file), "utf8");

    test("@pulumi/aws is loaded only when the aws target is chosen", () => {
        const index = read("index.ts");
        // index.ts's imports of the aws module are type-only; the module is required in its case alone
        expect(index).not.toMatch(/^import (?!type)[^\n]*(@pulumi\/aws|hosts\/aws)/m);
        expect(index).toMatch(/case "aws": \{[^}]*require\("\.\/components\/hosts\/aws"\)/);
        for (const file of ["components/config/stack_config.ts", "components/hosts/aws/config.ts", "components/hosts/aws/user_data.ts", "components/hosts/index.ts"]) {
            expect(read(file)).not.toMatch(/(from |require\()"(@pulumi\/aws|\.\/aws|[./]*hosts\/aws)"/);
        }
    });
});
