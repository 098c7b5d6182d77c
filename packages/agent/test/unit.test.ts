// Pure pieces: systemd command lines and state parsing, restart policy, log format, config, desired state.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import * as tar from "tar";
import { loadConfig, resolveConfig } from "../src/config";
import { limitsFor, parseDesiredState, sizeFor } from "../src/desired_state";
import { formatLine, herokuTimestamp, LogBuffer } from "../src/log_buffer";
import { LogTailer } from "../src/log_tailer";
import { RestartPolicy } from "../src/restart_policy";
import { SlugStore } from "../src/slug_store";
import { WRAPPER } from "../src/supervisor";
import { cgroupRss, environmentFile, exitFromState, parseShow, SystemdSupervisor, systemdRunArgs, systemdRunAttachedArgs } from "../src/supervisor_systemd";
import { appUserName, lookupUser, useraddArgs, UserManager } from "../src/users";
import { tmpDir } from "./helpers";

const spec = {
  unit: "dyno-shop-web.1-a1b2c3",
  app: "shop",
  dyno: "web.1",
  command: "node server.js --port $PORT",
  cwd: "/var/lib/dynoform-agent/slugs/abc/app",
  env: { PORT: "20001", DYNO: "web.1", DATABASE_URL: "postgres://u:p@10.0.0.4/shop", MULTI: "a\nb" },
  user: { name: "dyno-shop", uid: 999, gid: 998 },
  memoryMb: 512,
  limits: { tasksMax: 256, cpuWeight: 100, cpuQuotaPercent: 100 },
  logFile: "/var/lib/dynoform-agent/logs/dyno-shop-web.1-a1b2c3.log",
};

// The thin sandbox every dyno gets, one-offs included (systemd 252 knows each property).
const SANDBOX = [
  "NoNewPrivileges=yes",
  "PrivateTmp=yes",
  "ProtectSystem=strict",
  "ProtectHome=yes",
  "PrivateDevices=yes",
  "PrivateIPC=yes",
  "TemporaryFileSystem=/dev/shm:mode=1777,nosuid,nodev,size=512M",
  "ReadOnlyPaths=-/run/lock",
  "ProtectProc=invisible",
  "ProtectKernelTunables=yes",
  "ProtectKernelModules=yes",
  "ProtectKernelLogs=yes",
  "ProtectControlGroups=yes",
  "ProtectClock=yes",
  "ProtectHostname=yes",
  "RestrictSUIDSGID=yes",
  "RestrictNamespaces=yes",
  "RestrictRealtime=yes",
  "LockPersonality=yes",
  "SystemCallArchitectures=native",
  "CapabilityBoundingSet=",
  "RemoveIPC=yes",
  "UMask=0077",
];

/** the values of every `-p` in an argv */
const props = (args: string[]) => args.flatMap((a, i) => (args[i - 1] === "-p" ? [a] : []));

test("systemd-run command line for a dyno", () => {
  expect(systemdRunArgs(spec, 30_000)).toEqual([
    "--unit=dyno-shop-web.1-a1b2c3.service",
    "--description=dynoform dyno shop web.1",
    "--slice=dynoform.slice",
    "--quiet",
    "--uid=999",
    "--gid=998",
    "--working-directory=/var/lib/dynoform-agent/slugs/abc/app",
    "-p", "KillMode=control-group",
    "-p", "KillSignal=SIGTERM",
    "-p", "SendSIGKILL=yes",
    "-p", "TimeoutStopSec=30s",
    "-p", "MemoryAccounting=yes",
    "-p", "MemoryHigh=921M",
    "-p", "MemoryMax=1024M",
    "-p", "MemorySwapMax=0",
    "-p", "OOMPolicy=stop",
    "-p", "CPUWeight=100",
    "-p", "CPUQuota=100%",
    "-p", "TasksMax=256",
    ...SANDBOX.flatMap((p) => ["-p", p]),
    "-p", "StandardInput=null",
    "-p", "RemainAfterExit=yes",
    "-p", "StandardOutput=append:/var/lib/dynoform-agent/logs/dyno-shop-web.1-a1b2c3.log",
    "-p", "StandardError=append:/var/lib/dynoform-agent/logs/dyno-shop-web.1-a1b2c3.log",
    "--setenv=PORT=20001",
    "--setenv=DYNO=web.1",
    "--setenv=DATABASE_URL=postgres://u:p@10.0.0.4/shop",
    "--setenv=MULTI=a\nb",
    "--",
    "/bin/bash", "-c", WRAPPER, "dyno", "node server.js --port $PORT",
  ]);
});

