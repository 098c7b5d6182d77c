// One lab machine: a systemd-nspawn container booting systemd on an overlay of a cached
// Debian image, attached to its network's bridge, reachable by SSH with generated keys.
import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import {
    LabHostInputs,
    LabHostOutputs,
    defaultCacheDir,
    hostDir,
    hostPaths,
    imageDir,
    machineName,
    networkdFile,
    nftRuleset,
    nspawnArgs,
    parseMemory,
    publicKeyOnly,
    resolvConfFile,
    resolvers,
    validateHost,
} from "./config";
import { labScript, lastLines, projectRoot, readIfExists, requireRoot, run } from "./system";

/** How long a machine may take from `systemd-nspawn` to an answering sshd. */
const BOOT_TIMEOUT_MS = 60_000;

export function labDir(): string {
    return process.env.DYNOFORM_LAB_DIR || path.join(projectRoot(), ".lab");
}

function scriptEnv(dir: string): NodeJS.ProcessEnv {
    // Scripts find the lab dir from the host dir, so a moved checkout still cleans its machines.
    return { ...process.env, DYNOFORM_LAB_DIR: path.dirname(path.dirname(dir)) };
}

/**
 * True while the launcher of the machine in `dir` runs (its systemd-nspawn, or the gap of a guest
 * reboot between two of them). Its pid file names the launcher, whose command line holds the nspawn one.
 */
