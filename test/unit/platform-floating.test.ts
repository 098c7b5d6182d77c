// A lab stack of two edges and a floating address (Pulumi's mocks): keepalived on each edge, the
// address in the stack's output and in what tenants may reach.
import { parseStackConfig } from "../../components/config/stack_config";
import { INTERFACE_FILE } from "../../components/edge/keepalived";
import { Created, platformOnFakeHosts, recordResources, TWO_EDGE_LAB } from "../support/platform_mocks";

const created = recordResources();

const config = parseStackConfig({ ...TWO_EDGE_LAB, floatingAddress: "10.213.7.9" });

let edgeUrl: string;

beforeAll(async () => {
    ({ edgeUrl } = await platformOnFakeHosts(config));
});

const on = (host: string): Created[] => created.filter((c) => c.host === host);
const named = (name: string): Created => {
    const c = created.find((r) => r.name === name);
    if (!c) throw new Error(`no resource ${name}`);
    return c;
};

test("the stack's edgeUrl is the floating address", () => {
    expect(config.floatingAddress).toBe("10.213.7.9");
    expect(edgeUrl).toBe("http://10.213.7.9/");
});

test("each edge gets keepalived: the package, its config, the interface script and the service restarted when either changes", () => {
    for (const [host, priority, peer] of [["edge-1", 200, "10.213.7.11"], ["edge-2", 190, "10.213.7.10"]] as const) {
        const mine = on(host).filter((c) => c.name.startsWith(`${host}-keepalived`)).map((c) => c.name).sort();
        expect(mine).toEqual([`${host}-keepalived`, `${host}-keepalived-conf`, `${host}-keepalived-interface`, `${host}-keepalived-packages`]);
        expect(named(`${host}-keepalived-packages`).inputs.packages).toEqual(["keepalived"]);
        const conf = named(`${host}-keepalived-conf`);
        expect(conf.inputs.path).toBe("/etc/keepalived/keepalived.conf");
        expect(conf.inputs.keepOriginal).toBe(true); // an operator's own is put back on destroy
        const text = String(conf.inputs.content);
        expect(text).toContain(`priority ${priority}\n`);
        expect(text).toContain(`unicast_peer {\n        ${peer}\n    }`);
        expect(text).toContain("        10.213.7.9/32\n");
        expect(text).toContain(`include ${INTERFACE_FILE}\n`);
        const script = named(`${host}-keepalived-interface`);
        expect([script.inputs.path, script.inputs.mode]).toEqual(["/usr/local/sbin/dynoform-keepalived-interface", "0755"]);
        const service = named(`${host}-keepalived`);
        expect(service.inputs.unit).toBe("keepalived");
        expect(service.inputs.unitFile).toBeUndefined(); // Debian's unit, with our drop-in
        expect(String(service.inputs.dropIn)).toContain(`ExecStartPre=/usr/local/sbin/dynoform-keepalived-interface ${host === "edge-1" ? "10.213.7.10" : "10.213.7.11"}\n`);
        expect(service.inputs.restartTriggers).toEqual([`sha-of-${host}-keepalived-conf`, `sha-of-${host}-keepalived-interface`]);
    }
    // Only edges run it.
    expect(created.filter((c) => c.name.includes("keepalived") && !["edge-1", "edge-2"].includes(c.host ?? ""))).toEqual([]);
});

test("both edges serve: nginx, varnish and a router on each, varnish balancing over both routers", () => {
    for (const host of ["edge-1", "edge-2"]) {
        const units = on(host).filter((c) => c.type.endsWith("remote:Service")).map((c) => c.inputs.unit);
        expect(units).toEqual(expect.arrayContaining(["nginx", "varnish", "dynoform-router", "keepalived"]));
        // The VCL holds the purge token: a secret.
        const vcl = String((on(host).find((c) => c.inputs.path === "/etc/varnish/default.vcl")!.inputs.content as { value: unknown }).value);
        expect(vcl).toContain('.host = "10.213.7.10";');
        expect(vcl).toContain('.host = "10.213.7.11";');
    }
});

test("tenants (dynos, builds) reach nginx on the floating address as on the edges' own; every edge serves 80/443 to everyone", () => {
    for (const host of ["dyno-1", "edge-1"]) {
        const rules = String(on(host).find((c) => c.inputs.path === "/etc/dynoform/firewall.nft")!.inputs.content);
        expect(rules).toContain("ip daddr { 10.213.7.10, 10.213.7.11, 10.213.7.9 } tcp dport { 80, 443 } accept");
    }
    for (const host of ["edge-1", "edge-2"]) {
        const rules = String(on(host).find((c) => c.inputs.path === "/etc/dynoform/firewall.nft")!.inputs.content);
        // No destination: the floating address's 80/443 too. VRRP (protocol 112) comes from the other edges' private addresses.
        expect(rules).toContain("\n        tcp dport { 80, 443 } accept\n");
        expect(rules).toContain("\n        ip saddr 10.213.7.0/24 accept\n");
    }
});