test("sandboxed systemd-run: env in a root-only file, state dir hidden but the slug, host tokens inaccessible", () => {
  const sandbox = { envFile: "/var/lib/dynoform-agent/env/u.env", hide: ["/var/lib/dynoform-agent"], inaccessible: ["/etc/dynoform"] };
  const args = systemdRunArgs({ ...spec, stopTimeoutMs: 3000 }, 30_000, sandbox);
  expect(args.filter((a) => a.startsWith("--setenv"))).toEqual([]);
  expect(args).toContain("TimeoutStopSec=3s");
  const i = args.indexOf("StandardError=append:/var/lib/dynoform-agent/logs/dyno-shop-web.1-a1b2c3.log");
  expect(args.slice(i + 1, i + 9)).toEqual([
    "-p", "TemporaryFileSystem=/var/lib/dynoform-agent:ro",
    "-p", "BindReadOnlyPaths=/var/lib/dynoform-agent/slugs/abc/app",
    "-p", "InaccessiblePaths=-/etc/dynoform",
    "-p", "EnvironmentFile=/var/lib/dynoform-agent/env/u.env",
  ]);
  const attached = systemdRunAttachedArgs({ ...spec, logFile: undefined }, 30_000, sandbox);
  expect(attached).toContain("EnvironmentFile=/var/lib/dynoform-agent/env/u.env");
  expect(attached.filter((a) => a.startsWith("--setenv"))).toEqual([]);
  // systemd's EnvironmentFile quoting, checked against what bash makes of the same text
  const env = { A: 'pa$$ "q" \\ `t`', MULTI: "a\nb", EMPTY: "" };
  expect(environmentFile(env)).toBe('A="pa\\$\\$ \\"q\\" \\\\ \\`t\\`"\nMULTI="a\nb"\nEMPTY=""\n');
  const out = require("node:child_process").execFileSync("/bin/bash", ["-c", `${environmentFile(env)}printf '%s|' "$A" "$MULTI" "$EMPTY"`], { encoding: "utf8" });
  expect(out).toBe(`${env.A}|${env.MULTI}||`);
});

test("memory of a unit without MemoryCurrent: summed RSS of its cgroup's processes", () => {
  const root = tmpDir();
  fs.mkdirSync(path.join(root, "unified/dynoform.slice/u.service"), { recursive: true });
  fs.writeFileSync(path.join(root, "unified/dynoform.slice/u.service/cgroup.procs"), `${process.pid}\n`);
  const rss = cgroupRss("/dynoform.slice/u.service", root)!;
  expect(rss).toBeGreaterThan(10 << 20);
  expect(rss).toBeLessThan(8 * 2 ** 30);
  expect(cgroupRss("/nope.service", root)).toBeNull();
  expect(cgroupRss("", root)).toBeNull();
  fs.rmSync(root, { recursive: true, force: true });
});

test("systemd-run command line for a one-off dyno: the same sandbox and limits as its app's dynos", () => {
  const args = systemdRunAttachedArgs({ ...spec, unit: "dyno-shop-run.1-x", dyno: "run.1", logFile: undefined }, 30_000);
  expect(args.slice(0, 7)).toEqual(["--unit=dyno-shop-run.1-x.service", "--description=dynoform one-off shop run.1", "--slice=dynoform.slice", "--quiet", "--pipe", "--wait", "--collect"]);
  expect(args).not.toContain("RemainAfterExit=yes");
  expect(args).not.toContain("StandardInput=null");
  expect(args.slice(-5)).toEqual(["/bin/bash", "-c", WRAPPER, "dyno", spec.command]);
  const longRunning = props(systemdRunArgs(spec, 30_000)).filter((p) => !/^(StandardInput|StandardOutput|StandardError|RemainAfterExit)=/.test(p));
  expect(props(args)).toEqual(longRunning);
  expect(props(args)).toEqual(expect.arrayContaining([...SANDBOX, "CPUWeight=100", "CPUQuota=100%", "TasksMax=256"]));
});