export function machineAlive(dir: string): boolean {
    const p = hostPaths(dir);
    const pid = Number((readIfExists(p.pidFile) ?? "").trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    const cmdline = readIfExists(`/proc/${pid}/cmdline`);
    if (!cmdline) return false; // gone, or a zombie
    const args = cmdline.split("\0");
    const i = args.indexOf("-D");
    return args.some((a) => a.endsWith("systemd-nspawn")) && i >= 0 && args[i + 1] === p.root;
}

/**
 * Every process that keeps the machine in `dir` up: its launcher and systemd-nspawn (their command
 * lines hold `-D <root>`), and the container's init (PID 1 of its own pid namespace, on the
 * machine's overlay), which lives on when systemd-nspawn alone is killed. `proc` is for tests.
 */
export function machineProcesses(dir: string, proc = "/proc"): number[] {
    const p = hostPaths(dir);
    const pids: number[] = [];
    for (const entry of fs.readdirSync(proc)) {
        if (!/^\d+$/.test(entry)) continue;
        const args = (readIfExists(path.join(proc, entry, "cmdline")) ?? "").split("\0");
        const i = args.indexOf("-D");
        const launcherOrNspawn = args.some((a) => a.endsWith("systemd-nspawn")) && i >= 0 && args[i + 1] === p.root;
        const nspid = /^NSpid:\s+(.*)$/m.exec(readIfExists(path.join(proc, entry, "status")) ?? "")?.[1].trim().split(/\s+/) ?? [];
        const containerInit = nspid.length > 1 && nspid[nspid.length - 1] === "1" && (readIfExists(path.join(proc, entry, "mountinfo")) ?? "").includes(`upperdir=${p.upper},`);
        if (launcherOrNspawn || containerInit) pids.push(Number(entry));
    }
    return pids.sort((a, b) => a - b);
}

/** `target` is a mount point in this process's mount namespace. */
function mounted(target: string): boolean {
    return (readIfExists("/proc/self/mountinfo") ?? "").split("\n").some((line) => line.split(" ")[4] === target);
}

/**
 * Powers on again a machine that died (killed hard, as a power cut): the same overlay, keys and
 * address, like a real machine's disk after a power cut. A test that kills a host and needs it back
 * as it was uses this; `pulumi up --refresh` would make a new machine from the image instead.
 */
export async function bootAgain(inputs: LabHostInputs): Promise<void> {
    requireRoot();
    validateHost(inputs);
    const dir = hostDir(path.dirname(labDir()), inputs.network.name, inputs.name);
    const p = hostPaths(dir);
    if (!fs.existsSync(p.upper) || !fs.existsSync(p.clientKey)) {
        throw new Error(`lab host ${inputs.name}: no machine in ${dir} to boot again; \`pulumi up\` makes it`);
    }
    const running = machineProcesses(dir);
    if (running.length > 0) throw new Error(`lab host ${inputs.name} is still running (pids ${running.join(", ")}): stop it before booting it again`);
    if (!bridgeUp(inputs.network.bridge)) throw new Error(`lab host ${inputs.name}: the bridge ${inputs.network.bridge} is gone; \`pulumi up\` makes the network and the machine again`);
    const cacheDir = defaultCacheDir(process.env);
    if (!mounted(p.root)) {
        const lower = imageDir(cacheDir, inputs.image);
        await run("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${lower},upperdir=${p.upper},workdir=${p.work}`, p.root]);
    }
    const cgroup = readIfExists(path.join(dir, "cgroup"))?.trim() || undefined;
    fs.rmSync(p.pidFile, { force: true }); // the dead launcher's: launch() waits for the new one's
    await launch(inputs, dir, path.join(cacheDir, "lab", "apt-archives"), cgroup);
    await waitForSsh(inputs, dir);
}

/** The bridge exists (a lab network whose bridge was deleted by hand has cut its machines off). */
export function bridgeUp(bridge: string): boolean {
    return fs.existsSync(path.join("/sys/class/net", bridge));
}

/** Stop the machine in `dir` and remove all it left; drops the network when it was the last host. */
export async function stopMachine(dir: string, opts: { keepNetwork?: boolean } = {}): Promise<void> {
    requireRoot();
    const args = ["stop", dir];
    if (opts.keepNetwork) args.push("--keep-network");
    await run("bash", [labScript("host.sh"), ...args], { env: scriptEnv(dir), timeoutMs: 120_000 });
}

async function ensureImage(image: LabHostInputs["image"], cacheDir: string): Promise<string> {
    const dir = imageDir(cacheDir, image);
    if (!fs.existsSync(dir)) {
        const args = [labScript("image.sh")];
        if (image === "packages") args.push("--with-packages");
        await run("bash", args, { env: { ...process.env, DYNOFORM_CACHE: cacheDir }, timeoutMs: 30 * 60_000 });
    }
    return dir;
}

async function keygen(file: string, comment: string): Promise<string> {
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.pub`, { force: true });
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
    return publicKeyOnly(fs.readFileSync(`${file}.pub`, "utf8"));
}

function writeFile(file: string, content: string, mode = 0o644): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.rmSync(file, { force: true }); // may be a symlink into the image (resolv.conf)
    fs.writeFileSync(file, content, { mode });
    fs.chmodSync(file, mode);
}

/** Memory-cgroup directory for a machine with a memory limit, under this process's own cgroup. */
function memoryCgroup(machine: string, bytes: number): string | undefined {
    const self = readIfExists("/proc/self/cgroup") ?? "";
    const v1 = /^\d+:memory:(.*)$/m.exec(self);
    if (v1 && fs.existsSync("/sys/fs/cgroup/memory")) {
        const dir = path.join("/sys/fs/cgroup/memory", v1[1], `dynoform-${machine}`);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "memory.limit_in_bytes"), String(bytes));
        return dir;
    }
    const v2 = /^0::(.*)$/m.exec(self);
    if (v2 && fs.existsSync("/sys/fs/cgroup/cgroup.controllers")) {
        const dir = path.join("/sys/fs/cgroup", v2[1], `dynoform-${machine}`);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "memory.max"), String(bytes));
        return dir;
    }
    return undefined;
}

/** Write the machine's identity, network, resolver and SSH keys into its overlay root. */
async function provision(inputs: LabHostInputs, dir: string): Promise<{ hostKey: string; privateKey: string }> {
    const p = hostPaths(dir);
    const r = p.root;
    writeFile(path.join(r, "etc/hostname"), `${inputs.name}\n`);
    writeFile(
        path.join(r, "etc/hosts"),
        `127.0.0.1\tlocalhost\n127.0.1.1\t${inputs.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
    );
    const dns = resolvers(readIfExists("/etc/resolv.conf") ?? "", readIfExists("/run/systemd/resolve/resolv.conf"));
    if (dns.nameservers.length === 0) {
        throw new Error("no usable nameserver in /etc/resolv.conf (loopback resolvers can't serve lab machines); add one");
    }
    writeFile(path.join(r, "etc/resolv.conf"), resolvConfFile(dns));
    writeFile(
        path.join(r, "etc/systemd/network/10-dynoform-lab.network"),
        networkdFile(inputs.address, inputs.network.subnet, inputs.network.gateway, dns.nameservers),
    );
    const hostKey = await keygen(path.join(r, "etc/ssh/ssh_host_ed25519_key"), `root@${inputs.name}`);
    const clientPub = await keygen(p.clientKey, `dynoform@${machineName(inputs.network.name, inputs.name)}`);
    fs.mkdirSync(path.join(r, "root/.ssh"), { recursive: true, mode: 0o700 });
    writeFile(path.join(r, "root/.ssh/authorized_keys"), `${clientPub}\n`, 0o600);
    writeFile(p.knownHosts, `${inputs.address} ${hostKey}\n`, 0o600);
    // No per-user systemd manager: in these machines (cgroup v1 under nspawn) stopping user@0 after
    // the last root SSH session hangs for 2 minutes ("Processes still around after final SIGKILL"),
    // and every login meanwhile waits for it. Nothing here runs as a user service; logind logs the
    // masked unit and goes on.
    const userManager = path.join(r, "etc/systemd/system/user@.service");
    fs.mkdirSync(path.dirname(userManager), { recursive: true });
    fs.rmSync(userManager, { force: true });
    fs.symlinkSync("/dev/null", userManager);
    return { hostKey, privateKey: fs.readFileSync(p.clientKey, "utf8") };
}

/**
 * The launcher of a machine: `sh -c LAUNCHER sh PIDFILE LOG CGROUP systemd-nspawn ARGS...`.
 * Its own pid goes to PIDFILE (so its command line, which holds the nspawn one, is what
 * machineAlive() and lib.sh's machine_pids find). It runs systemd-nspawn and boots it again when
 * it exits with 133: the guest rebooted (`systemctl reboot`), like systemd-nspawn@.service's
 * RestartForceExitStatus=133; the overlay, keys and address stay. SIGTERM/SIGINT/SIGHUP are passed
 * on to systemd-nspawn (a clean poweroff) and end the loop; any other exit ends it too.
 */
export const LAUNCHER = [
    'pidfile=$1 log=$2 cg=$3; shift 3',
    'echo $$ >"$pidfile.tmp" && mv "$pidfile.tmp" "$pidfile"',
    'if [ -n "$cg" ]; then echo $$ >"$cg/cgroup.procs" || echo "memory limit not applied" >>"$log"; fi',
    'stop=0 child=',
    'trap \'stop=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null\' TERM INT HUP',
    'while :; do',
    '  "$@" >>"$log" 2>&1 </dev/null &',
    '  child=$!',
    // A SIGTERM between two boots (the trap had no child to pass it on to) halts the new one.
    '  if [ "$stop" = 1 ]; then kill -TERM "$child" 2>/dev/null; fi',
    // `wait` returns early (>128) when a trapped signal arrives: wait again for the real status.
    '  wait "$child"; rc=$?',
    '  while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done',
    // ...and when the child ended between that early return and `kill -0`, one more `wait` gives its
    // real status (127: it was reaped already, and the status stands).
    '  if [ "$rc" -gt 128 ]; then wait "$child" 2>/dev/null; r=$?; [ "$r" = 127 ] || rc=$r; fi',
    '  if [ "$stop" = 1 ] || [ "$rc" != 133 ]; then exit "$rc"; fi',
    '  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) the guest rebooted (exit 133): booting it again" >>"$log"',
    'done',
].join("\n");

/** Start systemd-nspawn detached (its own session, not our child); returns its pid. */
async function launch(inputs: LabHostInputs, dir: string, aptLower: string, cgroup: string | undefined): Promise<number> {
    const p = hostPaths(dir);
    const args = nspawnArgs({
        root: p.root,
        machine: machineName(inputs.network.name, inputs.name),
        hostname: inputs.name,
        bridge: inputs.network.bridge,
        aptLower,
        aptUpper: p.aptUpper,
    });
    fs.appendFileSync(p.bootLog, `# ${new Date().toISOString()} systemd-nspawn ${args.join(" ")}\n`);
    await new Promise<void>((resolve, reject) => {
        const child = spawn("setsid", ["-f", "sh", "-c", LAUNCHER, "sh", p.pidFile, p.bootLog, cgroup ?? "", "systemd-nspawn", ...args], {
            stdio: "ignore",
        });
        child.on("error", reject);
        child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`setsid exited with ${code}`))));
    });
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
        const pid = Number((readIfExists(p.pidFile) ?? "").trim());
        if (pid > 0) return pid;
        await sleep(20);
    }
    throw new Error(`systemd-nspawn for ${inputs.name} did not start (no ${p.pidFile})`);
}

