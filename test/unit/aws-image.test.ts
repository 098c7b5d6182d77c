// dynoform:aws.ami under Pulumi's mocks: a chosen image is looked up by id and boots every
// instance (or its role's) when it is a Debian 12 image of Debian's account or the stack's own;
// anything else stops the program before the VPC, the first resource in the account, is declared.
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, RawStackConfig, StackConfigError } from "../../components/config/stack_config";
import type { AmiFacts } from "../../components/hosts/aws/image";
import { AwsRole, chosenAmi } from "../../components/hosts/aws/config";

const ACCOUNT = "111122223333";
const DEBIAN = "136693071363";
const CURRENT_DEBIAN = "ami-0d3b1a6e2c0ffee12";

/** An image as aws.ec2.getAmi returns it, Debian's own unless the test says otherwise. */
function image(imageId: string, facts: Partial<AmiFacts> = {}): AmiFacts {
    return {
        imageId,
        name: "debian-12-amd64-20261015-1880",
        description: "Debian 12 (20261015-1880)",
        ownerId: DEBIAN,
        architecture: "x86_64",
        virtualizationType: "hvm",
        rootDeviceType: "ebs",
        rootDeviceName: "/dev/xvda",
        blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volume_size: "8", volume_type: "gp2" } }],
        state: "available",
        ...facts,
    };
}

/** What the getAmi mock answers to a lookup by id; an id missing here is not found, as in AWS. */
const IMAGES: Record<string, AmiFacts> = {
    "ami-0aaaaaaaaaaaaaaa1": image("ami-0aaaaaaaaaaaaaaa1"),
    "ami-0bbbbbbbbbbbbbbb2": image("ami-0bbbbbbbbbbbbbbb2", {
        name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261001",
        description: "Canonical, Ubuntu, 24.04, amd64 noble image",
        ownerId: "099720109477",
    }),
    "ami-0ccccccccccccccc3": image("ami-0ccccccccccccccc3", { name: "acme-hardened-bookworm-2026-11", description: "ACME CIS level 2", ownerId: ACCOUNT }),
    "ami-0ddddddddddddddd4": image("ami-0ddddddddddddddd4", { name: "debian-12-arm64-20261015-1880", architecture: "arm64" }),
    "ami-0eeeeeeeeeeeeeee5": image("ami-0eeeeeeeeeeeeeee5", { name: "debian-12-amd64-copy", description: "", ownerId: "444455556666" }),
    "ami-0fffffffffffffff6": image("ami-0fffffffffffffff6", { name: "debian-13-amd64-20261015-2200", description: "Debian 13 (20261015-2200)" }),
};

interface Created {
    type: string;
    name: string;
    inputs: Record<string, any>;
}
const created: Created[] = [];
const calls: { token: string; inputs: Record<string, any> }[] = [];