test("per-size limits: Heroku's process/thread limits, its CPU share as a weight, a CPU ceiling per size", () => {
  const cfg = resolveConfig({ token: "x" });
  for (const size of ["eco", "basic", "standard-1x"]) expect(limitsFor(size, cfg)).toEqual({ tasksMax: 256, cpuWeight: 100, cpuQuotaPercent: 100 });
  expect(limitsFor("standard-2x", cfg)).toEqual({ tasksMax: 512, cpuWeight: 200, cpuQuotaPercent: 200 });
  expect(limitsFor("performance-m", cfg)).toEqual({ tasksMax: 16384, cpuWeight: 1200, cpuQuotaPercent: 200 });
  expect(limitsFor("performance-l", cfg)).toEqual({ tasksMax: 32768, cpuWeight: 5000, cpuQuotaPercent: 800 });
  // an operator's size without limits gets standard-1x's; a known size keeps its own when only its memory changes
  const custom = resolveConfig({ token: "x", sizes: { tiny: { memoryMb: 256 }, "performance-l": { memoryMb: 16384 }, big: { memoryMb: 4096, tasksMax: 4096, cpuWeight: 400, cpuQuotaPercent: 400 } } });
  expect(limitsFor("tiny", custom)).toEqual({ tasksMax: 256, cpuWeight: 100, cpuQuotaPercent: 100 });
  expect(limitsFor("performance-l", custom)).toEqual({ tasksMax: 32768, cpuWeight: 5000, cpuQuotaPercent: 800 });
  expect(limitsFor("big", custom)).toEqual({ tasksMax: 4096, cpuWeight: 400, cpuQuotaPercent: 400 });
  expect(() => resolveConfig({ token: "x", sizes: { odd: { memoryMb: 512, cpuWeight: 0 } } })).toThrow(/sizes\.odd: .*cpuWeight \(1\.\.10000\)/);
  // a standard-2x dyno's unit: its limits, and a /dev/shm no bigger than its memory quota
  const p = props(systemdRunArgs({ ...spec, memoryMb: 1024, limits: limitsFor("standard-2x", cfg) }, 30_000));
  expect(p).toEqual(expect.arrayContaining(["CPUWeight=200", "CPUQuota=200%", "TasksMax=512", "TemporaryFileSystem=/dev/shm:mode=1777,nosuid,nodev,size=1024M"]));
  const l = props(systemdRunArgs({ ...spec, memoryMb: 14336, limits: limitsFor("performance-l", cfg) }, 30_000));
  expect(l).toEqual(expect.arrayContaining(["CPUWeight=5000", "CPUQuota=800%", "TasksMax=32768"]));
});

