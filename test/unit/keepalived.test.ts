import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    ADVERT_INTERVAL_S,
    INTERFACE_FILE,
    interfaceScript,
    keepalivedConfig,
    keepalivedDropIn,
    masterDownIntervalMs,
    nginxWeight,
    vrrpPriority,
} from "../../components/edge/keepalived";

// The floating address's keepalived config as the Edge component renders it for a two-edge stack.
const twoEdges = ["10.213.2.10", "10.213.2.11"];
const first = keepalivedConfig({ hostName: "edge-1", floatingAddress: "10.213.2.9", edgeAddresses: twoEdges, index: 0 });
const second = keepalivedConfig({ hostName: "edge-2", floatingAddress: "10.213.2.9", edgeAddresses: twoEdges, index: 1 });

/** The body of a top-level block (`vrrp_instance dynoform_edge {`), its lines trimmed, comments dropped. */
function block(conf: string, header: string): string[] {
    const start = conf.indexOf(`\n${header} {\n`);
    expect(start).toBeGreaterThanOrEqual(0);
    const body = conf.slice(start + header.length + 4, conf.indexOf("\n}\n", start));
    return body.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

test("VRRPv3 between the edges' private addresses, unicast: each edge sends to the others, from its own", () => {
    expect(block(first, "global_defs")).toContain("vrrp_version 3");
    const one = block(first, "vrrp_instance dynoform_edge");
    expect(one.join("\n")).toContain("unicast_src_ip 10.213.2.10\nunicast_peer {\n10.213.2.11\n}\ncheck_unicast_src");
    const two = block(second, "vrrp_instance dynoform_edge");
    expect(two.join("\n")).toContain("unicast_src_ip 10.213.2.11\nunicast_peer {\n10.213.2.10\n}");
    expect(one.join("\n")).toContain("virtual_ipaddress {\n10.213.2.9/32\n}");
    // No multicast group anywhere, and no strict mode (it forbids unicast and adds firewall rules of its own).
    expect(first).not.toMatch(/vrrp_mcast_group|vrrp_strict/);
    expect(first).not.toMatch(/\{\{/);
});

test("the first edge is the preferred master; a down nginx puts any edge below every other", () => {
    expect(block(first, "vrrp_instance dynoform_edge")).toContain("priority 200");
    expect(block(second, "vrrp_instance dynoform_edge")).toContain("priority 190");
    for (const conf of [first, second]) {
        expect(block(conf, "vrrp_instance dynoform_edge")).toContain("state BACKUP"); // priorities decide, not start order
        // No preempt_delay: the backup takes over from a master whose nginx is down by preempting it, and a delay would hold that back too.
        expect(conf).not.toContain("preempt_delay");
        expect(block(conf, "vrrp_instance dynoform_edge").join("\n")).toContain("track_script {\ndynoform_nginx\n}");
    }
    const script = block(first, "vrrp_script dynoform_nginx");
    expect(script).toEqual([
        'script "/usr/bin/systemctl is-active --quiet nginx.service"',
        "interval 1",
        "timeout 2",
        "fall 2",
        "rise 2",
        "weight -20",
        "init_fail",
    ]);
    for (const count of [2, 3, 20]) {
        const lastHealthy = vrrpPriority(count - 1);
        expect(vrrpPriority(0) - nginxWeight(count)).toBeLessThan(lastHealthy);
        expect(lastHealthy).toBeGreaterThan(0);
    }
});

test("sub-second adverts: a dead master is noticed in about a second", () => {
    expect(block(first, "vrrp_instance dynoform_edge")).toContain(`advert_int ${ADVERT_INTERVAL_S}`);
    // 3 × 0.3 s + (256 − 190) / 256 × 0.3 s for the second edge.
    expect(masterDownIntervalMs(vrrpPriority(1))).toBe(977);
    expect(masterDownIntervalMs(vrrpPriority(1))).toBeLessThan(1000);
});

test("gratuitous ARPs on the move, and script security", () => {
    const globals = block(first, "global_defs");
    expect(globals).toEqual(expect.arrayContaining(["router_id edge-1", "script_user root", "enable_script_security", "vrrp_garp_master_repeat 3", "vrrp_garp_master_delay 1", "vrrp_garp_master_refresh 60"]));
});

test("three edges: each has the two others as peers, priorities step down", () => {
    const three = ["10.0.0.10", "10.0.0.11", "10.0.0.12"];
    const conf = keepalivedConfig({ hostName: "edge-2", floatingAddress: "10.0.0.9", edgeAddresses: three, index: 1 });
    expect(block(conf, "vrrp_instance dynoform_edge").join("\n")).toContain("unicast_peer {\n10.0.0.10\n10.0.0.12\n}");
    expect(block(conf, "vrrp_instance dynoform_edge")).toContain("priority 190");
    expect(block(conf, "vrrp_script dynoform_nginx")).toContain("weight -30");
    // One edge: an empty unicast_peer would mean multicast.
    expect(() => keepalivedConfig({ hostName: "edge-1", floatingAddress: "10.0.0.9", edgeAddresses: ["10.0.0.10"], index: 0 })).toThrow(/no peer edge/);
});

test("the interface is the one holding the host's private address, found on the host at each start, never assumed", () => {
    expect(block(first, "vrrp_instance dynoform_edge")).toContain(`include ${INTERFACE_FILE}`);
    expect(first).not.toMatch(/^\s*interface /m);
    const dropIn = keepalivedDropIn("10.213.2.10");
    expect(dropIn).toContain("ExecStartPre=/usr/local/sbin/dynoform-keepalived-interface 10.213.2.10\n");
    // Its directory comes and goes with the service (nothing left in /run after a destroy).
    expect(INTERFACE_FILE).toBe("/run/dynoform-keepalived/interface.conf");
    expect(dropIn).toContain("RuntimeDirectory=dynoform-keepalived\n");
    expect(dropIn).toContain("After=nginx.service");
});

describe("dynoform-keepalived-interface (run with a stand-in `ip`)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-keepalived-"));
    const out = path.join(dir, "run", "keepalived-interface.conf");
    const script = path.join(dir, "script");
    fs.writeFileSync(script, interfaceScript().replaceAll(INTERFACE_FILE, out), { mode: 0o755 });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Runs the script with `ip -o -4 addr show` answering `addrs`. */
    function detect(address: string, addrs: string): { code: number; stderr: string } {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        fs.writeFileSync(path.join(bin, "ip"), `#!/bin/sh\ncat <<'EOF'\n${addrs}\nEOF\n`, { mode: 0o755 });
        // `sleep` made instant, so the 30 s wait for a missing address takes no time here.
        fs.writeFileSync(path.join(bin, "sleep"), "#!/bin/sh\n", { mode: 0o755 });
        try {
            execFileSync("sh", [script, address], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
            return { code: 0, stderr: "" };
        } catch (e) {
            const err = e as { status: number; stderr: string };
            return { code: err.status, stderr: err.stderr };
        }
    }

    const addrs = [
        "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
        "2: host0    inet 10.213.2.100/24 brd 10.213.2.255 scope global host0\\       valid_lft forever preferred_lft forever",
        "3: ens4.40@ens4    inet 10.213.2.10/24 brd 10.213.2.255 scope global ens4.40\\       valid_lft forever preferred_lft forever",
    ].join("\n");

    test("writes `interface <name>` for the address's interface (a VLAN's @parent dropped; a longer address sharing the prefix is not it)", () => {
        expect(detect("10.213.2.10", addrs).code).toBe(0);
        expect(fs.readFileSync(out, "utf8")).toBe("interface ens4.40\n");
        expect(detect("10.213.2.100", addrs).code).toBe(0);
        expect(fs.readFileSync(out, "utf8")).toBe("interface host0\n");
    });

    test("fails, naming the address, when no interface holds it", () => {
        const r = detect("10.213.2.77", addrs);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("no interface holds 10.213.2.77");
    });
});

// Debian's keepalived reads the rendered config (`--config-test`: parse only, unknown keywords and
// out-of-range values fail). Set DYNOFORM_KEEPALIVED to a keepalived binary where none is installed.
const keepalived = process.env.DYNOFORM_KEEPALIVED ?? "/usr/sbin/keepalived";
/** An interface of this machine VRRP may use (not loopback): keepalived checks that it exists. */
const nic = fs.existsSync("/sys/class/net") ? fs.readdirSync("/sys/class/net").find((n) => n !== "lo") : undefined;
(fs.existsSync(keepalived) && nic ? test : test.skip)("keepalived accepts the config (its --config-test), the interface from the included file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-keepalived-conf-"));
    try {
        const interfaceFile = path.join(dir, "interface.conf");
        fs.writeFileSync(interfaceFile, `interface ${nic}\n`);
        for (const conf of [first, second]) {
            fs.writeFileSync(path.join(dir, "keepalived.conf"), conf.replace(INTERFACE_FILE, interfaceFile));
            const run = () => execFileSync(keepalived, ["--config-test", "-f", path.join(dir, "keepalived.conf")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 });
            expect(run).not.toThrow();
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

// The real thing, where root and a keepalived binary are at hand: two "edges" (network namespaces
// on a bridge, in a private network and mount namespace of this test's own), each with the
// rendered config (its interface found by the real script, a stand-in for the nginx check) and an
// HTTP server on every address; 8 loops of GETs on the floating address; the master's link cut
// and its keepalived killed (a dead host). Then a backup's nginx check failing and passing again.
// Opt-in (DYNOFORM_VRRP_NETNS=1): it takes 30-60 s and its timings suffer on a machine that is busy.
const unshareReady = process.getuid?.() === 0 && fs.existsSync("/usr/bin/unshare") && fs.existsSync("/usr/sbin/ip") && process.env.DYNOFORM_VRRP_NETNS === "1";
(unshareReady && fs.existsSync(keepalived) ? test : test.skip)("in network namespaces: the address moves within about a second of the master's death, and follows nginx", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-vrrp-"));
    try {
        const edges = ["10.99.0.10", "10.99.0.11"];
        edges.forEach((_a, i) => {
            const n = `e${i + 1}`;
            const conf = keepalivedConfig({ hostName: `edge-${i + 1}`, floatingAddress: "10.99.0.9", edgeAddresses: edges, index: i })
                .replace(INTERFACE_FILE, `/run/${n}/iface.conf`)
                .replace('"/usr/bin/systemctl is-active --quiet nginx.service"', `"/bin/sh ${dir}/check.sh ${n}"`);
            fs.writeFileSync(path.join(dir, `${n}.conf`), conf);
            fs.writeFileSync(path.join(dir, `${n}-iface.sh`), interfaceScript().replaceAll(INTERFACE_FILE, `/run/${n}/iface.conf`), { mode: 0o755 });
        });
        fs.writeFileSync(path.join(dir, "check.sh"), '#!/bin/sh\ntest -e "/run/$1/nginx-up"\n', { mode: 0o755 });
        fs.writeFileSync(
            path.join(dir, "load.js"),
            `const http = require("http"), fs = require("fs");
const ok = [], by = {}; let failed = 0;
const get = () => new Promise((done) => {
  const resolve = (v) => { clearTimeout(deadline); done(v); };
  const req = http.get({ host: "10.99.0.9", port: 80, agent: false, timeout: 1000 }, (res) => { let b = ""; res.on("data", (d) => (b += d)); res.on("end", () => resolve(res.statusCode === 200 && b.trim())); res.on("error", () => resolve(false)); res.on("close", () => resolve(false)); });
  req.on("timeout", () => req.destroy(new Error("timeout"))); req.on("error", () => resolve(false));
  const deadline = setTimeout(() => { req.destroy(); resolve(false); }, 1000);
});
const end = Date.now() + Number(process.argv[2]) * 1000;
const loop = async () => { while (Date.now() < end) { const r = await get(); if (r) { ok.push(Date.now()); by[r] = (by[r] || 0) + 1; await new Promise((t) => setTimeout(t, 10)); } else { failed++; await new Promise((t) => setTimeout(t, 50)); } } };
Promise.all(Array.from({ length: 8 }, loop)).then(() => {
  const killed = Number(fs.readFileSync("/run/killed", "utf8")); const t = ok.sort((a, b) => a - b);
  const from = t.filter((x) => x >= Math.max(...t.filter((x) => x <= killed))); let gap = 0;
  for (let i = 1; i < from.length; i++) gap = Math.max(gap, from[i] - from[i - 1]);
  console.log("LOAD " + JSON.stringify({ failed, by, gap }));
  process.exit(0);
});
`,
        );
        const script = `set -e
mount --make-rprivate /
mount -t tmpfs tmpfs /run
mkdir -p /run/netns /run/e1 /run/e2
ip link set lo up
ip link add br0 type bridge && ip link set br0 up && ip addr add 10.99.0.1/24 dev br0
for i in 1 2; do
  ip netns add e$i
  ip link add v$i type veth peer name eth0 netns e$i
  ip link set v$i master br0 up
  ip netns exec e$i ip link set lo up
  ip netns exec e$i ip link set eth0 up
  ip netns exec e$i ip addr add 10.99.0.1$((i-1))/24 dev eth0
  touch /run/e$i/nginx-up
  ip netns exec e$i sh ${dir}/e$i-iface.sh 10.99.0.1$((i-1))
  ip netns exec e$i ${process.execPath} -e 'require("http").createServer((q, s) => s.end(process.argv[1] + "\\n")).listen(80)' e$i &
  ip netns exec e$i ${keepalived} -n -l -f ${dir}/e$i.conf -p /run/e$i/k.pid -r /run/e$i/v.pid --vrrp >/run/e$i/log 2>&1 &
  echo $! > /run/e$i/keepalived
done
holder() { for i in 1 2; do ip netns exec e$i ip -o -4 addr show 2>/dev/null | grep -q ' 10.99.0.9/' && printf 'e%s ' $i; done; echo; }
wait_for() { for t in $(seq 1 200); do [ "$(holder)" = "$1 " ] && { echo "$2 $(( $(date +%s%3N) - $3 ))"; return 0; }; sleep 0.05; done; echo "$2 never: $(holder)"; cat /run/e1/log /run/e2/log >&2; exit 1; }
wait_for e1 START $(date +%s%3N)
${process.execPath} ${dir}/load.js 20 > /run/load &
load=$!
sleep 2
ip netns exec e1 rm /run/e1/nginx-up; wait_for e2 NGINX_DOWN $(date +%s%3N)
ip netns exec e1 touch /run/e1/nginx-up; wait_for e1 NGINX_BACK $(date +%s%3N)
sleep 1
t=$(date +%s%3N); echo $t > /run/killed
ip link del v1; ka=$(cat /run/e1/keepalived); kill -9 $(pgrep -P $ka) $ka
wait_for e2 MOVED $t
wait $load; cat /run/load
ip netns exec e2 rm /run/e2/nginx-up; sleep 3; echo "ALONE $(holder)"
`;
        fs.writeFileSync(path.join(dir, "run.sh"), script);
        let out: string;
        try {
            out = execFileSync("unshare", ["--mount", "--net", "--pid", "--fork", "--mount-proc", "bash", path.join(dir, "run.sh")], { encoding: "utf8", timeout: 120_000 });
        } catch (e) {
            const err = e as { message: string; stdout?: string; stderr?: string };
            throw new Error(`${err.message}\nstdout:\n${err.stdout ?? ""}\nstderr (tail):\n${(err.stderr ?? "").split("\n").slice(-30).join("\n")}`);
        }
        const moved = Number(/^MOVED (\d+)$/m.exec(out)?.[1]);
        const load = JSON.parse(/^LOAD (.*)$/m.exec(out)?.[1] ?? "{}") as { failed: number; by: Record<string, number>; gap: number };
        console.log(`keepalived in namespaces: ${out.split("\n").filter((l) => /^(NGINX|ALONE)/.test(l)).join("; ")}; address moved ${moved} ms after the master died; largest gap ${load.gap} ms, ${load.failed} failed, served ${JSON.stringify(load.by)}`);
        expect(moved).toBeLessThan(1_500); // the master-down interval, 977 ms, and the polling
        expect(load.gap).toBeLessThan(2_000);
        expect(Object.keys(load.by).sort()).toEqual(["e1", "e2"]);
        // nginx down on the master: the other edge takes over after 2 failed checks, and gives it back after 2 good ones.
        expect(Number(/^NGINX_DOWN (\d+)$/m.exec(out)?.[1])).toBeLessThan(4_000);
        expect(Number(/^NGINX_BACK (\d+)$/m.exec(out)?.[1])).toBeLessThan(5_000);
        expect(out).toMatch(/^ALONE e2 $/m); // the last edge keeps the address with nginx down: its priority is lowered, not removed
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}, 150_000);
