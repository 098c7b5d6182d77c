import { hostWithRole, labStackInfo, LAB_STACK } from "../support/lab_stack";
import { LabShell } from "../support/lab_hosts";
import { pulumiOk, run } from "../support/pulumi";

// Last, because it cuts the whole test network off: a lab machine and the network's bridge are
// deleted by hand, and a plain `pulumi up` (no --refresh) must bring the stack back without one
// packet to the lab block leaving the machine by another interface (scripts/lab/seal.sh).
jest.setTimeout(20 * 60_000);

const shell = new LabShell();
// Counts, after every filter, what really leaves toward the lab block by a non-lab interface.
const WATCH = "dynoform_leakwatch";

async function nft(args: string[]): Promise<string> {
    const r = await run("nft", args);
    if (r.code !== 0) throw new Error(`nft ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
}

async function leaked(): Promise<number> {
    const json = await nft(["-j", "list", "counter", "inet", WATCH, "leaked"]);
    return Number(/"packets":\s*(\d+)/.exec(json)?.[1]);
}

beforeAll(async () => {
    await run("nft", ["delete", "table", "inet", WATCH]);
    await nft(["add", "table", "inet", WATCH]);
    await nft(["add", "counter", "inet", WATCH, "leaked"]);
    await nft(["add", "chain", "inet", WATCH, "out", "{ type filter hook postrouting priority 500; policy accept; }"]);
    await nft(["add", "rule", "inet", WATCH, "out", "ip", "daddr", "10.213.0.0/16", "oifname", "!=", "lo", "oifname", "!=", "dfbr-*", "counter", "name", "leaked"]);
});

afterAll(async () => {
    shell.close();
    await run("nft", ["delete", "table", "inet", WATCH]);
});

test("the lab stays sealed while a plain pulumi up recreates a machine deleted with its bridge", async () => {
    const { network } = labStackInfo();
    const dyno = hostWithRole("dyno");
    const seal = await run("bash", ["scripts/lab/seal.sh", "status"]);
    expect(seal.code).toBe(0);

    const nspawn = await run("pgrep", ["-f", `systemd-nspawn.* -M ${network}-${dyno.name} `]);
    const pid = Number(nspawn.stdout.trim().split("\n")[0]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGKILL");
    for (let i = 0; i < 50 && (await run("kill", ["-0", String(pid)])).code === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await run("ip", ["link", "delete", "dev", `dfbr-${network}`])).code).toBe(0);

    // Without the seal this SYN would follow the default route off the machine.
    const probe = await run("ssh", ["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", `root@${dyno.address}`, "true"], { timeoutMs: 30_000 });
    expect(probe.stderr).toMatch(/No route to host/);

    await pulumiOk(LAB_STACK, ["up", "--yes", "--skip-preview", "--suppress-progress"]);
    expect(await shell.on(dyno.name, "hostname")).toBe(dyno.name);
    expect(await shell.on(dyno.name, "systemctl is-active dynoform-agent")).toBe("active");
    expect(await leaked()).toBe(0);
});
