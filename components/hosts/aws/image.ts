// Which image each instance boots: Debian's current Debian 12 amd64 image, looked up by owner and
// name, or the one dynoform:aws.ami names, looked up by id and refused unless it is a Debian 12
// image these instances can boot. The lookups run at preview; `checked` holds back the first
// resource (aws.ts), so a wrong image stops `pulumi up` before anything is made in the account.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { StackConfigError } from "../../config/stack_config";
import { AwsRole, AwsSpec, chosenAmi } from "./config";

/** Debian's AWS account: it publishes the official Debian cloud images. */
export const DEBIAN_AMI_OWNER = "136693071363";
export const DEBIAN_AMI_NAME = "debian-12-amd64-*";

const ROLES: AwsRole[] = ["edge", "control", "dyno", "data"];
// Debian's own images say "debian-12-amd64-20261101-1900" and "Debian 12 (20261101-1900)"; an
// image made from one says Debian 12 or bookworm somewhere in its name or description.
const DEBIAN_12 = /\bdebian[-_ ]?12(?![0-9])|\bbookworm\b/i;

/** What the checks read of an image: the fields of aws.ec2.getAmi's result they use. */
export interface AmiFacts {
    imageId: string;
    name: string;
    description: string;
    ownerId: string;
    imageOwnerAlias?: string;
    architecture: string;
    virtualizationType: string;
    rootDeviceType: string;
    rootDeviceName: string;
    blockDeviceMappings?: { deviceName: string; ebs?: Record<string, string> }[];
    state: string;
}

export interface AmiCheckContext {
    /** The config key that names the image: dynoform:aws.ami or dynoform:aws.ami.<role>. */
    key: string;
    /** The account the stack runs as (aws.getCallerIdentity); only read when Debian's account does not own the image. */
    accountId?: string;
    rootVolumeGb: number;
}

/** The image as the messages name it: its name, owner and description. */
function described(image: AmiFacts): string {
    const owner = image.imageOwnerAlias ? `${image.ownerId}, ${image.imageOwnerAlias}` : image.ownerId;
    return `"${image.name}" (owner ${owner}${image.description ? `; "${image.description}"` : ""})`;
}

/** The root device's snapshot size in GiB, when the image says. */
function rootSnapshotGb(image: AmiFacts): number | undefined {
    const root = (image.blockDeviceMappings ?? []).find((m) => m.deviceName === image.rootDeviceName);
    const size = Number(root?.ebs?.volume_size ?? root?.ebs?.volumeSize);
    return Number.isFinite(size) && size > 0 ? size : undefined;
}

/**
 * Why the stack cannot boot its hosts from `image` ([] when it can). Only images of Debian's account
 * or of the stack's own account are taken: an image's name and description are whatever its
 * publisher wrote, so "Debian 12" is believable only from Debian or from the user's own build.
 */
export function amiProblems(image: AmiFacts, context: AmiCheckContext): string[] {
    const { key, accountId, rootVolumeGb } = context;
    const what = `${key} ${image.imageId} ${described(image)}`;
    const unset = `or leave ${key} unset to use Debian's current one`;
    const problems: string[] = [];
    if (!DEBIAN_12.test(`${image.name} ${image.description}`)) {
        problems.push(`${what} is not a Debian 12 image: the hosts are provisioned as Debian 12 (bookworm); use a Debian 12 image, ${unset}`);
    }
    if (image.ownerId !== DEBIAN_AMI_OWNER && image.ownerId !== accountId) {
        problems.push(
            `${what} belongs to neither Debian's account (${DEBIAN_AMI_OWNER}) nor this stack's (${accountId ?? "unknown"}), and any publisher can call an image Debian 12: ` +
                `use Debian's image or one built in this account (copy a trusted one here with \`aws ec2 copy-image --source-image-id ${image.imageId} --source-region <its region> --name <name>\`), ${unset}`,
        );
    }
    if (image.architecture !== "x86_64") {
        problems.push(`${what} is ${image.architecture}, but the instance types (dynoform:aws.instanceTypes) are x86 and the hosts run amd64 binaries: use the amd64 (x86_64) build of the image, ${unset}`);
    }
    if (image.virtualizationType !== "hvm") {
        problems.push(`${what} is ${image.virtualizationType}-virtualized: current instance types boot hvm images only; use an hvm image, ${unset}`);
    }
    if (image.rootDeviceType !== "ebs") {
        problems.push(`${what} boots from ${image.rootDeviceType}: the instances' root disk is an EBS volume (dynoform:aws.rootVolumeGb); use an EBS-backed image, ${unset}`);
    }
    if (image.state !== "available") {
        problems.push(`${what} is ${image.state}, not available: wait until it is available, ${unset}`);
    }
    const snapshotGb = rootSnapshotGb(image);
    if (snapshotGb !== undefined && snapshotGb > rootVolumeGb) {
        problems.push(`${what} has a ${snapshotGb} GiB root volume, larger than dynoform:aws.rootVolumeGb ${rootVolumeGb}: set dynoform:aws.rootVolumeGb to ${snapshotGb} or more`);
    }
    return problems;
}

