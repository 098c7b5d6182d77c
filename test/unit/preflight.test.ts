// The servers target's preflight (components/hosts/preflight.ts): the check script run for real
// against a fake machine (a directory standing for /, fake commands first on PATH), and, under
// Pulumi's mocks, that everything on a host waits for its check.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig } from "../../components/config/stack_config";
import { MIN_FREE_MB, preflightScript, removeHostScript, STACK_DIRECTORIES } from "../../components/hosts/preflight";
import type { Host } from "../../components/hosts/host";
import { value } from "../support/outputs";
import { fakeHost, platformOnFakeHosts, recordResources } from "../support/platform_mocks";

const BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n';

interface FakeMachine {
    osRelease?: string;
    pid1?: string;
    /** `ip -o -4 addr show` lines' addresses. */
    addresses?: string[];
    freeKb?: number;
    sources?: string;
    /** What `dpkg --audit` prints. */
    audit?: string;
    nftablesEnabled?: boolean;
    nftablesConf?: string;
    /** Commands hidden from PATH. */
    missing?: string[];
    /** More files, by path under /. */
    files?: Record<string, string>;
}

let tmp: string;
beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-preflight-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs the rendered script for host `dyno-1` (private address 10.0.0.21) on a fake machine. */
function preflight(machine: FakeMachine): { code: number | null; stdout: string; stderr: string } {
    const dir = fs.mkdtempSync(path.join(tmp, "m-"));
    const root = path.join(dir, "root");
    const bin = path.join(dir, "bin");
    const write = (rel: string, text: string, mode = 0o644) => {
        fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        fs.writeFileSync(path.join(root, rel), text, { mode });
    };
    if (machine.osRelease !== "") write("etc/os-release", machine.osRelease ?? BOOKWORM);
    write("proc/1/comm", `${machine.pid1 ?? "systemd"}\n`);
    if ((machine.pid1 ?? "systemd") === "systemd") fs.mkdirSync(path.join(root, "run/systemd/system"), { recursive: true });
    write("etc/apt/sources.list", machine.sources ?? "deb http://deb.debian.org/debian bookworm main\n");
    if (machine.nftablesConf !== undefined) write("etc/nftables.conf", machine.nftablesConf);
    for (const [rel, text] of Object.entries(machine.files ?? {})) write(rel, text);
    fs.mkdirSync(bin);
    const fake = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    const addresses = machine.addresses ?? ["127.0.0.1/8", "10.0.0.21/24"];
    fake("ip", addresses.map((a, i) => `echo '${i + 1}: eth${i}    inet ${a} brd 10.0.0.255 scope global eth${i}\\       valid_lft forever preferred_lft forever'`).join("\n"));
    fake("df", `echo 'Filesystem 1024-blocks Used Available Capacity Mounted on'\necho '/dev/sda1 20000000 1000000 ${machine.freeKb ?? 10_000_000} 10% /'`);
    fake("dpkg", `[ "$1" = --audit ] && printf '%s' '${machine.audit ?? ""}'`);
    fake("systemctl", `[ "$1 $2 $3" = "is-enabled --quiet nftables.service" ] && exit ${machine.nftablesEnabled ? 0 : 1}\nexit 0`);
    fake("id", `case "$1" in -u) echo 0 ;; -un) echo root ;; esac`);
    for (const c of ["apt-get", "dpkg-query", "systemd-run", "pkill", "useradd", "userdel", "runuser", "mountpoint", "flock", "getent"]) fake(c, "exit 0");
    // PATH: the fakes, then a directory of links to this machine's own tools, minus the missing ones.
    const tools = path.join(dir, "tools");
    fs.mkdirSync(tools);
    for (const c of ["sh", "sed", "tr", "head", "cat", "awk", "grep", "find", "tar", "gzip", "sha256sum", "printf", "dirname"]) {
        const real = spawnSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" }).stdout.trim();
        if (real.startsWith("/") && !(machine.missing ?? []).includes(c)) fs.symlinkSync(real, path.join(tools, c));
    }
    for (const c of machine.missing ?? []) fs.rmSync(path.join(bin, c), { force: true });
    const r = spawnSync("/bin/sh", ["-c", preflightScript("dyno-1", "10.0.0.21")], {
        encoding: "utf8",
        env: { PATH: `${bin}:${tools}`, DYNOFORM_PREFLIGHT_ROOT: root },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("preflight script (a fake machine)", () => {
    test("a plain Debian 12 machine with its private address is ready, and says what it checked", () => {
        expect(preflight({})).toEqual({ code: 0, stdout: "dyno-1: Debian 12, systemd, private address 10.0.0.21, 9765 MB free on /: ready\n", stderr: "" });
    });

    test("every problem at once, each naming what is missing and the fix", () => {
        const r = preflight({
            osRelease: 'PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nVERSION_ID="24.04"\n',
            pid1: "init",
            addresses: ["127.0.0.1/8", "203.0.113.21/24"],
            freeKb: 500 * 1024,
            sources: "# nothing\n",
            audit: "The following packages are only half configured",
            nftablesEnabled: true,
            nftablesConf: "#!/usr/sbin/nft -f\n\nflush ruleset\n",
            missing: ["pkill", "tar"],
        });
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        const lines = r.stderr.trimEnd().split("\n");
        expect(lines[0]).toBe("dyno-1 is not ready for dynoform:");
        expect(lines.slice(1)).toEqual([
            "  - it runs Ubuntu 24.04 LTS, not Debian 12 (bookworm): dynoform installs bookworm's packages (nginx, Varnish, PostgreSQL 15) and relies on its systemd; install Debian 12 on it",
            "  - its PID 1 is init, not systemd: dynoform's services and every dyno are systemd units; boot it with systemd (apt-get install systemd-sysv, then reboot)",
            "  - commands missing: tar pkill: apt-get install tar procps",
            "  - its private address 10.0.0.21 is on none of its interfaces (it has: 127.0.0.1/8 203.0.113.21/24): set privateAddress of dyno-1 in dynoform:hosts to its address on dynoform:privateSubnet, or configure 10.0.0.21 on its private interface",
            "  - dpkg has packages that are not fully installed (dpkg --audit lists them): run dpkg --configure -a (then apt-get -f install) on it",
            "  - apt has no Debian package source: add 'deb http://deb.debian.org/debian bookworm main' and 'deb http://security.debian.org/debian-security bookworm-security main' to /etc/apt/sources.list",
            `  - only 500 MB free on /: dynoform needs at least ${MIN_FREE_MB} MB there (Debian packages, slugs, builds, PostgreSQL); free some space or grow the disk`,
            "  - nftables.service is enabled and /etc/nftables.conf flushes the whole ruleset, which would remove dynoform's firewall (table inet dynoform_host) at each boot or reload: delete only your own tables there (e.g. 'table inet filter' followed by 'delete table inet filter') instead of 'flush ruleset', or systemctl disable nftables",
        ]);
    });

    test("a machine without /etc/os-release; an address that only starts like ours; nftables enabled without a flush", () => {
        const r = preflight({ osRelease: "", addresses: ["10.0.0.210/24"], sources: "", nftablesEnabled: true, nftablesConf: "table inet filter {}\n" });
        expect(r.stderr).toContain("  - it has no /etc/os-release, so it is not a Debian 12 (bookworm) system: install Debian 12 on it\n");
        expect(r.stderr).toContain("its private address 10.0.0.21 is on none of its interfaces (it has: 10.0.0.210/24)");
        expect(r.stderr).toContain("apt has no Debian package source");
        expect(r.stderr).not.toContain("nftables");
    });

    test("deb822 sources (Types: deb) count as a package source", () => {
        const deb822 = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n";
        expect(preflight({ sources: "", files: { "etc/apt/sources.list.d/debian.sources": deb822 } })).toMatchObject({ code: 0, stderr: "" });
        expect(preflight({ sources: "", files: { "etc/apt/sources.list.d/src.sources": deb822.replace("deb\n", "deb-src\n") } }).stderr).toContain("apt has no Debian package source");
    });

    test("the sweep on destroy: our directories once empty, systemd's memory of our units, the apt lock", () => {
        const script = removeHostScript();
        expect(script).toContain(`rmdir ${STACK_DIRECTORIES.join(" ")} 2>/dev/null || true`);
        expect(STACK_DIRECTORIES.indexOf("/etc/dynoform/tls")).toBeLessThan(STACK_DIRECTORIES.indexOf("/etc/dynoform"));
        expect(script).toContain("systemctl daemon-reload");
        expect(script).toContain("rm -f /run/dynoform-apt.lock");
        expect(script).not.toMatch(/rm -rf/);
    });
});

describe("preflight in the resource graph (Pulumi's mocks)", () => {
    const created = recordResources();
    const config = parseStackConfig({
        target: "servers",
        privateSubnet: "10.0.0.0/24",
        secretsPassphrase: "ours",
        hosts: [
            { name: "edge-1", address: "203.0.113.10", privateAddress: "10.0.0.10", roles: ["edge", "control"], hostKey: "ssh-ed25519 AAAA" },
            { name: "dyno-1", address: "10.0.0.21", roles: ["dyno"], hostKey: "ssh-ed25519 AAAA" },
            { name: "data-1", address: "10.0.0.30", roles: ["data"], hostKey: "ssh-ed25519 AAAA" },
        ],
    });
    let hosts: Host[];

    beforeAll(async () => {
        const { preflightHost } = await import("../../components/hosts/preflight");
        hosts = config.hosts.map((h) => preflightHost(fakeHost(h.name, h.privateAddress, config.privateSubnet, h.publicAddress)));
        await platformOnFakeHosts(config, { hosts });
    });

    test("one check per host, for its own private address, sweeping on delete", () => {
        const checks = created.filter((c) => c.name.endsWith("-preflight"));
        expect(checks.map((c) => [c.name, c.host])).toEqual(config.hosts.map((h) => [`${h.name}-preflight`, h.name]));
        for (const [i, h] of config.hosts.entries()) {
            expect(checks[i].inputs.create).toBe(preflightScript(h.name, h.privateAddress));
            expect(checks[i].inputs.delete).toBe(removeHostScript());
            expect(checks[i].inputs.label).toBe(`preflight of ${h.name}`);
        }
    });

    test("everything on a host waits for its check (so a destroy removes it all before the sweep)", async () => {
        for (const h of config.hosts) {
            const index = created.findIndex((c) => c.name === `${h.name}-preflight`);
            const others = created.map((c, i) => ({ ...c, i })).filter((c) => c.host === h.name && c.i !== index);
            expect(others.length).toBeGreaterThan(3);
            expect(others.filter((c) => c.i < index).map((c) => c.name)).toEqual([]);
        }
        // The dependency travels with the connection itself: every resource given host.ssh depends on the check.
        const ssh = hosts[0].ssh as unknown as { allResources(): Promise<Set<pulumi.Resource>> };
        const urns = await Promise.all([...(await ssh.allResources())].map((r) => value(r.urn)));
        expect(urns.filter((urn) => urn.endsWith("::edge-1-preflight"))).toHaveLength(1);
    });
});
