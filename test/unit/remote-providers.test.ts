// The dynamic providers' CRUD, called directly against a real sshd (files in temp dirs).
import * as fs from "fs";
import * as path from "path";
import { aptPackagesProvider, AptInputs, AptOutputs, installScript } from "../../components/remote/apt-provider";
import { commandScript, CommandInputs, CommandOutputs, remoteCommandProvider } from "../../components/remote/command-provider";
import { FileInputs, FileOutputs, remoteFileProvider } from "../../components/remote/file-provider";
import { retryLostConnection, sha256 } from "../../components/remote/provider-kit";
import { ServiceInputs, ServiceOutputs, systemdServiceProvider } from "../../components/remote/systemd-provider";
import { startSshd, TestSshd } from "../support/sshd";

jest.setTimeout(30_000);

let sshd: TestSshd;
let fakeBin: string;
beforeAll(async () => {
    fakeBin = fs.mkdtempSync("/tmp/dynoform-fakebin-");
    writeFakeSystemd(fakeBin);
    sshd = await startSshd({ name: "edge-1", sessionPath: `${fakeBin}:/usr/sbin:/usr/bin:/sbin:/bin` });
});
afterAll(async () => {
    await sshd?.stop();
    fs.rmSync(fakeBin, { recursive: true, force: true });
});

const version = "v1";