export type LookupOptions = { provider: aws.Provider };

/** The image the stack names, looked up by id (any owner: the checks decide) and checked: its id, or a StackConfigError. */
export async function checkedImage(choice: { id: string; key: string }, spec: AwsSpec, opts: LookupOptions): Promise<string> {
    let image: AmiFacts;
    try {
        image = await aws.ec2.getAmi({ filters: [{ name: "image-id", values: [choice.id] }], includeDeprecated: true }, opts);
    } catch (err) {
        // The provider's error spans lines ("...: 1 error occurred:\n\t* ... no results"): kept whole, on one.
        const reason = String((err as Error)?.message ?? err).replace(/\s+/g, " ").trim();
        throw new StackConfigError([
            `${choice.key} ${choice.id} was not found in ${spec.region}${reason ? ` (${reason})` : ""}: image ids differ per region; check it with ` +
                `\`aws ec2 describe-images --region ${spec.region} --image-ids ${choice.id}\`, or leave ${choice.key} unset to use Debian's current one`,
        ]);
    }
    const accountId = image.ownerId === DEBIAN_AMI_OWNER ? undefined : (await aws.getCallerIdentity({}, opts)).accountId;
    const problems = amiProblems(image, { key: choice.key, accountId, rootVolumeGb: spec.rootVolumeGb });
    if (problems.length > 0) throw new StackConfigError(problems);
    return image.imageId;
}

/** Debian's newest Debian 12 amd64 image, from Debian's account only. */
function debianImage(opts: LookupOptions): pulumi.Output<string> {
    return aws.ec2
        .getAmiOutput(
            {
                owners: [DEBIAN_AMI_OWNER],
                mostRecent: true,
                filters: [
                    { name: "name", values: [DEBIAN_AMI_NAME] },
                    { name: "architecture", values: ["x86_64"] },
                    { name: "virtualization-type", values: ["hvm"] },
                    { name: "root-device-type", values: ["ebs"] },
                ],
            },
            opts,
        )
        .apply((ami) => ami.id);
}

export interface AwsImages {
    /** The image id each role's instances boot. */
    byRole: Record<AwsRole, pulumi.Output<string>>;
    /** No resources, once every image is found and accepted; fails with the problems otherwise. Made a `dependsOn`. */
    checked: pulumi.Output<pulumi.Resource[]>;
}

/** Each role's image: the one dynoform:aws.ami names for it (each id looked up once), else Debian's current one. */
export function awsImages(spec: AwsSpec, opts: LookupOptions): AwsImages {
    let debian: pulumi.Output<string> | undefined;
    const chosen = new Map<string, pulumi.Output<string>>();
    const byRole = {} as Record<AwsRole, pulumi.Output<string>>;
    for (const role of ROLES) {
        const choice = chosenAmi(spec, role);
        if (!choice) {
            debian ??= debianImage(opts);
            byRole[role] = debian;
            continue;
        }
        const lookup = `${choice.key} ${choice.id}`;
        if (!chosen.has(lookup)) chosen.set(lookup, pulumi.output(checkedImage(choice, spec, opts)));
        byRole[role] = chosen.get(lookup)!;
    }
    return { byRole, checked: pulumi.all(Object.values(byRole)).apply((): pulumi.Resource[] => []) };
}
