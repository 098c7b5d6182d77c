// The `dynoform:aws` stack config section, checked before any resource is declared. Pure: it
// loads no @pulumi/aws, so the stack config can check it for every target at no cost.
import { cidrProblem, isIPv4, overlaps, parseCidr, PRIVATE_RANGES, toAddress, toNumber, withinPrivateRange } from "../../config/network";
import { isObject, wholeNumber } from "../../config/values";

export type AwsRole = "edge" | "control" | "dyno" | "data";

export interface AwsSpec {
    /** The AWS region every resource is made in (an explicit provider, not `aws:region`). */
    region: string;
    instanceTypes: Record<AwsRole, string>;
    edgeHosts: number;
    dynoHosts: number;
    /** Where the operator's SSH (and so Pulumi's provisioning) comes from: root SSH answers only there. */
    sshFrom: string;
    /** The VPC: split in four, public and private subnets in two availability zones. */
    vpcCidr: string;
    /** Sizes (GiB) of the EBS volumes at /var/lib/postgresql (data) and /var/lib/dynoform (control). */
    volumeGb: { data: number; control: number };
    /** Size (GiB) of each instance's root disk. */
    rootVolumeGb: number;
    /**
     * The user's own image (dynoform:aws.ami): one id for every instance, or ids by role (the
     * others boot Debian's current image). Unset: Debian's current Debian 12 image for all.
     * Checked here for its form only; aws/image.ts looks it up and refuses anything but Debian 12.
     */
    ami?: string | Partial<Record<AwsRole, string>>;
}

export const AWS_DEFAULTS = {
    vpcCidr: "10.42.0.0/16",
    volumeGb: { data: 20, control: 20 },
    rootVolumeGb: 16,
} as const;

const ROLES: AwsRole[] = ["edge", "control", "dyno", "data"];
// us-east-1, eu-central-1, ap-southeast-2, us-gov-west-1, cn-north-1, us-isob-east-1, eusc-de-east-1
const REGION = /^[a-z]{2,4}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$/;
// t3.small, m7i-flex.large, c5n.2xlarge, u-6tb1.metal
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
// The amd64 Debian AMI boots on x86 types only: Graviton families carry a "g" after their
// generation digit (t4g, m7g, c6gn, r8gd, im4gn), and a1 is the first Arm type.
const ARM_FAMILY = /^(a1|[a-z]+[0-9]+[a-z]*g[a-z]*)(-[a-z]+)?\./;
// An image id as EC2 writes it: "ami-" and 8 (older images) or 17 lowercase hex digits.
const AMI_ID = /^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

function count(raw: unknown, key: string, max: number, problems: string[]): number {
    if (raw === undefined) {
        problems.push(`dynoform:aws.${key} is missing: give the number of ${key === "edgeHosts" ? "edge" : "dyno"} instances (1 to ${max}), e.g. ${key}: 2`);
        return 0;
    }
    const n = wholeNumber(raw, 1, max);
    if (n === undefined) {
        problems.push(`dynoform:aws.${key} must be a whole number from 1 to ${max} (got ${JSON.stringify(raw)}): every role needs at least one host`);
        return 0;
    }
    return n;
}

function size(raw: unknown, key: string, fallback: number, problems: string[]): number {
    if (raw === undefined) return fallback;
    const n = wholeNumber(raw, 8, 16384);
    if (n === undefined) {
        problems.push(`dynoform:aws.${key} must be a whole number of GiB from 8 to 16384 (got ${JSON.stringify(raw)})`);
        return fallback;
    }
    return n;
}

/** dynoform:aws.ami: an image id, or image ids by role; undefined when unset or wrong (the problem said). */
function amiSetting(raw: unknown, problems: string[]): AwsSpec["ami"] {
    if (raw === undefined) return undefined;
    const fix =
        "an image id of this region such as ami-0123456789abcdef0 (every instance boots it), or ids by role such as {dyno: ami-0123456789abcdef0}; " +
        "leave dynoform:aws.ami unset to use Debian's current Debian 12 image";
    if (typeof raw === "string") {
        if (AMI_ID.test(raw)) return raw;
        problems.push(`dynoform:aws.ami must be ${fix} (got ${JSON.stringify(raw)})`);
        return undefined;
    }
    if (!isObject(raw)) {
        problems.push(`dynoform:aws.ami must be ${fix} (got ${JSON.stringify(raw)})`);
        return undefined;
    }
    const byRole: Partial<Record<AwsRole, string>> = {};
    let ok = true;
    for (const [key, id] of Object.entries(raw)) {
        if (!(ROLES as string[]).includes(key)) {
            problems.push(`dynoform:aws.ami.${key} is not a role (roles: ${ROLES.join(", ")}): remove it`);
            ok = false;
        } else if (typeof id !== "string" || !AMI_ID.test(id)) {
            problems.push(`dynoform:aws.ami.${key} must be an image id of this region such as ami-0123456789abcdef0 (got ${JSON.stringify(id)}); remove it to use Debian's current Debian 12 image`);
            ok = false;
        } else {
            byRole[key as AwsRole] = id;
        }
    }
    return ok ? byRole : undefined;
}

