import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { localExtraCaCertificates } from "../../components/control";
import { projectRoot, pulumi, pulumiEnv, pulumiOk, run } from "./pulumi";

/** The stack the lab suite provisions: stacks/Pulumi.<name>.yaml (default `test`, 10.213.2.0/24). */
export const LAB_STACK = process.env.DYNOFORM_TEST_STACK ?? "test";
export const labStackFile = path.join(projectRoot, "stacks", `Pulumi.${LAB_STACK}.yaml`);

interface StackHost {
    name: string;
    address: string;
    roles: string[];
}

export interface LabStackInfo {
    stack: string;
    network: string;
    hosts: StackHost[];
    domain: string;
    /** dynoform:floatingAddress: where clients reach the edges, when set. */
    floatingAddress?: string;
    subnet: string;
}

export function labStackInfo(): LabStackInfo {
    const doc = yaml.load(fs.readFileSync(labStackFile, "utf8")) as { config: Record<string, unknown> };
    const lab = doc.config["dynoform:lab"] as { network: string; subnet: string };
    return {
        stack: LAB_STACK,
        network: lab.network,
        subnet: lab.subnet,
        hosts: doc.config["dynoform:hosts"] as StackHost[],
        domain: (doc.config["dynoform:domain"] as string) ?? "dynoform.test",
        floatingAddress: doc.config["dynoform:floatingAddress"] as string | undefined,
    };
}

/**
 * Where a client sends HTTP "to the edge": the floating address when the stack has one (whichever
 * edge holds it), else the first edge's own address. Tests about one edge host's own services or
 * firewall use that host's address (hostWithRole("edge")) instead.
 */
export function edgeAddress(): string {
    return labStackInfo().floatingAddress ?? hostWithRole("edge").address;
}

export function hostWithRole(role: string): StackHost {
    const host = labStackInfo().hosts.find((h) => h.roles.includes(role));
    if (!host) throw new Error(`stack ${LAB_STACK} has no ${role} host`);
    return host;
}

/** What a lab network may leave behind: nspawn processes, its bridge, its nft table, mounts. */
export async function labLeftovers(network: string): Promise<string[]> {
    const left: string[] = [];
    const procs = await run("pgrep", ["-af", `systemd-nspawn.* -M ${network}-`]);
    if (procs.stdout.trim()) left.push(`processes: ${procs.stdout.trim()}`);
    const links = await run("ip", ["-o", "link", "show"]);
    if (links.stdout.includes(`dfbr-${network}`)) left.push("bridge");
    const tables = await run("nft", ["list", "tables"]);
    if (tables.stdout.includes(`dynoform_${network}`)) left.push("nft table");
    const mounts = await run("findmnt", ["-rn", "-o", "TARGET"]);
    const labMounts = mounts.stdout.split("\n").filter((m) => m.includes(`/.lab/${network}/`));
    if (labMounts.length) left.push(`mounts: ${labMounts.join(", ")}`);
    return left;
}

/**
 * The lab machines egress through this machine, and behind a TLS-intercepting proxy their builds
 * fail to fetch without its CAs: the stack is given them the way a user behind such a proxy sets
 * them (dynoform:extraCaCertificates), and loses them again with labStackDown (the committed stack
 * file stays as it is).
 */
async function trustThisMachinesCas(): Promise<void> {
    const pem = localExtraCaCertificates();
    if (!pem) return;
    const set = await run("pulumi", ["config", "set", "--stack", LAB_STACK, "--non-interactive", "dynoform:extraCaCertificates", "--", pem], { env: pulumiEnv() });
    if (set.code !== 0) throw new Error(`pulumi config set dynoform:extraCaCertificates failed: ${set.stderr.trim()}`);
}

export async function labStackUp(): Promise<number> {
    await pulumiOk(LAB_STACK, ["stack", "select", "--create"]);
    await trustThisMachinesCas();
    const started = Date.now();
    await pulumiOk(LAB_STACK, ["up", "--yes", "--skip-preview", "--suppress-progress"]);
    return (Date.now() - started) / 1000;
}

/** Destroys the lab stack and removes whatever a failed run left; returns what was still there. */
export async function labStackDown(): Promise<string[]> {
    const { network } = labStackInfo();
    const destroyed = await pulumi(LAB_STACK, ["destroy", "--yes", "--skip-preview", "--suppress-progress"]);
    const left = await labLeftovers(network);
    if (destroyed.code !== 0) left.push(`pulumi destroy failed (exit ${destroyed.code}): ${(destroyed.stdout + destroyed.stderr).trim().split("\n").slice(-15).join("\n")}`);
    await run("bash", ["scripts/lab/cleanup.sh", network]);
    await pulumi(LAB_STACK, ["config", "rm", "dynoform:extraCaCertificates"]);
    await pulumi(LAB_STACK, ["stack", "rm", "--yes", "--force", "--preserve-config"]);
    return left;
}
