// Host source `aws`: the hosts as EC2 instances in a VPC of their own, made with @pulumi/aws.
// This module is required only when dynoform:target is aws (index.ts), so the other targets
// never load @pulumi/aws. From the SSH connection on, the role components provision these hosts
// as they do existing servers.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { Host } from "./host";
import type { SshConnection } from "../remote/connection";
import { RemoteCommand } from "../remote/command";
import { SshKeyPair } from "../secrets/ssh_keypair";
import { AwsRole, AwsSpec, awsHostNames, awsSubnets } from "./aws/config";
import { awsUserData, readyCommand, VOLUME_MOUNTS } from "./aws/user_data";
import { awsImages } from "./aws/image";

export { parseAwsConfig, awsHostNames, awsSubnets, AWS_DEFAULTS } from "./aws/config";
export type { AwsSpec, AwsRole } from "./aws/config";

export { DEBIAN_AMI_OWNER, DEBIAN_AMI_NAME, amiProblems } from "./aws/image";
/** The ports the load balancer forwards to every edge's nginx (TCP, TLS ends on nginx). */
export const EDGE_PORTS = [80, 443] as const;
const SSH_PORT = 22;

export interface AwsHostsResult {
    hosts: Host[];
    /** What an operator and the `dynoform` CLI need besides the platform's outputs. */
    outputs: {
        region: string;
        /** The load balancer's DNS name: point `*.<domain>` at it (CNAME). */
        loadBalancer: pulumi.Output<string>;
        /** The control host's Elastic IP: git push and the CLI verbs go there. */
        controlAddress: pulumi.Output<string>;
        /** The NAT gateway's address: the private hosts' (dynos', data's) way out. */
        egressAddress: pulumi.Output<string>;
        vpcId: pulumi.Output<string>;
        /** Each instance id by host name. */
        instances: pulumi.Output<Record<string, string>>;
    };
}

/** What awsHosts reads of the stack config. */
export interface AwsStackConfig {
    aws?: AwsSpec;
}

const ROLE_PLACEMENT: Record<AwsRole, "public" | "private"> = { edge: "public", control: "public", dyno: "private", data: "private" };

/**
 * The VPC (public and private subnets in two availability zones, a NAT gateway for the private
 * ones), a security group per role, one instance per host from the current Debian 12 image (or the
 * checked one dynoform:aws.ami names), the network load balancer over the edges, the control
 * host's Elastic IP and the EBS volumes of the data and control hosts; one Host per instance,
 * whose SSH connection waits until the instance is reachable and its volume mounted.
 */