function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

/** True once an SSH server banner arrives from address:22, false when none comes within a second. */
function sshBanner(address: string): Promise<boolean> {
    return new Promise((resolve) => {
        const sock = net.connect({ host: address, port: 22 });
        let buf = "";
        const done = (ok: boolean) => {
            clearTimeout(timer);
            sock.destroy();
            resolve(ok);
        };
        const timer = setTimeout(() => done(false), 1_000);
        sock.on("data", (d) => {
            buf += d.toString("latin1");
            if (buf.includes("\n") || buf.length > 8) done(buf.startsWith("SSH-"));
        });
        sock.on("error", () => done(false));
        sock.on("close", () => done(buf.startsWith("SSH-")));
    });
}

async function waitForSsh(inputs: LabHostInputs, dir: string): Promise<void> {
    const p = hostPaths(dir);
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    while (Date.now() < deadline) {
        if (!machineAlive(dir)) {
            throw new Error(`lab host ${inputs.name}: systemd-nspawn exited during boot. Last lines of ${p.bootLog}:\n${lastLines(readIfExists(p.bootLog) ?? "", 25)}`);
        }
        if (await sshBanner(inputs.address)) return;
        await sleep(200);
    }
    throw new Error(
        `lab host ${inputs.name}: sshd did not answer on ${inputs.address}:22 within ${BOOT_TIMEOUT_MS / 1000} s. ` +
            `Last lines of ${p.bootLog}:\n${lastLines(readIfExists(p.bootLog) ?? "", 25)}`,
    );
}