test("the bash wrapper sources .profile.d and execs the command", () => {
  const dir = tmpDir();
  fs.mkdirSync(path.join(dir, ".profile.d"));
  fs.writeFileSync(path.join(dir, ".profile.d", "a.sh"), "export FROM_PROFILE=yes\n");
  const out = require("node:child_process").execFileSync("/bin/bash", ["-c", WRAPPER, "dyno", "echo $FROM_PROFILE $$ && exit 0"], { cwd: dir, encoding: "utf8" });
  expect(out.trim()).toMatch(/^yes \d+$/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("systemctl show parsing and exit interpretation", () => {
  const out = [
    "Id=dyno-a-web.1-x.service\nLoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nMainPID=42\nExecMainCode=0\nExecMainStatus=0\nMemoryCurrent=1048576",
    "Id=dyno-a-web.2-y.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code\nMainPID=0\nExecMainCode=1\nExecMainStatus=3\nMemoryCurrent=[not set]",
    "Id=dyno-a-web.3-z.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nResult=oom-kill\nMainPID=0\nExecMainCode=2\nExecMainStatus=9\nMemoryCurrent=[not set]",
    "Id=dyno-a-web.4-w.service\nLoadState=loaded\nActiveState=active\nSubState=exited\nResult=success\nMainPID=0\nExecMainCode=1\nExecMainStatus=0\nMemoryCurrent=0",
    "Id=dyno-a-web.5-v.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nResult=success\nMainPID=0\nExecMainCode=0\nExecMainStatus=0\nMemoryCurrent=[not set]",
  ].join("\n\n") + "\n";
  const s = parseShow(out);
  expect(s.map((x) => x.id)).toEqual(["dyno-a-web.1-x.service", "dyno-a-web.2-y.service", "dyno-a-web.3-z.service", "dyno-a-web.4-w.service", "dyno-a-web.5-v.service"]);
  expect(s[0].memoryCurrent).toBe(1048576);
  expect(s[0].mainPid).toBe(42);
  expect(exitFromState(s[0])).toBeNull();
  expect(exitFromState(s[1])).toEqual({ status: 3, signal: null, oom: false });
  expect(exitFromState(s[2])).toEqual({ status: 137, signal: "SIGKILL", oom: true });
  expect(exitFromState(s[3])).toEqual({ status: 0, signal: null, oom: false });
  expect(exitFromState(s[4])).toEqual({ status: null, signal: null, oom: false });
});

test("systemd supervisor drives systemctl/systemd-run with the expected commands", async () => {
  const calls: string[][] = [];
  let state = "ActiveState=active\nSubState=running\nExecMainCode=0\nExecMainStatus=0";
  const exec = async (cmd: string, args: string[]) => {
    calls.push([cmd, ...args]);
    if (cmd === "systemctl" && args[0] === "show") return `Id=${args[2]}\nLoadState=loaded\n${state}\nMainPID=77\nResult=success\nMemoryCurrent=2097152\n`;
    return "";
  };
  const sup = new SystemdSupervisor({ stopTimeoutMs: 30_000, pollMs: 20, exec });
  const ref = await sup.start(spec);
  expect(ref).toEqual({ supervisor: "systemd", unit: spec.unit, pid: 77 });
  expect(calls[0][0]).toBe("systemd-run");
  expect(calls[1]).toEqual(["systemctl", "show", "--property=Id,LoadState,ActiveState,SubState,Result,MainPID,ExecMainCode,ExecMainStatus,MemoryCurrent,ControlGroup", "dyno-shop-web.1-a1b2c3.service"]);
  expect(await sup.isRunning(ref)).toBe(true);
  expect(await sup.memoryBytes(ref)).toBe(2097152);
  await sup.kill(ref, "SIGTERM");
  expect(calls[calls.length - 1]).toEqual(["systemctl", "kill", "--signal=SIGTERM", "dyno-shop-web.1-a1b2c3.service"]);
  const exited = new Promise((r) => sup.onExit(ref, r));
  state = "ActiveState=failed\nSubState=failed\nExecMainCode=2\nExecMainStatus=15";
  expect(await exited).toEqual({ status: 143, signal: "SIGTERM", oom: false });
  await sup.reap(ref);
  expect(calls.slice(-2)).toEqual([
    ["systemctl", "stop", "dyno-shop-web.1-a1b2c3.service"],
    ["systemctl", "reset-failed", "dyno-shop-web.1-a1b2c3.service"],
  ]);
  sup.close();
});

test("restart policy: immediate first restart, exponential, capped, reset after a long run", () => {
  const p = new RestartPolicy({ baseMs: 20_000, maxMs: 20 * 60_000, resetAfterMs: 600_000 });
  expect([1, 2, 3, 4, 5, 8, 20].map((n) => p.delayMs(n))).toEqual([0, 20_000, 40_000, 80_000, 160_000, 1_200_000, 1_200_000]);
  expect(p.nextCount(3, 1000)).toBe(4);
  expect(p.nextCount(3, null)).toBe(4);
  expect(p.nextCount(5, 700_000)).toBe(1);
});

test("Heroku log format and bounded buffer", () => {
  expect(herokuTimestamp(new Date("2026-11-21T12:00:00.123Z"))).toBe("2026-11-21T12:00:00.123000+00:00");
  expect(herokuTimestamp(Date.UTC(2026, 10, 21, 12, 0, 0, 123) + 0.456)).toBe("2026-11-21T12:00:00.123456+00:00");
  expect(herokuTimestamp(Date.UTC(2026, 10, 21, 12, 0, 0, 999) + 0.999)).toBe("2026-11-21T12:00:00.999999+00:00");
  // Lines stamped in a row carry microseconds (not all `000`) and never go back.
  const stamps = Array.from({ length: 200 }, () => herokuTimestamp());
  expect(stamps.every((s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/.test(s))).toBe(true);
  expect(stamps.some((s) => !s.endsWith("000+00:00"))).toBe(true);
  expect([...stamps].sort()).toEqual(stamps);
  expect(formatLine("2026-11-21T12:00:00.000000+00:00", "heroku", "web.1", "State changed from starting to up")).toBe(
    "2026-11-21T12:00:00.000000+00:00 heroku[web.1]: State changed from starting to up",
  );
  const b = new LogBuffer(3);
  const seen: string[] = [];
  b.subscribe("a", (_app, l) => seen.push(l.msg));
  for (let i = 0; i < 5; i++) b.append("a", "app", "web.1", `line ${i}`);
  b.append("other", "app", "web.1", "elsewhere");
  expect(b.recent("a").map((l) => l.msg)).toEqual(["line 2", "line 3", "line 4"]);
  expect(b.recent("a", 1).map((l) => l.line)[0]).toMatch(/^\S+ app\[web\.1\]: line 4$/);
  expect(seen).toHaveLength(5);
});

test("log tailer: lines, partial lines, truncation", () => {
  const dir = tmpDir();
  const f = path.join(dir, "out.log");
  fs.writeFileSync(f, "old\n");
  const lines: string[] = [];
  const t = new LogTailer(f, (l) => lines.push(l), { pollMs: 1_000_000, fromEnd: true, maxBytes: 20 });
  t.start();
  fs.appendFileSync(f, "one\r\ntw");
  t.poll();
  expect(lines).toEqual(["one"]);
  fs.appendFileSync(f, "o\nthree is long enough\n");
  t.poll(); // past maxBytes: truncated
  expect(lines).toEqual(["one", "two", "three is long enough"]);
  expect(fs.statSync(f).size).toBe(0);
  fs.appendFileSync(f, "four");
  t.stop(true);
  expect(lines).toEqual(["one", "two", "three is long enough", "four"]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("config: file, env and flags", () => {
  const dir = tmpDir();
  const file = path.join(dir, "agent.json");
  fs.writeFileSync(path.join(dir, "tok"), "from-file\n");
  fs.writeFileSync(file, JSON.stringify({ tokenFile: path.join(dir, "tok"), address: "10.1.0.5", routers: [{ url: "http://10.1.0.2:8081" }], registrationToken: "this-hosts-credential", leaseMs: 9000 }));
  const c = loadConfig(["--config", file, "--ports", "21000-21099", "--supervisor", "process"], {});
  expect(c.token).toBe("from-file");
  expect(c.address).toBe("10.1.0.5");
  expect(c.portRange).toEqual([21000, 21099]);
  expect(c.routers).toEqual([{ url: "http://10.1.0.2:8081" }]);
  expect(c.renewMs).toBe(3000);
  const e = loadConfig(["--router", "http://r1:8081", "--router", "http://r2:8081"], { DYNOFORM_AGENT_TOKEN: "env-token", DYNOFORM_AGENT_STATE_DIR: "/tmp/x", DYNOFORM_AGENT_REGISTRATION_TOKEN: "cred" });
  expect(e.token).toBe("env-token");
  expect(e.stateDir).toBe("/tmp/x");
  expect(e.routers.map((r) => r.url)).toEqual(["http://r1:8081", "http://r2:8081"]);
  expect(() => loadConfig([], {})).toThrow(/token is required/);
  expect(() => loadConfig(["--bogus"], { DYNOFORM_AGENT_TOKEN: "x" })).toThrow(/unknown argument --bogus/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("desired state validation and sizes", () => {
  const cfg = resolveConfig({ token: "x" });
  const slug = { url: "http://c/s.tgz", sha256: "A".repeat(64) };
  const d = parseDesiredState({ release: 3, slug, processTypes: { web: "node a.js", worker: "node w.js" }, formation: { web: 2 }, dynos: ["worker.1"], size: { web: "standard-2x" } }, cfg);
  expect(d.dynos).toEqual(["worker.1", "web.1", "web.2"]);
  expect(d.slug!.sha256).toBe("a".repeat(64));
  expect(sizeFor(d, "web", cfg)).toEqual({ size: "standard-2x", memoryMb: 1024 });
  expect(sizeFor(d, "worker", cfg)).toEqual({ size: "standard-1x", memoryMb: 512 });
  expect(() => parseDesiredState({ release: 1, dynos: ["web.1"], processTypes: { web: "x" } }, cfg)).toThrow(/slug is required/);
  expect(() => parseDesiredState({ release: 1, slug, dynos: ["web.1"], processTypes: { web: "x" }, size: "huge" }, cfg)).toThrow(/unknown dyno size "huge"/);
  expect(() => parseDesiredState({ release: 1, slug, env: { A: 1 } }, cfg)).toThrow(/env.A must be a string/);
  expect(() => parseDesiredState({ release: 1, slug, dynos: ["run.1"], processTypes: { run: "x" } }, cfg)).toThrow(/reserved/);
});

test("app users: names, useradd arguments, lookup, fixed dyno user", async () => {
  expect(appUserName("shop")).toBe("dyno-shop");
  expect(appUserName("a-very-long-application-name-x").length).toBeLessThanOrEqual(32);
  expect(useraddArgs("dyno-shop")).toEqual(["--system", "--user-group", "-K", "SYS_UID_MIN=3000000", "-K", "SYS_UID_MAX=3099999", "-K", "SYS_GID_MIN=3000000", "-K", "SYS_GID_MAX=3099999", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", "dynoform app user", "dyno-shop"]);
  const dir = tmpDir();
  const passwd = path.join(dir, "passwd");
  fs.writeFileSync(passwd, "root:x:0:0:root:/root:/bin/bash\ndyno-shop:x:990:990::/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534::/:/usr/sbin/nologin\n");
  expect(lookupUser("dyno-shop", passwd)).toEqual({ name: "dyno-shop", uid: 990, gid: 990 });
  expect(await new UserManager({ appUsers: true, prefix: "dyno-" }, passwd).forApp("shop")).toEqual({ name: "dyno-shop", uid: 990, gid: 990 });
  expect(await new UserManager({ appUsers: false, dynoUser: "nobody", prefix: "dyno-" }, passwd).forApp("shop")).toEqual({ name: "nobody", uid: 65534, gid: 65534 });
  expect(await new UserManager({ appUsers: false, prefix: "dyno-" }, passwd).forApp("shop")).toBeUndefined();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("slug store: download, sha256 and unpack in one pass; multi-member gzip; nothing kept from a bad slug", async () => {
  const dir = tmpDir();
  const src = path.join(dir, "src");
  fs.mkdirSync(path.join(src, "lib"), { recursive: true });
  fs.writeFileSync(path.join(src, "web.js"), "console.log(1)\n");
  fs.writeFileSync(path.join(src, "lib", "big"), Buffer.alloc(3 * 1024 * 1024, 1));
  const tarOf = (entries: string[]) => {
    const out = path.join(dir, "t.tar");
    tar.c({ cwd: src, sync: true, portable: true, noDirRecurse: true, file: out }, entries);
    return fs.readFileSync(out);
  };
  const head = tarOf(["./", "lib", "lib/big"]);
  // two gzip members, as the control role writes slugs with a cached runtime layer
  const body = Buffer.concat([zlib.gzipSync(head.subarray(0, head.length - 1024)), zlib.gzipSync(tarOf(["web.js"]))]);
  const file = (name: string, data: Buffer) => {
    fs.writeFileSync(path.join(dir, name), data);
    return { url: `file://${path.join(dir, name)}`, sha256: crypto.createHash("sha256").update(data).digest("hex") };
  };
  const store = new SlugStore(path.join(dir, "slugs"));
  const good = file("good.tgz", body);
  const app = await store.prepare(good);
  expect(fs.readFileSync(path.join(app, "web.js"), "utf8")).toBe("console.log(1)\n");
  expect(fs.statSync(path.join(app, "lib", "big")).size).toBe(3 * 1024 * 1024);
  expect(fs.statSync(app).mode & 0o777).toBe(0o555);

  const garbage = file("garbage.tgz", Buffer.concat([body.subarray(0, 1000), Buffer.alloc(5000, 9)]));
  await expect(store.prepare({ url: garbage.url, sha256: good.sha256.replace(/^./, (c) => (c === "0" ? "1" : "0")) })).rejects.toThrow(/checksum mismatch .*refusing to run it/);
  await expect(store.prepare(garbage)).rejects.toThrow(/is not a valid gzip tarball/);
  await expect(store.prepare({ url: `file://${path.join(dir, "missing.tgz")}`, sha256: good.sha256.replace(/^./, (c) => (c === "0" ? "1" : "0")) })).rejects.toThrow(/download .* failed/);
  expect(fs.readdirSync(path.join(dir, "slugs")).sort()).toEqual([good.sha256]);
});

test("slug store: a layer unpacked before is hard-linked, not decompressed again; its bytes are still checked", async () => {
  const dir = tmpDir();
  const src = path.join(dir, "src");
  fs.mkdirSync(path.join(src, ".heroku", "node", "bin"), { recursive: true });
  fs.writeFileSync(path.join(src, ".heroku", "node", "bin", "node"), Buffer.alloc(2 * 1024 * 1024, 3), { mode: 0o755 });
  fs.symlinkSync("node", path.join(src, ".heroku", "node", "bin", "nodejs"));
  const tarOf = (entries: string[]) => {
    const out = path.join(dir, "t.tar");
    tar.c({ cwd: src, sync: true, portable: true, noDirRecurse: true, file: out }, entries);
    const b = fs.readFileSync(out);
    return b.subarray(0, b.length - 1024);
  };
  const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");
  const head = zlib.gzipSync(tarOf(["./", ".heroku"]));
  const layer = zlib.gzipSync(tarOf([".heroku/node", ".heroku/node/bin", ".heroku/node/bin/node", ".heroku/node/bin/nodejs"]));
  const slugWith = (name: string, web: string) => {
    fs.writeFileSync(path.join(src, "web.js"), web);
    const body = Buffer.concat([head, layer, zlib.gzipSync(Buffer.concat([tarOf(["web.js"]), Buffer.alloc(1024)]))]);
    fs.writeFileSync(path.join(dir, name), body);
    return { url: `file://${path.join(dir, name)}`, sha256: sha(body), layers: [{ path: ".heroku/node", offset: head.length, length: layer.length, sha256: sha(layer) }] };
  };
  const lines: string[] = [];
  const store = new SlugStore(path.join(dir, "slugs"));
  store.log = (l) => lines.push(l);
  const one = slugWith("one.tgz", "1");
  const a = await store.prepare(one);
  expect(lines.pop()).not.toMatch(/linked/);
  const two = slugWith("two.tgz", "2");
  // restarted agent: the index is on disk
  const again = new SlugStore(path.join(dir, "slugs"));
  again.log = (l) => lines.push(l);
  const b = await again.prepare(two);
  expect(lines.pop()).toMatch(/\.heroku\/node linked from an unpacked slug/);
  expect(fs.readFileSync(path.join(b, "web.js"), "utf8")).toBe("2");
  expect(fs.statSync(path.join(b, ".heroku/node/bin/node")).ino).toBe(fs.statSync(path.join(a, ".heroku/node/bin/node")).ino);
  expect(fs.readlinkSync(path.join(b, ".heroku/node/bin/nodejs"))).toBe("node");
  expect(fs.statSync(path.join(b, ".heroku/node/bin")).mode & 0o777).toBe(0o555);
  // the old slug is collected; the new one keeps its files
  new SlugStore(path.join(dir, "slugs"), 0).gc([two.sha256]);
  expect(fs.existsSync(a)).toBe(false);
  expect(fs.statSync(path.join(b, ".heroku/node/bin/node")).size).toBe(2 * 1024 * 1024);

  // a layer whose bytes differ from the one unpacked before is refused, even with a matching slug sha256
  const three = slugWith("three.tgz", "3");
  const forged = { ...three, layers: [{ ...three.layers[0], sha256: sha(layer) }] };
  const evil = Buffer.from(fs.readFileSync(path.join(dir, "three.tgz")));
  evil[head.length + 20] ^= 1;
  fs.writeFileSync(path.join(dir, "three.tgz"), evil);
  await expect(again.prepare({ ...forged, sha256: sha(evil) })).rejects.toThrow(/layer \.heroku\/node at \d+ expected sha256 .*refusing to run it/);
  expect(fs.readdirSync(path.join(dir, "slugs")).filter((f) => f.startsWith(".partial"))).toEqual([]);
});