/**
 * `dynoform:aws` checked, with its defaults; each problem (with its fix) goes to `problems`, and
 * undefined comes back when the section cannot be used at all.
 */
export function parseAwsConfig(raw: unknown, problems: string[]): AwsSpec | undefined {
    const example = "{region: eu-central-1, instanceTypes: {edge: t3.small, control: t3.medium, dyno: t3.medium, data: t3.medium}, edgeHosts: 2, dynoHosts: 2, sshFrom: 203.0.113.7/32}";
    if (!isObject(raw)) {
        problems.push(`dynoform:aws is required for target aws: set it to ${example}`);
        return undefined;
    }
    const before = problems.length;
    const known = new Set(["region", "instanceTypes", "edgeHosts", "dynoHosts", "sshFrom", "vpcCidr", "volumeGb", "rootVolumeGb", "ami"]);
    for (const key of Object.keys(raw)) {
        if (!known.has(key)) problems.push(`dynoform:aws.${key} is not a setting of the aws target (settings: ${[...known].join(", ")}): remove it`);
    }

    const region = raw.region;
    if (typeof region !== "string" || !REGION.test(region)) {
        problems.push(`dynoform:aws.region must be an AWS region code such as eu-central-1 or us-east-1 (got ${JSON.stringify(region)})`);
    }

    const instanceTypes = {} as Record<AwsRole, string>;
    if (!isObject(raw.instanceTypes)) {
        problems.push(`dynoform:aws.instanceTypes is missing: give one x86 instance type per role, e.g. {edge: t3.small, control: t3.medium, dyno: t3.medium, data: t3.medium}`);
    } else {
        for (const role of ROLES) {
            const t = raw.instanceTypes[role];
            if (typeof t !== "string" || !INSTANCE_TYPE.test(t)) {
                problems.push(`dynoform:aws.instanceTypes.${role} must be an EC2 instance type such as t3.medium (got ${JSON.stringify(t)})`);
            } else if (ARM_FAMILY.test(t)) {
                problems.push(`dynoform:aws.instanceTypes.${role} ${t} is an Arm (Graviton) type: the hosts boot the amd64 Debian 12 image and run amd64 binaries; pick an x86 type such as t3.medium`);
            } else {
                instanceTypes[role] = t;
            }
        }
        for (const key of Object.keys(raw.instanceTypes)) {
            if (!(ROLES as string[]).includes(key)) problems.push(`dynoform:aws.instanceTypes.${key} is not a role (roles: ${ROLES.join(", ")}): remove it`);
        }
    }

    const edgeHosts = count(raw.edgeHosts, "edgeHosts", 10, problems);
    const dynoHosts = count(raw.dynoHosts, "dynoHosts", 50, problems);

    const vpcCidr = raw.vpcCidr ?? AWS_DEFAULTS.vpcCidr;
    let vpcValid = false;
    if (typeof vpcCidr !== "string" || cidrProblem(vpcCidr) !== undefined || parseCidr(vpcCidr).prefix < 16 || parseCidr(vpcCidr).prefix > 24) {
        problems.push(`dynoform:aws.vpcCidr must be a CIDR from /16 to /24 such as 10.42.0.0/16 (got ${JSON.stringify(raw.vpcCidr)})`);
    } else if (!withinPrivateRange(vpcCidr)) {
        problems.push(`dynoform:aws.vpcCidr ${vpcCidr} is not a private range: internal services listen on it; use one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (default ${AWS_DEFAULTS.vpcCidr})`);
    } else {
        vpcValid = true;
    }

    const sshFrom = raw.sshFrom;
    const whereAmI = "the public address your SSH comes from, e.g. `echo $(curl -s https://checkip.amazonaws.com)/32`";
    if (typeof sshFrom !== "string") {
        problems.push(`dynoform:aws.sshFrom must be a CIDR such as 203.0.113.7/32: set it to ${whereAmI} (got ${JSON.stringify(sshFrom)})`);
    } else if (isIPv4(sshFrom)) {
        problems.push(`dynoform:aws.sshFrom ${sshFrom} is an address, not a CIDR: write ${sshFrom}/32`);
    } else if (cidrProblem(sshFrom) !== undefined) {
        problems.push(`dynoform:aws.sshFrom: ${cidrProblem(sshFrom)}; set it to ${whereAmI}`);
    } else if (parseCidr(sshFrom).prefix < 8) {
        // Root SSH to every host from a /0-/7 is root SSH from the world; the private subnets'
        // route to it (components/hosts/README.md) could not sit beside their default route either.
        problems.push(`dynoform:aws.sshFrom ${sshFrom} opens root SSH on every host to (nearly) the whole internet: set it to ${whereAmI} or your office's range (/8 or narrower)`);
    } else if (PRIVATE_RANGES.some((r) => overlaps(r, sshFrom))) {
        problems.push(`dynoform:aws.sshFrom ${sshFrom} is a private range, but SSH reaches the hosts' public addresses from the internet: set it to ${whereAmI}`);
    } else if (vpcValid && overlaps(String(vpcCidr), sshFrom)) {
        problems.push(`dynoform:aws.sshFrom ${sshFrom} overlaps dynoform:aws.vpcCidr ${String(vpcCidr)}: set it to ${whereAmI}`);
    }

    const volumes = isObject(raw.volumeGb) ? raw.volumeGb : {};
    if (raw.volumeGb !== undefined && !isObject(raw.volumeGb)) {
        problems.push(`dynoform:aws.volumeGb must be {data: GiB, control: GiB} (got ${JSON.stringify(raw.volumeGb)})`);
    }
    const volumeGb = {
        data: size(volumes.data, "volumeGb.data", AWS_DEFAULTS.volumeGb.data, problems),
        control: size(volumes.control, "volumeGb.control", AWS_DEFAULTS.volumeGb.control, problems),
    };
    const rootVolumeGb = size(raw.rootVolumeGb, "rootVolumeGb", AWS_DEFAULTS.rootVolumeGb, problems);
    const ami = amiSetting(raw.ami, problems);

    if (problems.length > before) return undefined;
    return { region: String(region), instanceTypes, edgeHosts, dynoHosts, sshFrom: String(sshFrom), vpcCidr: String(vpcCidr), volumeGb, rootVolumeGb, ...(ami !== undefined ? { ami } : {}) };
}

