import { hostWithRole, labStackInfo, LAB_STACK } from "../support/lab_stack";
import { LabShell } from "../support/lab_hosts";
import { pulumiOk, run } from "../support/pulumi";

// Last, because it replaces a machine: a lab host that vanished (its machine restarted or
// killed) is detected on refresh and recreated, provisioned again, by `pulumi up --refresh`.
jest.setTimeout(15 * 60_000);

const shell = new LabShell();
afterAll(() => shell.close());

test("a lab host that vanished is recreated by pulumi up --refresh", async () => {
    const { network } = labStackInfo();
    const dyno = hostWithRole("dyno");
    const nspawn = await run("pgrep", ["-f", `systemd-nspawn.* -M ${network}-${dyno.name} `]);
    const pid = Number(nspawn.stdout.trim().split("\n")[0]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, "SIGKILL");
    for (let i = 0; i < 50 && (await run("kill", ["-0", String(pid)])).code === 0; i++) await new Promise((r) => setTimeout(r, 100));

    await pulumiOk(LAB_STACK, ["up", "--yes", "--skip-preview", "--refresh", "--suppress-progress"]);
    expect(await shell.on(dyno.name, "hostname")).toBe(dyno.name);
    expect(await shell.on(dyno.name, "systemctl is-active dynoform-agent")).toBe("active");
    expect(await shell.on(dyno.name, "systemctl is-active dynoform-firewall")).toBe("active"); // the new machine has its firewall again
});
