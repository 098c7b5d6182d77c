// A lab machine killed hard and powered on again (components/hosts/lab/machine.ts machineProcesses,
// bootAgain): which processes keep a machine up, read from a stand-in /proc, and what bootAgain
// refuses before it touches anything. Booting itself needs root and systemd-nspawn: the lab test
// 92-edge-failover does it.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { labNetwork, type LabHostInputs } from "../../components/hosts/lab/config";
import { bootAgain, machineProcesses } from "../../components/hosts/lab/machine";

let tmp: string;
beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "boot-again-"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A stand-in /proc entry. */
function proc(pid: number, entry: { cmdline: string[]; nspid?: number[]; mountinfo?: string }): void {
    const d = path.join(tmp, "proc", String(pid));
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, "cmdline"), entry.cmdline.join("\0") + "\0");
    fs.writeFileSync(path.join(d, "status"), `Name:\tx\nNSpid:\t${(entry.nspid ?? [pid]).join("\t")}\n`);
    fs.writeFileSync(path.join(d, "mountinfo"), entry.mountinfo ?? "");
}

test("a machine's processes: its launcher, systemd-nspawn and the container's init; not another machine's, nor the container's other processes", () => {
    const dir = path.join(tmp, ".lab", "test", "edge-1");
    const other = path.join(tmp, ".lab", "test", "edge-2");
    const overlay = (d: string) => `1 2 0:50 / / rw - overlay overlay rw,lowerdir=/cache/lab/packages-bookworm,upperdir=${d}/upper,workdir=${d}/work\n`;
    proc(100, { cmdline: ["sh", "-c", "LAUNCHER", "sh", `${dir}/nspawn.pid`, `${dir}/boot.log`, "", "systemd-nspawn", "-D", `${dir}/root`, "-b"] });
    proc(101, { cmdline: ["systemd-nspawn", "-D", `${dir}/root`, "-M", "test-edge-1", "-b"] });
    proc(102, { cmdline: ["/sbin/init"], nspid: [102, 1], mountinfo: overlay(dir) }); // the container's init
    proc(103, { cmdline: ["nginx: master process"], nspid: [103, 57], mountinfo: overlay(dir) }); // inside, not its init
    proc(200, { cmdline: ["systemd-nspawn", "-D", `${other}/root`, "-M", "test-edge-2", "-b"] });
    proc(201, { cmdline: ["/sbin/init"], nspid: [201, 1], mountinfo: overlay(other) });
    proc(300, { cmdline: ["vim", `${dir}/root/etc/hosts`] });
    fs.writeFileSync(path.join(tmp, "proc", "self"), ""); // not a pid
    expect(machineProcesses(dir, path.join(tmp, "proc"))).toEqual([100, 101, 102]);
    expect(machineProcesses(other, path.join(tmp, "proc"))).toEqual([200, 201]);
});

const rootOnly = process.getuid?.() === 0 ? test : test.skip;

rootOnly("bootAgain refuses a machine that was never made, naming pulumi up", async () => {
    const inputs: LabHostInputs = { network: labNetwork({ name: "nosuch", subnet: "10.213.250.0/24" }), name: "edge-9", address: "10.213.250.10", image: "packages" };
    const old = process.env.DYNOFORM_LAB_DIR;
    process.env.DYNOFORM_LAB_DIR = path.join(tmp, ".lab");
    try {
        await expect(bootAgain(inputs)).rejects.toThrow(/lab host edge-9: no machine in .*nosuch\/edge-9 to boot again; `pulumi up` makes it/);
    } finally {
        if (old === undefined) delete process.env.DYNOFORM_LAB_DIR;
        else process.env.DYNOFORM_LAB_DIR = old;
    }
});
