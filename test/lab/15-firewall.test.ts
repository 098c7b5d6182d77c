import { labStackInfo } from "../support/lab_stack";
import { LabShell, tcpConnects } from "../support/lab_hosts";

// The host firewall (issue 8 #11) on the lab stack. This machine reaches the lab from its gateway
// address, which the stack treats as the outside: from here only SSH and the edge's nginx answer,
// while the same ports answer the hosts themselves on the private subnet. (What a dyno may reach
// is in 40-isolation: it needs deployed apps.)
jest.setTimeout(5 * 60_000);

const { hosts } = labStackInfo();
const shell = new LabShell();
const edge = hosts.find((h) => h.roles.includes("edge"))!;
const dynoHost = hosts.find((h) => h.roles.includes("dyno"))!;
/** A port of the agent's dyno range, served for this test by a listener like a dyno's (all addresses). */
const DYNO_PORT = 20999;
const PROBED = [22, 80, 443, 5080, 5100, 5432, 6081, 8080, 8081, 8082, 11211, 11300, DYNO_PORT];

beforeAll(async () => {
    // (The script is a file: systemd would expand the `$` of an inline one as its own variables.)
    const script = `use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => ${DYNO_PORT}, Listen => 16, ReuseAddr => 1) or die "listen: $!"; while (1) { my $c = $s->accept; close $c if $c }`;
    await shell.on(dynoHost.name, `printf '%s\\n' '${script}' > /run/dynoform-fw-probe.pl && systemd-run --unit dynoform-fw-probe --collect /usr/bin/perl /run/dynoform-fw-probe.pl`);
    // Bounded wait until it listens; otherwise fail with what its unit said.
    const ready = await shell.exec(dynoHost.name, `for i in $(seq 1 40); do ss -Hltn 'sport = :${DYNO_PORT}' | grep -q . && exit 0; sleep 0.25; done; exit 1`);
    if (ready.code !== 0) {
        throw new Error(`the probe listener on ${dynoHost.name}:${DYNO_PORT} never listened: ${await shell.on(dynoHost.name, "systemctl status --no-pager -n 20 dynoform-fw-probe 2>&1 || true")}`);
    }
});

afterAll(async () => {
    await shell.on(dynoHost.name, "systemctl stop dynoform-fw-probe; rm -f /run/dynoform-fw-probe.pl; true");
    shell.close();
});

/** The TCP ports a host listens on, other than on loopback (what the private network could reach). */
async function listening(host: string): Promise<number[]> {
    const out = await shell.on(host, "ss -Hltn | awk '{print $4}'");
    const ports = out
        .split("\n")
        .filter((a) => a && !/^(127\.|\[::1\])/.test(a))
        .map((a) => Number(a.slice(a.lastIndexOf(":") + 1)));
    return [...new Set(ports)].sort((a, b) => a - b);
}

/** Does `port` on `address` accept a connection made from `from` (a lab host, on the private subnet)? */
async function connectsFrom(from: string, address: string, port: number): Promise<boolean> {
    const r = await shell.exec(from, `timeout 3 bash -c 'exec 3<>/dev/tcp/${address}/${port}'`);
    return r.code === 0;
}

test("every host loads its firewall: the one table inet dynoform_host, by dynoform-firewall.service", async () => {
    for (const h of hosts) {
        expect(await shell.on(h.name, "systemctl is-active dynoform-firewall; systemctl is-enabled dynoform-firewall")).toBe("active\nenabled");
        expect(await shell.on(h.name, "nft list tables")).toContain("table inet dynoform_host");
        // A dyno host's rules police its dyno users; the others have no output chain.
        const rules = await shell.on(h.name, "nft list table inet dynoform_host");
        expect(rules.includes("meta skuid 3000000-3099999 jump tenant")).toBe(h.roles.includes("dyno"));
        expect(rules.includes("meta skuid 2000000-2099999 jump tenant")).toBe(h.roles.includes("control"));
    }
});

test("from outside the private subnet only SSH answers, and on edges nginx's 80 and 443; inside, the internal ports answer", async () => {
    for (const h of hosts) {
        const ports = [...new Set([...PROBED, ...(await listening(h.name))])].sort((a, b) => a - b);
        const answered = (await Promise.all(ports.map(async (p) => ((await tcpConnects(h.address, p)) ? p : 0)))).filter(Boolean);
        expect({ host: h.name, answered }).toEqual({ host: h.name, answered: h.roles.includes("edge") ? [22, 80, 443] : [22] });
    }
    // The same ports are open on the private network: the firewall, not a missing service, kept them.
    const peer = (h: { name: string }) => hosts.find((o) => o.name !== h.name)!.name;
    const internal: [typeof edge, number][] = [
        [edge, 8080], // router
        [edge, 8081], // router control API
        [edge, 6081], // Varnish
        [edge, 5080], // slug server
        [dynoHost, 5100], // agent
        [dynoHost, DYNO_PORT], // a dyno: routers reach dynos
        [hosts.find((h) => h.roles.includes("data"))!, 5432],
    ];
    for (const [h, port] of internal) {
        expect({ host: h.name, port, listening: (await listening(h.name)).includes(port) }).toEqual({ host: h.name, port, listening: true });
        expect({ host: h.name, port, fromPeer: await connectsFrom(peer(h), h.address, port) }).toEqual({ host: h.name, port, fromPeer: true });
    }
    expect(await connectsFrom(edge.name, dynoHost.address, DYNO_PORT)).toBe(true);
});