describe("RemoteFile provider", () => {
    const check = (news: Partial<FileInputs>) => remoteFileProvider.check!({} as FileInputs, news as FileInputs);

    test("check fills defaults and rejects bad paths, modes and owners", async () => {
        const ok = await check({ connection: sshd.connection, path: "/x/y.conf", content: "", providerVersion: version, mode: "600" });
        expect(ok.failures).toEqual([]);
        expect(ok.inputs).toMatchObject({ mode: "0600", owner: "root:root" });
        const bad = await check({ connection: sshd.connection, path: "relative", content: "", providerVersion: version, mode: "rw", owner: "root" });
        expect(bad.failures!.map((f) => f.property)).toEqual(["path", "mode", "owner"]);
    });

    test("create, diff, update, read and delete", async () => {
        const target = path.join(sshd.dir, "etc", "app.conf");
        const inputs = (await check({ connection: sshd.connection, path: target, content: "a=1\n", providerVersion: version })).inputs!;

        const created = await remoteFileProvider.create(inputs);
        expect(created.id).toBe(`edge-1:${target}`);
        expect(created.outs).toEqual({
            connection: sshd.connection, path: target, mode: "0644", owner: "root:root", providerVersion: version, sha256: sha256("a=1\n"),
        });
        expect(created.outs).not.toHaveProperty("content");
        expect(fs.readFileSync(target, "utf8")).toBe("a=1\n");
        const olds = created.outs as FileOutputs;

        expect(await remoteFileProvider.diff!(created.id, olds, inputs)).toEqual({ changes: false, replaces: [] });
        expect(await remoteFileProvider.diff!(created.id, olds, { ...inputs, content: "a=2\n" })).toEqual({ changes: true, replaces: [] });
        expect(await remoteFileProvider.diff!(created.id, olds, { ...inputs, providerVersion: "v2" })).toEqual({ changes: true, replaces: [] });
        expect(await remoteFileProvider.diff!(created.id, olds, { ...inputs, path: target + ".new" })).toEqual({ changes: true, replaces: ["path"] });
        expect(
            await remoteFileProvider.diff!(created.id, olds, { ...inputs, connection: { ...sshd.connection, name: "edge-2" } }),
        ).toEqual({ changes: true, replaces: ["connection"] });

        const updated = await remoteFileProvider.update!(created.id, olds, { ...inputs, content: "a=2\n", mode: "0600" });
        expect(updated.outs).toMatchObject({ sha256: sha256("a=2\n"), mode: "0600" });
        expect(fs.readFileSync(target, "utf8")).toBe("a=2\n");
        expect((fs.statSync(target).mode & 0o777).toString(8)).toBe("600");

        fs.chmodSync(target, 0o640);
        const read = await remoteFileProvider.read!(created.id, updated.outs as FileOutputs);
        expect(read.props).toMatchObject({ sha256: sha256("a=2\n"), mode: "0640", owner: "root:root" });
        fs.rmSync(target);
        const readMissing = await remoteFileProvider.read!(created.id, updated.outs as FileOutputs);
        expect(readMissing.props!.sha256).toBe("absent");

        await remoteFileProvider.create(inputs);
        await remoteFileProvider.delete!(created.id, updated.outs as FileOutputs);
        expect(fs.existsSync(target)).toBe(false);
    });

    test("keepOriginal: a package's file is kept beside ours at the first write and put back on delete", async () => {
        const target = path.join(sshd.dir, "etc", "nginx.conf");
        const original = `${target}.dynoform-original`;
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, "package's own\n", { mode: 0o640 });
        const inputs = (await check({ connection: sshd.connection, path: target, content: "ours\n", providerVersion: version, keepOriginal: true })).inputs!;
        const created = await remoteFileProvider.create(inputs);
        expect(created.outs).toMatchObject({ keepOriginal: true, sha256: sha256("ours\n") });
        expect(fs.readFileSync(target, "utf8")).toBe("ours\n");
        expect(fs.readFileSync(original, "utf8")).toBe("package's own\n");
        expect((fs.statSync(original).mode & 0o777).toString(8)).toBe("640");
        // Later writes (and a create again, e.g. an interrupted first run) never overwrite the kept original with ours.
        const updated = await remoteFileProvider.update!(created.id, created.outs as FileOutputs, { ...inputs, content: "ours, v2\n" });
        await remoteFileProvider.create({ ...inputs, content: "ours, v2\n" });
        expect(fs.readFileSync(original, "utf8")).toBe("package's own\n");
        await remoteFileProvider.delete!(created.id, updated.outs as FileOutputs);
        expect(fs.readFileSync(target, "utf8")).toBe("package's own\n");
        expect(fs.existsSync(original)).toBe(false);
        // A delete runs again when its connection was lost midway: the original put back stays.
        await remoteFileProvider.delete!(created.id, updated.outs as FileOutputs);
        expect(fs.readFileSync(target, "utf8")).toBe("package's own\n");
        // Nothing was there before: nothing to put back, ours goes.
        fs.rmSync(target);
        const fresh = await remoteFileProvider.create(inputs);
        expect(fs.existsSync(original)).toBe(false);
        await remoteFileProvider.delete!(fresh.id, fresh.outs as FileOutputs);
        expect(fs.existsSync(target)).toBe(false);
    });

    test("a change of provider version alone rewrites nothing", async () => {
        const target = path.join(sshd.dir, "untouched.conf");
        const inputs = (await check({ connection: sshd.connection, path: target, content: "x\n", providerVersion: version })).inputs!;
        const created = await remoteFileProvider.create(inputs);
        fs.writeFileSync(target, "hand edit\n");
        const updated = await remoteFileProvider.update!(created.id, created.outs as FileOutputs, { ...inputs, providerVersion: "v2" });
        expect(updated.outs!.providerVersion).toBe("v2");
        expect(fs.readFileSync(target, "utf8")).toBe("hand edit\n");
    });
});

describe("deletes whose connection is lost midway", () => {
    const lost = () => new Error("edge-1 (10.213.2.10:22): connection lost while running systemctl disable --now keepalived: Keepalive timeout");

    test("run again on a new connection, up to three times", async () => {
        const warn = jest.spyOn(console, "error").mockImplementation(() => undefined);
        let runs = 0;
        await expect(retryLostConnection(async () => { if (++runs < 3) throw lost(); return "done"; })).resolves.toBe("done");
        expect(runs).toBe(3);
        runs = 0;
        await expect(retryLostConnection(async () => { runs++; throw lost(); })).rejects.toThrow(/Keepalive timeout/);
        expect(runs).toBe(3);
        warn.mockRestore();
    });

    test("any other failure is not retried", async () => {
        let runs = 0;
        await expect(retryLostConnection(async () => { runs++; throw new Error("edge-1: rm failed (exit 1)"); })).rejects.toThrow(/rm failed/);
        expect(runs).toBe(1);
    });
});