export function awsHosts(config: AwsStackConfig, name = "dynoform"): AwsHostsResult {
    const spec = config.aws;
    if (!spec) throw new Error("awsHosts: the stack config has no dynoform:aws section (see stacks/Pulumi.aws.example.yaml)");
    const provider = new aws.Provider(`${name}-aws`, { region: spec.region });
    const opts = { provider };
    const tags = (n: string): Record<string, string> => ({ Name: `${name}-${n}`, "dynoform:stack": pulumi.getStack() });

    // Two availability zones; each role's image looked up now (Debian's current one unless
    // dynoform:aws.ami names another), so a new point release is picked up by the next instance made
    // (existing instances keep theirs: `ami` is ignored on update).
    const zones = aws.getAvailabilityZonesOutput({ state: "available" }, opts).apply((z) => {
        if (z.names.length < 2) throw new Error(`region ${spec.region} offers ${z.names.length} availability zone(s); the aws target needs two: pick another dynoform:aws.region`);
        return z.names.slice(0, 2);
    });
    const images = awsImages(spec, opts);

    const { publicCidrs, privateCidrs } = awsSubnets(spec.vpcCidr);
    // Every resource of the account hangs off the VPC, and the VPC waits for the images' checks:
    // a refused image stops the program before anything is made, even under `up --skip-preview`.
    const vpc = new aws.ec2.Vpc(
        `${name}-vpc`,
        { cidrBlock: spec.vpcCidr, enableDnsHostnames: true, enableDnsSupport: true, tags: tags("vpc") },
        { ...opts, dependsOn: images.checked },
    );
    const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: tags("igw") }, opts);
    const subnet = (kind: "public" | "private", i: number, cidr: string) =>
        new aws.ec2.Subnet(
            `${name}-${kind}-${i === 0 ? "a" : "b"}`,
            { vpcId: vpc.id, cidrBlock: cidr, availabilityZone: zones.apply((z) => z[i]), mapPublicIpOnLaunch: false, tags: tags(`${kind}-${i === 0 ? "a" : "b"}`) },
            opts,
        );
    const publicSubnets = publicCidrs.map((c, i) => subnet("public", i, c));
    const privateSubnets = privateCidrs.map((c, i) => subnet("private", i, c));

    const publicRoutes = new aws.ec2.RouteTable(`${name}-public-routes`, { vpcId: vpc.id, tags: tags("public") }, opts);
    const publicDefault = new aws.ec2.Route(`${name}-public-default`, { routeTableId: publicRoutes.id, destinationCidrBlock: "0.0.0.0/0", gatewayId: igw.id }, opts);
    // One NAT gateway (in zone a) for both private subnets: the dyno and data hosts reach Debian's
    // mirrors, the npm registry and the apps' outside services from one address.
    const natAddress = new aws.ec2.Eip(`${name}-nat-ip`, { domain: "vpc", tags: tags("nat") }, { ...opts, dependsOn: [igw] });
    const nat = new aws.ec2.NatGateway(`${name}-nat`, { allocationId: natAddress.id, subnetId: publicSubnets[0].id, tags: tags("nat") }, { ...opts, dependsOn: [igw] });
    const privateRoutes = new aws.ec2.RouteTable(`${name}-private-routes`, { vpcId: vpc.id, tags: tags("private") }, opts);
    const privateDefault = new aws.ec2.Route(`${name}-private-default`, { routeTableId: privateRoutes.id, destinationCidrBlock: "0.0.0.0/0", natGatewayId: nat.id }, opts);
    // The private hosts have public addresses too, for the operator's SSH only: replies to sshFrom
    // leave by the internet gateway (so they carry that public address), everything else by the
    // NAT gateway, and no one else's packets can reach them (components/hosts/README.md).
    const privateSsh = new aws.ec2.Route(`${name}-private-ssh-return`, { routeTableId: privateRoutes.id, destinationCidrBlock: spec.sshFrom, gatewayId: igw.id }, opts);
    const associations = [
        ...publicSubnets.map((s, i) => new aws.ec2.RouteTableAssociation(`${name}-public-${i === 0 ? "a" : "b"}`, { subnetId: s.id, routeTableId: publicRoutes.id }, opts)),
        ...privateSubnets.map((s, i) => new aws.ec2.RouteTableAssociation(`${name}-private-${i === 0 ? "a" : "b"}`, { subnetId: s.id, routeTableId: privateRoutes.id }, opts)),
    ];

    // A security group per role. Inside the VPC everything is open (the hosts' own nftables
    // firewall decides port by port, as on the other targets); from outside only edges' 80/443,
    // the control host's SSH (git push and the CLI verbs) and every host's SSH from sshFrom.
    const rules: pulumi.Resource[] = [];
    const groups = {} as Record<AwsRole, aws.ec2.SecurityGroup>;
    for (const role of ["edge", "control", "dyno", "data"] as const) {
        const group = new aws.ec2.SecurityGroup(`${name}-${role}`, { vpcId: vpc.id, description: `dynoform ${role} hosts`, tags: tags(role) }, opts);
        groups[role] = group;
        const ingress = (ruleName: string, description: string, cidr: pulumi.Input<string>, port?: number) =>
            rules.push(
                new aws.vpc.SecurityGroupIngressRule(
                    `${name}-${role}-${ruleName}`,
                    port === undefined
                        ? { securityGroupId: group.id, description, cidrIpv4: cidr, ipProtocol: "-1" }
                        : { securityGroupId: group.id, description, cidrIpv4: cidr, ipProtocol: "tcp", fromPort: port, toPort: port },
                    opts,
                ),
            );
        ingress("vpc", "the private network (the host firewall filters by port)", spec.vpcCidr);
        if (role === "control") {
            ingress("ssh", "git push and CLI verbs (git@), root by the stack's key", "0.0.0.0/0", SSH_PORT);
        } else {
            ingress("ssh", "the operator's SSH (Pulumi's provisioning)", spec.sshFrom, SSH_PORT);
        }
        if (role === "edge") {
            for (const port of EDGE_PORTS) ingress(`${port}`, "apps, through the load balancer (client addresses kept)", "0.0.0.0/0", port);
        }
        rules.push(new aws.vpc.SecurityGroupEgressRule(`${name}-${role}-out`, { securityGroupId: group.id, description: "anywhere", cidrIpv4: "0.0.0.0/0", ipProtocol: "-1" }, opts));
    }

    const rootKey = new SshKeyPair(`${name}-aws-root-key`, { comment: "dynoform-aws-root" });
    const network = [publicDefault, privateDefault, privateSsh, ...associations, ...rules];
    const names = awsHostNames(spec);
    const byRole = (role: AwsRole) => names.filter((n) => n.role === role);

    const instances: Record<string, aws.ec2.Instance> = {};
    const hosts: Host[] = [];
    let controlAddress: pulumi.Output<string> | undefined;
    for (const { name: hostName, role } of names) {
        const index = byRole(role).findIndex((n) => n.name === hostName);
        // Hosts of a role alternate between the zones; control and data (one each) sit in zone a.
        const placement = ROLE_PLACEMENT[role];
        const subnetOf = (placement === "public" ? publicSubnets : privateSubnets)[index % 2];
        const hostKey = new SshKeyPair(`${name}-${hostName}-host-key`, { comment: `dynoform-host-${hostName}` });
        const volumeMount = role === "data" || role === "control" ? VOLUME_MOUNTS[role] : undefined;
        const volume = volumeMount
            ? new aws.ebs.Volume(
                  `${name}-${hostName}-volume`,
                  { availabilityZone: subnetOf.availabilityZone, size: spec.volumeGb[role as "data" | "control"], type: "gp3", encrypted: true, tags: tags(`${hostName}-${role === "data" ? "postgresql" : "state"}`) },
                  opts,
              )
            : undefined;
        const userData = pulumi.secret(
            pulumi
                .all([rootKey.publicKey, hostKey.privateKey, hostKey.publicKey, volume ? volume.id : ""])
                .apply(([rootPublicKey, hostPrivateKey, hostPublicKey, volumeId]) =>
                    awsUserData({ rootPublicKey, hostPrivateKey, hostPublicKey, volume: volumeMount ? { id: volumeId, mountPoint: volumeMount } : undefined }),
                ),
        );
        const instance = new aws.ec2.Instance(
            `${name}-${hostName}`,
            {
                ami: images.byRole[role],
                instanceType: spec.instanceTypes[role],
                subnetId: subnetOf.id,
                vpcSecurityGroupIds: [groups[role].id],
                // The control host's address is its Elastic IP; every other host gets one at launch.
                associatePublicIpAddress: role !== "control",
                userData,
                // cloud-init reads user data at first boot only: a changed one (a new volume) needs a new instance.
                userDataReplaceOnChange: true,
                rootBlockDevice: { volumeSize: spec.rootVolumeGb, volumeType: "gp3", encrypted: true },
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
                tags: tags(hostName),
            },
            { ...opts, ignoreChanges: ["ami"] },
        );
        instances[hostName] = instance;
        const waitFor: pulumi.Resource[] = [...network];
        if (volume) {
            // A replaced instance gets the volume only once the old one let it go; stopping the old
            // instance first unmounts it cleanly (PostgreSQL shut down, not cut off).
            waitFor.push(
                new aws.ec2.VolumeAttachment(
                    `${name}-${hostName}-volume`,
                    { instanceId: instance.id, volumeId: volume.id, deviceName: "/dev/sdf", stopInstanceBeforeDetaching: true },
                    { ...opts, deleteBeforeReplace: true },
                ),
            );
        }
        let sshAddress: pulumi.Output<string> = instance.publicIp;
        let publicAddress: pulumi.Output<string> = instance.publicIp;
        if (role === "control") {
            const eip = new aws.ec2.Eip(`${name}-${hostName}-ip`, { domain: "vpc", instance: instance.id, tags: tags(hostName) }, { ...opts, dependsOn: [igw] });
            waitFor.push(eip);
            sshAddress = eip.publicIp;
            publicAddress = eip.publicIp;
            controlAddress = eip.publicIp;
        }
        const connection = pulumi.secret(
            pulumi.all([sshAddress, hostKey.publicKey, rootKey.privateKey]).apply(
                ([host, pinned, privateKey]): SshConnection => ({ name: hostName, host, port: SSH_PORT, user: "root", privateKey, hostKey: pinned }),
            ),
        );
        // Every role component waits for this: SSH answering with the pinned key, cloud-init done.
        // (again for a new instance: the control host's keeps its address and key)
        const ready = new RemoteCommand(`${hostName}-ready`, { connection, create: readyCommand(volumeMount), triggers: [instance.id] }, { dependsOn: waitFor });
        hosts.push({
            name: hostName,
            privateAddress: instance.privateIp,
            publicAddress,
            privateSubnet: pulumi.output(spec.vpcCidr),
            ssh: pulumi.secret(pulumi.all([connection, ready.id]).apply(([c]) => c)),
        });
    }

    // The network load balancer over the edges: TCP 80 and 443 to every edge's nginx, the client's
    // address kept (instance targets), across both zones so one edge serves both zones' addresses.
    const edges = byRole("edge").map((n) => instances[n.name]);
    const loadBalancer = new aws.lb.LoadBalancer(
        `${name}-edge-lb`,
        { loadBalancerType: "network", internal: false, subnets: publicSubnets.map((s) => s.id), enableCrossZoneLoadBalancing: true, tags: tags("edge-lb") },
        { ...opts, dependsOn: [igw] },
    );
    for (const port of EDGE_PORTS) {
        const targets = new aws.lb.TargetGroup(
            `${name}-edge-${port}`,
            { port, protocol: "TCP", targetType: "instance", vpcId: vpc.id, preserveClientIp: "true", healthCheck: { protocol: "TCP", port: String(port) }, tags: tags(`edge-${port}`) },
            opts,
        );
        edges.forEach((instance, i) => new aws.lb.TargetGroupAttachment(`${name}-edge-${port}-${i + 1}`, { targetGroupArn: targets.arn, targetId: instance.id, port }, opts));
        new aws.lb.Listener(`${name}-edge-${port}`, { loadBalancerArn: loadBalancer.arn, port, protocol: "TCP", defaultActions: [{ type: "forward", targetGroupArn: targets.arn }] }, opts);
    }

    return {
        hosts,
        outputs: {
            region: spec.region,
            loadBalancer: loadBalancer.dnsName,
            controlAddress: controlAddress!,
            egressAddress: natAddress.publicIp,
            vpcId: vpc.id,
            instances: pulumi.all(Object.fromEntries(Object.entries(instances).map(([n, i]) => [n, i.id]))),
        },
    };
}