pulumi.runtime.setMocks(
    {
        newResource(args) {
            const state: Record<string, any> = { ...args.inputs };
            if (args.type === "aws:ec2/instance:Instance") state.publicIp = state.privateIp = "192.0.2.10";
            if (args.type === "aws:ec2/eip:Eip") state.publicIp = "203.0.113.1";
            if (args.type.endsWith("secrets:SshKeyPair:Resource")) {
                state.publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample";
                state.privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\n-----END OPENSSH PRIVATE KEY-----\n";
            }
            created.push({ type: args.type, name: args.name, inputs: args.inputs });
            return { id: `${args.name}-id`, state };
        },
        call(args) {
            calls.push({ token: args.token, inputs: args.inputs });
            if (args.token === "aws:ec2/getAmi:getAmi") {
                const byId = (args.inputs.filters ?? []).find((f: { name: string }) => f.name === "image-id");
                if (!byId) return { id: CURRENT_DEBIAN, imageId: CURRENT_DEBIAN, name: "debian-12-amd64-20261101-1900", architecture: "x86_64" };
                if (byId.values[0] === HELD && heldLookup) return heldLookup.then((found) => ({ id: found.imageId, ...found }));
                const found = IMAGES[byId.values[0]];
                if (!found) throw new Error("Your query returned no results. Please change your search criteria and try again.");
                return { id: found.imageId, ...found };
            }
            if (args.token === "aws:index/getCallerIdentity:getCallerIdentity") return { id: ACCOUNT, accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/me`, userId: "AIDA" };
            if (args.token === "aws:index/getAvailabilityZones:getAvailabilityZones") return { id: "eu-central-1", names: ["eu-central-1a", "eu-central-1b"] };
            return {};
        },
    },
    "dynoform",
    "aws",
    false,
);

const BASE = {
    region: "eu-central-1",
    instanceTypes: { edge: "t3.small", control: "t3.medium", dyno: "t3.medium", data: "t3.medium" },
    edgeHosts: 2,
    dynoHosts: 2,
    sshFrom: "198.51.100.7/32",
};
const raw = (aws: Record<string, unknown>): RawStackConfig => ({ target: "aws", domain: "apps.example.com", aws: { ...BASE, ...aws } });
const NAMES = ["edge-1", "edge-2", "control-1", "dyno-1", "dyno-2", "data-1"];

// Required after setMocks, as index.ts requires it: only for target aws.
const load = () => require("../../components/hosts/aws") as typeof import("../../components/hosts/aws");
const imageModule = () => require("../../components/hosts/aws/image") as typeof import("../../components/hosts/aws/image");

/** Each instance's image, by host name, of the stack declared under `prefix`, once every instance reached the mocks. */
async function amis(prefix: string): Promise<Record<string, string>> {
    const instances = () => created.filter((c) => c.type === "aws:ec2/instance:Instance" && c.name.startsWith(`${prefix}-`));
    for (let waited = 0; instances().length < NAMES.length && waited < 20_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    return Object.fromEntries(instances().map((i) => [i.name.slice(prefix.length + 1), i.inputs.ami]));
}

/** The error the check of dynoform:aws.ami fails with (the program's error at preview), or undefined when it passes. */
async function checked(aws: Record<string, unknown>, prefix: string, role: AwsRole = "dyno"): Promise<Error | undefined> {
    const spec = parseStackConfig(raw(aws)).aws!;
    const { Provider } = require("@pulumi/aws") as typeof import("@pulumi/aws");
    const { checkedImage } = imageModule();
    // The promise under the Output awsImages makes: a failed Output's own promises would reach
    // jest as unhandled rejections, as they reach Pulumi as the program's error.
    return checkedImage(chosenAmi(spec, role)!, spec, { provider: new Provider(`${prefix}-aws`, { region: "eu-central-1" }) }).then(
        () => undefined,
        (err: Error) => err,
    );
}

/** A lookup the test answers when it likes: the mock waits for it. */
let heldLookup: Promise<AmiFacts> | undefined;
const HELD = "ami-0123456789abcdef9";

beforeAll(() => {
    load(); // loading @pulumi/aws takes a while
}, 60_000);

describe("the config parser", () => {
    const problems = (ami: unknown): string[] => {
        try {
            parseStackConfig(raw({ ami }));
        } catch (err) {
            expect(err).toBeInstanceOf(StackConfigError);
            return (err as StackConfigError).problems;
        }
        return [];
    };

    test.each([
        ["a name instead of an id", "debian-12-amd64-20261015-1880", 'dynoform:aws.ami must be an image id of this region such as ami-0123456789abcdef0 (every instance boots it), or ids by role such as {dyno: ami-0123456789abcdef0}; leave dynoform:aws.ami unset to use Debian\'s current Debian 12 image (got "debian-12-amd64-20261015-1880")'],
        ["not hex", "ami-0123456789abcdefg", 'dynoform:aws.ami must be an image id of this region such as ami-0123456789abcdef0'],
        ["upper case", "AMI-0123456789ABCDEF0", "dynoform:aws.ami must be an image id"],
        ["too short", "ami-0123", "dynoform:aws.ami must be an image id"],
        ["a number", 42, "dynoform:aws.ami must be an image id"],
        ["a bad id for a role", { dyno: "ami-xyz" }, 'dynoform:aws.ami.dyno must be an image id of this region such as ami-0123456789abcdef0 (got "ami-xyz"); remove it to use Debian\'s current Debian 12 image'],
        ["not a role", { web: "ami-0aaaaaaaaaaaaaaa1" }, "dynoform:aws.ami.web is not a role (roles: edge, control, dyno, data): remove it"],
    ])("%s is refused with the fix", (_what, ami, message) => {
        expect(problems(ami).some((p) => p.startsWith(message))).toBe(true);
    });

    test("well-formed ids pass (8 or 17 hex digits, one for all or by role); unset leaves it unset", () => {
        expect(parseStackConfig(raw({ ami: "ami-0aaaaaaaaaaaaaaa1" })).aws?.ami).toBe("ami-0aaaaaaaaaaaaaaa1");
        expect(parseStackConfig(raw({ ami: "ami-1a2b3c4d" })).aws?.ami).toBe("ami-1a2b3c4d");
        expect(parseStackConfig(raw({ ami: { dyno: "ami-0aaaaaaaaaaaaaaa1" } })).aws?.ami).toEqual({ dyno: "ami-0aaaaaaaaaaaaaaa1" });
        expect(parseStackConfig(raw({})).aws).not.toHaveProperty("ami");
    });
});

describe("amiProblems", () => {
    const check = (id: string, accountId = ACCOUNT, rootVolumeGb = 16) => imageModule().amiProblems(IMAGES[id], { key: "dynoform:aws.ami", accountId, rootVolumeGb });

    test("Debian's own Debian 12 image and a bookworm image built in this account pass", () => {
        expect(check("ami-0aaaaaaaaaaaaaaa1", undefined)).toEqual([]);
        expect(check("ami-0ccccccccccccccc3")).toEqual([]);
    });

    test("Ubuntu: named with its owner, and the fix", () => {
        expect(check("ami-0bbbbbbbbbbbbbbb2")).toEqual([
            'dynoform:aws.ami ami-0bbbbbbbbbbbbbbb2 "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261001" (owner 099720109477; "Canonical, Ubuntu, 24.04, amd64 noble image") ' +
                "is not a Debian 12 image: the hosts are provisioned as Debian 12 (bookworm); use a Debian 12 image, or leave dynoform:aws.ami unset to use Debian's current one",
            expect.stringMatching(/ belongs to neither Debian's account \(136693071363\) nor this stack's \(111122223333\), and any publisher can call an image Debian 12: .*aws ec2 copy-image --source-image-id ami-0bbbbbbbbbbbbbbb2/),
        ]);
    });

    test("Debian 13, an arm64 build, another account's 'Debian 12', a root disk larger than rootVolumeGb", () => {
        expect(check("ami-0fffffffffffffff6")).toEqual([expect.stringContaining('"debian-13-amd64-20261015-2200" (owner 136693071363; "Debian 13 (20261015-2200)") is not a Debian 12 image')]);
        expect(check("ami-0ddddddddddddddd4")).toEqual([
            expect.stringContaining("is arm64, but the instance types (dynoform:aws.instanceTypes) are x86 and the hosts run amd64 binaries: use the amd64 (x86_64) build of the image"),
        ]);
        expect(check("ami-0eeeeeeeeeeeeeee5")).toEqual([expect.stringContaining('"debian-12-amd64-copy" (owner 444455556666) belongs to neither')]);
        expect(check("ami-0aaaaaaaaaaaaaaa1", undefined, 4)).toEqual([
            expect.stringContaining("has a 8 GiB root volume, larger than dynoform:aws.rootVolumeGb 4: set dynoform:aws.rootVolumeGb to 8 or more"),
        ]);
    });

    test("an instance-store, paravirtual or pending image", () => {
        const { amiProblems } = imageModule();
        const odd = { ...IMAGES["ami-0aaaaaaaaaaaaaaa1"], rootDeviceType: "instance-store", virtualizationType: "paravirtual", state: "pending" };
        expect(amiProblems(odd, { key: "dynoform:aws.ami.edge", rootVolumeGb: 16 })).toEqual([
            expect.stringContaining("is paravirtual-virtualized"),
            expect.stringContaining("boots from instance-store: the instances' root disk is an EBS volume"),
            expect.stringContaining("is pending, not available"),
        ]);
    });
});

describe("the stack's images", () => {
    test("unset: Debian's current image, looked up by owner and name as before, for every instance", async () => {
        const before = calls.length;
        load().awsHosts(parseStackConfig(raw({})), "unset");
        expect(await amis("unset")).toEqual(Object.fromEntries(NAMES.map((n) => [n, CURRENT_DEBIAN])));
        const lookups = calls.slice(before).filter((c) => c.token === "aws:ec2/getAmi:getAmi");
        expect(lookups.map((c) => c.inputs.owners)).toEqual([[DEBIAN]]);
        expect(lookups[0].inputs.filters).toContainEqual({ name: "name", values: ["debian-12-amd64-*"] });
    }, 30_000);

    test("a Debian 12 image id: looked up by id and booted by every instance", async () => {
        const before = calls.length;
        load().awsHosts(parseStackConfig(raw({ ami: "ami-0aaaaaaaaaaaaaaa1" })), "debian");
        expect(await amis("debian")).toEqual(Object.fromEntries(NAMES.map((n) => [n, "ami-0aaaaaaaaaaaaaaa1"])));
        const lookups = calls.slice(before).filter((c) => c.token === "aws:ec2/getAmi:getAmi");
        // one lookup, by id and of any owner (the check decides), none of Debian's current image
        expect(lookups.map((c) => c.inputs)).toEqual([{ filters: [{ name: "image-id", values: ["ami-0aaaaaaaaaaaaaaa1"] }], includeDeprecated: true }]);
        expect(created.some((c) => c.name === "debian-vpc")).toBe(true);
    }, 30_000);

    test("ids by role: a hardened bookworm image of this account for the edges, Debian's current one for the rest", async () => {
        load().awsHosts(parseStackConfig(raw({ ami: { edge: "ami-0ccccccccccccccc3" } })), "byrole");
        expect(await amis("byrole")).toEqual({
            "edge-1": "ami-0ccccccccccccccc3",
            "edge-2": "ami-0ccccccccccccccc3",
            "control-1": CURRENT_DEBIAN,
            "dyno-1": CURRENT_DEBIAN,
            "dyno-2": CURRENT_DEBIAN,
            "data-1": CURRENT_DEBIAN,
        });
    }, 30_000);

    test("an Ubuntu image fails the check with the image found (name, owner) and the fix", async () => {
        const error = await checked({ ami: "ami-0bbbbbbbbbbbbbbb2" }, "ubuntu");
        expect(error).toBeInstanceOf(StackConfigError);
        expect(error!.message).toContain(
            'dynoform:aws.ami ami-0bbbbbbbbbbbbbbb2 "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261001" (owner 099720109477; ' +
                '"Canonical, Ubuntu, 24.04, amd64 noble image") is not a Debian 12 image: the hosts are provisioned as Debian 12 (bookworm); ' +
                "use a Debian 12 image, or leave dynoform:aws.ami unset to use Debian's current one",
        );
    });

    test("a role's arm64 image and an id not in the region fail it the same way", async () => {
        expect((await checked({ ami: { dyno: "ami-0ddddddddddddddd4" } }, "arm"))?.message).toContain(
            'dynoform:aws.ami.dyno ami-0ddddddddddddddd4 "debian-12-arm64-20261015-1880" (owner 136693071363; "Debian 12 (20261015-1880)") is arm64',
        );
        expect((await checked({ ami: "ami-0123456789abcdef0" }, "missing"))?.message).toMatch(
            /dynoform:aws\.ami ami-0123456789abcdef0 was not found in eu-central-1( \(.*\))?: image ids differ per region; check it with `aws ec2 describe-images --region eu-central-1 --image-ids ami-0123456789abcdef0`, or leave dynoform:aws\.ami unset to use Debian's current one/,
        );
        expect(await checked({ ami: "ami-0ccccccccccccccc3" }, "own")).toBeUndefined();
    });

    test("nothing is declared in the account until the check passes: the VPC, which all else hangs off, waits for it", async () => {
        let answer: (image: AmiFacts) => void = () => undefined;
        heldLookup = new Promise((resolve) => (answer = resolve));
        load().awsHosts(parseStackConfig(raw({ ami: HELD })), "held");
        await new Promise((r) => setTimeout(r, 500));
        const declared = () => created.filter((c) => c.name.startsWith("held-") && c.type.startsWith("aws:")).map((c) => c.type);
        // the provider and the stack's key pairs (state only) may come; nothing of the account does
        expect(declared()).toEqual([]);
        answer(image(HELD));
        expect(Object.values(await amis("held"))).toEqual(NAMES.map(() => HELD));
        expect(declared()).toContain("aws:ec2/vpc:Vpc");
    }, 30_000);
});