describe("AptPackages provider", () => {
    test("check sorts, dedupes and validates package names", async () => {
        const checked = await aptPackagesProvider.check!({} as AptInputs, {
            connection: sshd.connection, packages: ["nginx", "curl", "nginx"], providerVersion: version,
        } as AptInputs);
        expect(checked.inputs).toMatchObject({ packages: ["curl", "nginx"], purgeOnDelete: false });
        const bad = await aptPackagesProvider.check!({} as AptInputs, { packages: ["ok", "Bad Name"] } as AptInputs);
        expect(bad.failures).toEqual([{ property: "packages", reason: "invalid package names: Bad Name" }]);
    });

    test("packages already installed: no apt-get, versions reported", async () => {
        const inputs: AptInputs = { connection: sshd.connection, packages: ["coreutils", "openssh-server"], purgeOnDelete: false, providerVersion: version };
        const created = await aptPackagesProvider.create(inputs);
        const outs = created.outs as AptOutputs;
        expect(Object.keys(outs.versions)).toEqual(["coreutils", "openssh-server"]);
        expect(outs.versions.coreutils).toMatch(/^\d/);
        expect(await aptPackagesProvider.diff!(created.id, outs, inputs)).toEqual({ changes: false, replaces: [] });
        const missingAfterRefresh = { ...outs, versions: { coreutils: outs.versions.coreutils } };
        expect((await aptPackagesProvider.diff!(created.id, missingAfterRefresh, inputs)).changes).toBe(true);
    });

    test("install script: update only when lists are stale, lock wait, no recommends", () => {
        const script = installScript(["nginx", "varnish"]);
        expect(script).toContain("for p in nginx varnish; do");
        expect(script).toContain("-mmin -360");
        expect(script).toContain("DPkg::Lock::Timeout=600");
        expect(script).toContain("install -y --no-install-recommends $missing");
        expect(script).toContain("DEBIAN_FRONTEND=noninteractive");
        expect(script).toContain("flock -w 900 9");
    });

    test("delete keeps packages (and does not even connect) unless purgeOnDelete", async () => {
        const unreachable = { ...sshd.connection, port: 1 };
        await expect(
            aptPackagesProvider.delete!("x", { connection: unreachable, packages: ["nginx"], purgeOnDelete: false, providerVersion: version, versions: {} }),
        ).resolves.toBeUndefined();
    });
});

