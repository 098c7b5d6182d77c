// The LabHost provider's create/read/delete on real machines (no Pulumi engine): two Debian
// machines on network `hosttest` (10.213.9.0/24). Needs root. Leaves nothing behind, even when a
// test fails (cleanup.sh runs before and after).
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { LabHostOutputs } from "../../components/hosts/lab/config";
import { labHostProvider } from "../../components/hosts/lab/provider-impl";

jest.setTimeout(240_000);

const root = path.resolve(__dirname, "..", "..");
const NETWORK = { name: "hosttest", subnet: "10.213.9.0/24" };
const A = { network: NETWORK, name: "a", address: "10.213.9.10", image: "base" };
const B = { network: NETWORK, name: "b", address: "10.213.9.11", image: "base" };
const C = { network: NETWORK, name: "c", address: "10.213.9.12", image: "base", memoryMax: "256M" };

interface Result {
    code: number;
    stdout: string;
    stderr: string;
}

function sh(file: string, args: string[], timeoutMs = 120_000): Promise<Result> {
    return new Promise((resolve) => {
        execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
            resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
        });
    });
}

const cleanup = () => sh("bash", [path.join(root, "scripts/lab/cleanup.sh"), NETWORK.name]);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-hosts-"));
const outs: Record<string, LabHostOutputs> = {};

/** ssh as root with the generated key, trusting only the pinned host key from the outputs. */
function ssh(o: LabHostOutputs, command: string, pinnedKey = o.hostKey): Promise<Result> {
    const key = path.join(tmp, `${o.name}.key`);
    const known = path.join(tmp, `${o.name}.known_hosts`);
    fs.writeFileSync(key, o.privateKey, { mode: 0o600 });
    fs.writeFileSync(known, `${o.address} ${pinnedKey}\n`);
    return sh("ssh", [
        "-i", key,
        "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", `UserKnownHostsFile=${known}`,
        "-o", "ConnectTimeout=5",
        `root@${o.address}`,
        command,
    ]);
}

async function create(inputs: typeof A & { memoryMax?: string }): Promise<{ outs: LabHostOutputs; seconds: number }> {
    const checked = await labHostProvider.check({}, inputs);
    expect(checked.failures).toBeUndefined();
    const t0 = Date.now();
    const r = await labHostProvider.create(checked.inputs);
    const seconds = (Date.now() - t0) / 1000;
    outs[inputs.name] = r.outs as LabHostOutputs;
    return { outs: r.outs as LabHostOutputs, seconds };
}

/** Everything the lab could leave for this network. */
async function leftovers(): Promise<string[]> {
    const found: string[] = [];
    const dir = path.join(root, ".lab", NETWORK.name);
    if (fs.existsSync(dir)) found.push(`dir ${dir}: ${fs.readdirSync(dir).join(" ")}`);
    const mounts = (await sh("findmnt", ["-rn", "-o", "TARGET"])).stdout.split("\n").filter((m) => m.includes(`/.lab/${NETWORK.name}/`));
    found.push(...mounts.map((m) => `mount ${m}`));
    if ((await sh("ip", ["link", "show", "dev", "dfbr-hosttest"])).code === 0) found.push("bridge dfbr-hosttest");
    if ((await sh("nft", ["list", "tables"])).stdout.includes("dynoform_hosttest")) found.push("nft table dynoform_hosttest");
    for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        let cmd = "";
        try {
            cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
        } catch {
            continue;
        }
        if (cmd.includes("systemd-nspawn") && cmd.includes(`/.lab/${NETWORK.name}/`)) found.push(`process ${pid}: ${cmd}`);
        // A container's init that outlived its systemd-nspawn: PID 1 of a nested pid namespace on our overlay.
        try {
            const nested = /^NSpid:\t\d+\t.*\b1$/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
            if (nested && fs.readFileSync(`/proc/${pid}/mountinfo`, "utf8").includes(`/.lab/${NETWORK.name}/`)) found.push(`container init ${pid}: ${cmd}`);
        } catch {
            // gone meanwhile
        }
    }
    return found;
}

beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error("the lab tests need root");
    const r = await cleanup();
    if (r.code !== 0) throw new Error(`cleanup.sh failed: ${r.stderr}`);
});

afterAll(async () => {
    for (const o of Object.values(outs)) await labHostProvider.delete(o.machineName, o).catch(() => undefined);
    await cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
});

describe("lab hosts", () => {
    test("two machines boot; sshd answers with the pinned host key", async () => {
        const t0 = Date.now();
        const [a, b] = await Promise.all([create(A), create(B)]);
        console.log(`boot to sshd: a=${a.seconds.toFixed(1)} s, b=${b.seconds.toFixed(1)} s (both in parallel: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
        expect(a.outs).toMatchObject({ address: "10.213.9.10", machineName: "hosttest-a", network: { bridge: "dfbr-hosttest", gateway: "10.213.9.1" } });
        expect(a.outs.hostKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);
        expect(a.outs.privateKey).toContain("BEGIN OPENSSH PRIVATE KEY");
        expect(a.outs.hostKey).not.toBe(b.outs.hostKey); // host keys are per machine, not in the image

        const r = await ssh(a.outs, "hostname; systemctl is-system-running --wait; ip -4 -o addr show host0");
        expect(r.stderr).toBe("");
        const [hostname, state, addr] = r.stdout.trim().split("\n");
        expect(hostname).toBe("a");
        expect(["running", "degraded"]).toContain(state);
        expect(addr).toContain("inet 10.213.9.10/24");
        if (state !== "running") console.log("a is degraded:", (await ssh(a.outs, "systemctl --failed --no-legend")).stdout);
    });

    test("a host key other than the pinned one is refused", async () => {
        const r = await ssh(outs.a, "true", outs.b.hostKey);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
    });

    test("root logs in by key only", async () => {
        const r = await ssh(outs.a, "sshd -T 2>/dev/null | grep -E '^(permitrootlogin|passwordauthentication)'");
        expect(r.stdout).toContain("permitrootlogin without-password");
        expect(r.stdout).toContain("passwordauthentication no");
        // No per-user manager to stop after each session (its stop hangs under nspawn and holds up the next login).
        expect((await ssh(outs.a, "systemctl show -p LoadState --value user@0.service")).stdout.trim()).toBe("masked");
    });

    test("host a reaches host b on the lab network", async () => {
        const r = await ssh(outs.a, "exec 3<>/dev/tcp/10.213.9.11/22 && head -c 8 <&3");
        expect(r.stdout).toBe("SSH-2.0-");
    });

    test("outbound apt works through the NAT (apt-get update)", async () => {
        const t0 = Date.now();
        const r = await ssh(outs.a, "apt-get update -q 2>&1 && echo APT-OK");
        console.log(`apt-get update in a: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        expect(r.stdout).toContain("APT-OK");
        expect(r.stdout).not.toMatch(/^(E|W): /m);
    });

    test("a guest-initiated reboot boots the machine again in place: disk, keys and address kept", async () => {
        const bootId = async () => (await ssh(outs.a, "cat /proc/sys/kernel/random/boot_id")).stdout.trim();
        const before = await bootId();
        expect(before).toMatch(/^[0-9a-f-]{36}$/);
        const launcher = fs.readFileSync(path.join(outs.a.dir, "nspawn.pid"), "utf8");
        expect((await ssh(outs.a, "echo kept >/root/marker && systemd-run --on-active=1 systemctl reboot")).code).toBe(0);
        const t0 = Date.now();
        let after = before;
        while (Date.now() - t0 < 90_000) {
            // Present throughout: the launcher runs while the guest reboots.
            expect((await labHostProvider.read(outs.a.machineName, outs.a)).id).toBe("hosttest-a");
            after = await bootId();
            if (after && after !== before) break;
            await new Promise((r) => setTimeout(r, 500));
        }
        console.log(`reboot a, back to sshd: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        expect(after).not.toBe(before);
        const r = await ssh(outs.a, "cat /root/marker; hostname; ip -4 -o addr show host0");
        expect(r.stderr).toBe(""); // same pinned host key
        expect(r.stdout).toMatch(/^kept\na\n.*inet 10\.213\.9\.10\/24/);
        expect(fs.readFileSync(path.join(outs.a.dir, "nspawn.pid"), "utf8")).toBe(launcher);
        expect(fs.readFileSync(path.join(outs.a.dir, "boot.log"), "utf8")).toContain("the guest rebooted (exit 133): booting it again");
    });

    test("read: a live machine is there; a killed one is reported missing", async () => {
        expect((await labHostProvider.read(outs.b.machineName, outs.b)).id).toBe("hosttest-b");
        const pid = Number(fs.readFileSync(path.join(outs.b.dir, "nspawn.pid"), "utf8"));
        process.kill(pid, "SIGKILL");
        for (let i = 0; i < 50 && fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`, "utf8") !== ""; i++) {
            await new Promise((r) => setTimeout(r, 100));
        }
        expect((await labHostProvider.read(outs.b.machineName, outs.b)).id).toBe("");
        expect((await labHostProvider.read(outs.a.machineName, outs.a)).id).toBe("hosttest-a");
    });

    test("create over a dead machine's leftovers works (what `up --refresh` does)", async () => {
        const { outs: b2, seconds } = await create(B);
        console.log(`recreate b over its leftovers: ${seconds.toFixed(1)} s`);
        expect(b2.hostKey).not.toBe(outs.a.hostKey);
        const r = await ssh(b2, "hostname");
        expect(r.stderr).toBe("");
        expect(r.stdout.trim()).toBe("b");
    });

    test("delete removes process, mounts, dir; the last one also the bridge and nft table", async () => {
        await labHostProvider.delete(outs.b.machineName, outs.b);
        expect(fs.existsSync(outs.b.dir)).toBe(false);
        expect((await sh("ip", ["link", "show", "dev", "dfbr-hosttest"])).code).toBe(0); // a still uses it
        const t0 = Date.now();
        await labHostProvider.delete(outs.a.machineName, outs.a);
        console.log(`delete a (halt + unmount + network teardown): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        delete outs.a;
        delete outs.b;
        expect(await leftovers()).toEqual([]);
        // Deleting again (machine gone) is fine.
        await labHostProvider.delete("hosttest-a", { ...A, dir: path.join(root, ".lab/hosttest/a") });
    });

    test("cleanup.sh removes a running machine and its network (after a failed run)", async () => {
        const { outs: c } = await create(C);
        expect((await leftovers()).length).toBeGreaterThan(0);
        // memoryMax: the machine runs in a memory cgroup with that limit (when the cgroup is writable).
        const cgFile = path.join(c.dir, "cgroup");
        const cgroup = fs.existsSync(cgFile) ? fs.readFileSync(cgFile, "utf8").trim() : undefined;
        if (cgroup) {
            const limit = ["memory.limit_in_bytes", "memory.max"].map((f) => path.join(cgroup, f)).find((f) => fs.existsSync(f))!;
            expect(fs.readFileSync(limit, "utf8").trim()).toBe(String(256 * 1024 * 1024));
            expect(fs.readFileSync(path.join(cgroup, "cgroup.procs"), "utf8")).toContain(fs.readFileSync(path.join(c.dir, "nspawn.pid"), "utf8").trim());
        } else {
            console.log(`memoryMax not applied here: ${fs.readFileSync(path.join(c.dir, "boot.log"), "utf8").match(/# memoryMax.*/)?.[0]}`);
        }
        const r = await cleanup();
        expect(r.code).toBe(0);
        delete outs.c;
        expect(await leftovers()).toEqual([]);
        if (cgroup) expect(fs.existsSync(cgroup)).toBe(false);
        expect((await cleanup()).code).toBe(0); // idempotent
    });
});