/** Create and boot a lab machine; on any failure, remove what was made and rethrow. */
export async function createMachine(inputs: LabHostInputs): Promise<LabHostOutputs> {
    requireRoot();
    validateHost(inputs);
    const cacheDir = defaultCacheDir(process.env);
    const lower = await ensureImage(inputs.image, cacheDir);
    const aptLower = path.join(cacheDir, "lab", "apt-archives");
    fs.mkdirSync(aptLower, { recursive: true });
    const dir = hostDir(path.dirname(labDir()), inputs.network.name, inputs.name);
    const p = hostPaths(dir);
    const machine = machineName(inputs.network.name, inputs.name);

    if (fs.existsSync(dir)) {
        if (machineAlive(dir)) {
            throw new Error(`lab host ${machine} is already running (${dir}); delete it first or run scripts/lab/cleanup.sh ${inputs.network.name}`);
        }
        await stopMachine(dir, { keepNetwork: true }); // leftovers of a machine that died
    }
    for (const d of [p.upper, p.work, p.root, p.aptUpper]) fs.mkdirSync(d, { recursive: true });
    // The overlay's / takes the upper dir's mode: keep the image's (0755), whatever the umask.
    fs.chmodSync(p.upper, fs.statSync(lower).mode & 0o7777);
    try {
        const n = inputs.network;
        // After mkdir (the host dir counts as a user of the network), under the network lock.
        await run("bash", [labScript("network.sh"), "up", n.name, n.bridge, n.subnet, n.gateway], { env: scriptEnv(dir), input: nftRuleset(n) });
        await run("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${lower},upperdir=${p.upper},workdir=${p.work}`, p.root]);
        const keys = await provision(inputs, dir);
        let cgroup: string | undefined;
        if (inputs.memoryMax !== undefined) {
            // Best effort: a limit this process's cgroup can't carry is noted in boot.log, not fatal.
            try {
                cgroup = memoryCgroup(machine, parseMemory(inputs.memoryMax));
                if (cgroup) fs.writeFileSync(path.join(dir, "cgroup"), cgroup);
                else fs.appendFileSync(p.bootLog, `# memoryMax ${inputs.memoryMax} not applied: no memory cgroup controller\n`);
            } catch (err) {
                fs.appendFileSync(p.bootLog, `# memoryMax ${inputs.memoryMax} not applied: ${(err as Error).message}\n`);
                cgroup = undefined;
            }
        }
        await launch(inputs, dir, aptLower, cgroup);
        await waitForSsh(inputs, dir);
        return {
            ...inputs,
            address: inputs.address,
            hostKey: keys.hostKey,
            privateKey: keys.privateKey,
            machineName: machine,
            dir,
        };
    } catch (err) {
        await stopMachine(dir).catch((e) => {
            (err as Error).message += `\n(cleanup after the failure also failed: ${(e as Error).message})`;
        });
        throw err;
    }
}