describe("SystemdService provider (fake systemctl)", () => {
    const log = () => fs.readFileSync(path.join(fakeBin, "systemctl.log"), "utf8").trim().split("\n");
    const resetLog = () => fs.writeFileSync(path.join(fakeBin, "systemctl.log"), "");
    const setState = (state: string) => fs.writeFileSync(path.join(fakeBin, "state"), state + "\n");

    async function checked(news: Partial<ServiceInputs>): Promise<ServiceInputs> {
        const result = await systemdServiceProvider.check!({} as ServiceInputs, {
            connection: sshd.connection, providerVersion: version, systemDirectory: path.join(sshd.dir, "systemd"), ...news,
        } as ServiceInputs);
        expect(result.failures).toEqual([]);
        return result.inputs!;
    }

    test("create writes unit + drop-in, enables, restarts and verifies; delete undoes it", async () => {
        resetLog();
        setState("active");
        const inputs = await checked({ unit: "dynoform-router.service", unitFile: "[Service]\nExecStart=/bin/true\n", dropIn: "[Service]\nEnvironment=TOKEN=s3cret\n" });
        const created = await systemdServiceProvider.create(inputs);
        expect(created.id).toBe("edge-1:dynoform-router.service");
        const unitDir = path.join(sshd.dir, "systemd");
        expect(fs.readFileSync(path.join(unitDir, "dynoform-router.service"), "utf8")).toContain("ExecStart=/bin/true");
        const dropIn = path.join(unitDir, "dynoform-router.service.d", "dynoform.conf");
        expect((fs.statSync(dropIn).mode & 0o777).toString(8)).toBe("600");
        expect(log()).toEqual(["daemon-reload", "enable dynoform-router", "restart dynoform-router", "is-active dynoform-router"]);
        const outs = created.outs as ServiceOutputs;
        expect(outs).toMatchObject({ unit: "dynoform-router", active: true, enabled: true, dropInSha256: sha256("[Service]\nEnvironment=TOKEN=s3cret\n") });
        expect(JSON.stringify(outs)).not.toContain("s3cret");

        resetLog();
        await systemdServiceProvider.delete!(created.id, outs);
        expect(fs.existsSync(path.join(unitDir, "dynoform-router.service"))).toBe(false);
        expect(fs.existsSync(dropIn)).toBe(false);
        expect(log()).toEqual(["disable --now dynoform-router", "daemon-reload"]);
    });

    test("triggers: restart on restartTriggers, reload on reloadTriggers, nothing on provider version", async () => {
        setState("active");
        const inputs = await checked({ unit: "nginx", restartTriggers: ["a"], reloadTriggers: ["x"] });
        const created = await systemdServiceProvider.create(inputs);
        const olds = created.outs as ServiceOutputs;

        resetLog();
        await systemdServiceProvider.update!(created.id, olds, { ...inputs, restartTriggers: ["b"] });
        expect(log()).toEqual(["restart nginx", "is-active nginx"]);

        resetLog();
        await systemdServiceProvider.update!(created.id, olds, { ...inputs, reloadTriggers: ["y"] });
        expect(log()).toEqual(["reload-or-restart nginx", "is-active nginx"]);

        resetLog();
        expect(await systemdServiceProvider.diff!(created.id, olds, { ...inputs, providerVersion: "v2" })).toEqual({ changes: true, replaces: [] });
        await systemdServiceProvider.update!(created.id, olds, { ...inputs, providerVersion: "v2" });
        expect(log()).toEqual([""]);
        expect(await systemdServiceProvider.diff!(created.id, olds, inputs)).toEqual({ changes: false, replaces: [] });
    });

    test("onUnitChange reload: a new unit file reloads the service instead of restarting it", async () => {
        setState("active");
        const unitFile = "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\nExecReload=/bin/true\n";
        const inputs = await checked({ unit: "dynoform-firewall", unitFile, onUnitChange: "reload" });
        resetLog();
        const created = await systemdServiceProvider.create(inputs);
        expect(log()).toEqual(["daemon-reload", "enable dynoform-firewall", "reload-or-restart dynoform-firewall", "is-active dynoform-firewall"]);

        resetLog();
        await systemdServiceProvider.update!(created.id, created.outs as ServiceOutputs, { ...inputs, unitFile: `${unitFile}# v2\n` });
        expect(log()).toEqual(["daemon-reload", "reload-or-restart dynoform-firewall", "is-active dynoform-firewall"]);

        // A dead service still starts over.
        resetLog();
        await systemdServiceProvider.update!(created.id, { ...(created.outs as ServiceOutputs), active: false }, { ...inputs, unitFile: `${unitFile}# v3\n` });
        expect(log()).toEqual(["daemon-reload", "restart dynoform-firewall", "is-active dynoform-firewall"]);
        expect((await systemdServiceProvider.check!({} as ServiceInputs, { ...inputs, onUnitChange: "bounce" } as unknown as ServiceInputs)).failures).toEqual([
            { property: "onUnitChange", reason: 'must be "restart" or "reload", got "bounce"' },
        ]);
    });

    test("a service that does not come up fails with its journal tail", async () => {
        setState("failed");
        const inputs = await checked({ unit: "varnish" });
        await expect(systemdServiceProvider.create(inputs)).rejects.toThrow(
            /edge-1 \(127\.0\.0\.1:\d+\): command failed \(exit 3\): systemctl is-active varnish — stderr tail: varnish is failed; journalctl -u varnish -n 20:\nfake journal: -u varnish -n 20 --no-pager/,
        );
    });

    test("refresh sees a dead service and the next update restarts it", async () => {
        setState("active");
        const inputs = await checked({ unit: "memcached" });
        const created = await systemdServiceProvider.create(inputs);
        setState("inactive");
        const read = await systemdServiceProvider.read!(created.id, created.outs as ServiceOutputs);
        expect(read.props).toMatchObject({ active: false, enabled: true });
        expect(await systemdServiceProvider.diff!(created.id, read.props as ServiceOutputs, inputs)).toEqual({ changes: true, replaces: [] });
        setState("active");
        resetLog();
        await systemdServiceProvider.update!(created.id, read.props as ServiceOutputs, inputs);
        expect(log()).toEqual(["restart memcached", "is-active memcached"]);
    });
});