/** The hosts the aws target makes, by name and role: edge-1.., control-1, dyno-1.., data-1. */
export function awsHostNames(spec: Pick<AwsSpec, "edgeHosts" | "dynoHosts">): { name: string; role: AwsRole }[] {
    return [
        ...Array.from({ length: spec.edgeHosts }, (_, i) => ({ name: `edge-${i + 1}`, role: "edge" as const })),
        { name: "control-1", role: "control" as const },
        ...Array.from({ length: spec.dynoHosts }, (_, i) => ({ name: `dyno-${i + 1}`, role: "dyno" as const })),
        { name: "data-1", role: "data" as const },
    ];
}

/** The VPC split in four equal parts: public a, public b, private a, private b. */
export function awsSubnets(vpcCidr: string): { publicCidrs: [string, string]; privateCidrs: [string, string] } {
    const { address, prefix } = parseCidr(vpcCidr);
    const base = toNumber(address);
    const step = 2 ** (32 - prefix - 2);
    const cidr = (i: number): string => `${toAddress(base + i * step)}/${prefix + 2}`;
    return { publicCidrs: [cidr(0), cidr(1)], privateCidrs: [cidr(2), cidr(3)] };
}

/** The image a role's instances boot when dynoform:aws.ami names one, with the config key that names it. */
export function chosenAmi(spec: Pick<AwsSpec, "ami">, role: AwsRole): { id: string; key: string } | undefined {
    if (spec.ami === undefined) return undefined;
    if (typeof spec.ami === "string") return { id: spec.ami, key: "dynoform:aws.ami" };
    const id = spec.ami[role];
    return id === undefined ? undefined : { id, key: `dynoform:aws.ami.${role}` };
}
