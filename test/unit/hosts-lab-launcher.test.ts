// The lab machine launcher (LAUNCHER in components/hosts/lab/machine.ts), with a fake
// systemd-nspawn: boots again on exit 133 (a guest reboot), stops on any other exit, passes
// SIGTERM on and ends. No root needed.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LAUNCHER, machineAlive } from "../../components/hosts/lab/machine";

let dir: string;

beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "launcher-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A fake systemd-nspawn: exits 133 for its first `reboots` boots, then runs until SIGTERM (exit 0) or exits `finalCode`. */
function fake(reboots: number, finalCode?: number): string {
    const file = path.join(dir, "systemd-nspawn");
    fs.writeFileSync(
        file,
        `#!/bin/sh
trap 'echo "halt on TERM"; exit 0' TERM
n=$(cat "${dir}/boots" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >"${dir}/boots"
echo "boot $n: $*"
[ $n -le ${reboots} ] && exit 133
${finalCode !== undefined ? `exit ${finalCode}` : ""}
sleep 60 & wait
`,
        { mode: 0o755 },
    );
    return file;
}

function launch(nspawn: string): Promise<number | null> {
    const child = spawn("sh", ["-c", LAUNCHER, "sh", path.join(dir, "nspawn.pid"), path.join(dir, "boot.log"), "", nspawn, "-D", path.join(dir, "root"), "-b"], {
        stdio: "ignore",
    });
    return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}

async function until(fn: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!fn()) {
        if (Date.now() > end) throw new Error("timed out");
        await new Promise((r) => setTimeout(r, 20));
    }
}

const boots = () => Number((fs.existsSync(path.join(dir, "boots")) && fs.readFileSync(path.join(dir, "boots"), "utf8").trim()) || 0);
const log = () => fs.readFileSync(path.join(dir, "boot.log"), "utf8");

test("exit 133 (the guest rebooted) boots again with the same command line; SIGTERM halts and ends it", async () => {
    const exited = launch(fake(2));
    await until(() => boots() === 3 && log().includes("boot 3"));
    const pid = Number(fs.readFileSync(path.join(dir, "nspawn.pid"), "utf8"));
    expect(machineAlive(dir)).toBe(true); // the pid file names the launcher, whose command line holds -D <root>
    expect(log().match(/^boot \d: -D \S+\/root -b$/gm)).toHaveLength(3);
    expect(log().match(/the guest rebooted \(exit 133\): booting it again/g)).toHaveLength(2);
    process.kill(pid, "SIGTERM");
    expect(await exited).toBe(0);
    expect(log()).toContain("halt on TERM");
    expect(machineAlive(dir)).toBe(false);
    expect(boots()).toBe(3);
});

test("any other exit ends the launcher with that status (the machine is gone)", async () => {
    expect(await launch(fake(1, 1))).toBe(1);
    expect(boots()).toBe(2);
    expect(machineAlive(dir)).toBe(false);
});