describe("RemoteCommand provider", () => {
    const marker = () => path.join(sshd.dir, "runs.log");

    test("create runs with the environment from stdin; update/delete; version-only change does not re-run", async () => {
        const inputs: CommandInputs = {
            connection: sshd.connection,
            create: `echo "create $GREETING" >> ${marker()}; echo out; echo err >&2`,
            update: `echo "update $GREETING" >> ${marker()}`,
            delete: `echo "delete $GREETING" >> ${marker()}`,
            environment: { GREETING: "it's a secret" },
            providerVersion: version,
        };
        const created = await remoteCommandProvider.create(inputs);
        expect(created.outs).toMatchObject({ stdout: "out", stderr: "err" });
        const olds = created.outs as CommandOutputs;

        expect(await remoteCommandProvider.diff!(created.id, olds, inputs)).toEqual({ changes: false, replaces: [] });
        expect(await remoteCommandProvider.diff!(created.id, olds, { ...inputs, triggers: [1] })).toEqual({ changes: true, replaces: [] });
        await remoteCommandProvider.update!(created.id, olds, { ...inputs, providerVersion: "v2" });
        await remoteCommandProvider.update!(created.id, olds, { ...inputs, triggers: [1] });
        await remoteCommandProvider.delete!(created.id, olds);
        expect(fs.readFileSync(marker(), "utf8")).toBe("create it's a secret\nupdate it's a secret\ndelete it's a secret\n");
    });

    test("the environment is not on the command line", () => {
        expect(commandScript("run", { TOKEN: "a b" })).toBe("export TOKEN='a b'\nrun\n");
    });

    test("a failing command reports its stderr tail", async () => {
        await expect(
            remoteCommandProvider.create({ connection: sshd.connection, create: "echo broken >&2; exit 7", providerVersion: version }),
        ).rejects.toThrow(/command failed \(exit 7\): echo broken >&2; exit 7 — stderr tail: broken$/);
    });

    test("a create whose connection is cut midway runs again on a new connection, and says so", async () => {
        const cut = path.join(sshd.dir, "cut-once");
        const runs = path.join(sshd.dir, "cut-runs.log");
        // The first run kills its own sshd session process (the nearest sshd ancestor): the channel
        // closes with no exit status, as when a host's sshd stops answering and the client gives up.
        const killSession = 'p=$$; while [ "$p" -gt 1 ]; do case "$(cat /proc/$p/comm)" in sshd*) kill -9 "$p"; sleep 5;; esac; p=$(cut -d" " -f4 /proc/$p/stat); done';
        const warn = jest.spyOn(console, "error").mockImplementation(() => undefined);
        const created = await remoteCommandProvider.create({
            connection: sshd.connection,
            create: `echo run >> ${runs}; if [ ! -e ${cut} ]; then touch ${cut}; ${killSession}; fi; echo done`,
            label: "useradd of edge-1",
            providerVersion: version,
        });
        expect(created.outs).toMatchObject({ stdout: "done" });
        expect(fs.readFileSync(runs, "utf8")).toBe("run\nrun\n");
        expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
            expect.stringMatching(/^warning: edge-1 \([^)]*\): connection lost while running useradd of edge-1: the connection closed before the command's exit status; trying again on a new connection \(2 of 3\)$/),
        ]);
        warn.mockRestore();
    });

    test("a label names the command in its error instead of its text", async () => {
        await expect(
            remoteCommandProvider.create({ connection: sshd.connection, create: "# a long script\necho not ready >&2; exit 1", label: "preflight of edge-1", providerVersion: version }),
        ).rejects.toThrow(/^edge-1 \([^)]*\): command failed \(exit 1\): preflight of edge-1 — stderr tail: not ready$/);
    });
});

function writeFakeSystemd(bin: string): void {
    fs.writeFileSync(
        path.join(bin, "systemctl"),
        [
            "#!/bin/sh",
            `echo "$*" >> ${bin}/systemctl.log`,
            `state=$(cat ${bin}/state 2>/dev/null || echo active)`,
            `case "$1" in`,
            `  is-active) echo "$state"; [ "$state" = active ] ;;`,
            `  is-enabled) echo enabled ;;`,
            `  *) exit 0 ;;`,
            `esac`,
            "",
        ].join("\n"),
        { mode: 0o755 },
    );
    fs.writeFileSync(path.join(bin, "journalctl"), `#!/bin/sh\necho "fake journal: $*"\n`, { mode: 0o755 });
}
