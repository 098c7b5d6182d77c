// Pure parts of the lab host source: validation, names, files written into machines.
import {
    bridgeName,
    hostDir,
    hostPaths,
    labNetwork,
    LabConfigError,
    LabHostInputs,
    machineName,
    networkdFile,
    nftRuleset,
    nftTableName,
    nspawnArgs,
    parseMemory,
    publicKeyOnly,
    resolvConfFile,
    resolvers,
    validateHost,
} from "../../components/hosts/lab/config";

const net = labNetwork({ name: "local", subnet: "10.213.1.0/24" });
const host = (over: Partial<LabHostInputs> = {}): LabHostInputs => ({ network: net, name: "edge-1", address: "10.213.1.10", image: "base", ...over });

describe("lab network", () => {
    test("defaults: bridge dfbr-<name>, gateway .1", () => {
        expect(net).toEqual({ name: "local", subnet: "10.213.1.0/24", bridge: "dfbr-local", gateway: "10.213.1.1" });
        expect(bridgeName("hosttest")).toBe("dfbr-hosttest");
        expect(nftTableName("a-b")).toBe("dynoform_a_b");
        expect(machineName("local", "edge-1")).toBe("local-edge-1");
    });

    test.each([
        [{ name: "Local", subnet: "10.213.1.0/24" }, /name must be 1-10 characters/],
        [{ name: "averyverylongname", subnet: "10.213.1.0/24" }, /name must be 1-10/],
        [{ name: "x", subnet: "10.213.0.0/16" }, /must be a \/24/],
        [{ name: "x", subnet: "192.0.2.0/24" }, /inside the lab block 10\.213\.0\.0\/16/],
        [{ name: "x", subnet: "10.213.1.5/24" }, /host bits set; did you mean 10\.213\.1\.0\/24/],
        [{ name: "x", subnet: "10.213.1.0/24", gateway: "10.213.2.1" }, /gateway 10\.213\.2\.1 must be a host address/],
        [{ name: "x", subnet: "10.213.1.0/24", bridge: "a-bridge-name-too-long" }, /at most 15 characters/],
    ])("rejects %j", (args, message) => {
        expect(() => labNetwork(args)).toThrow(LabConfigError);
        expect(() => labNetwork(args)).toThrow(message);
    });
});

describe("lab host validation", () => {
    test("accepts a host address of the subnet", () => {
        expect(() => validateHost(host())).not.toThrow();
    });
    test.each([
        [{ address: "10.213.2.10" }, /not a host address of 10\.213\.1\.0\/24/],
        [{ address: "10.213.1.255" }, /not a host address/],
        [{ address: "10.213.1.1" }, /is the network's gateway/],
        [{ address: "10.213.1" }, /not an IPv4 address/],
        [{ name: "Edge" }, /name must be 1-31 characters/],
        [{ image: "fancy" as "base" }, /image must be "base" or "packages"/],
        [{ memoryMax: "lots" }, /memoryMax "lots" must be bytes/],
    ])("rejects %j", (over, message) => {
        expect(() => validateHost(host(over))).toThrow(message);
    });
    test("memory sizes", () => {
        expect(parseMemory("512M")).toBe(512 * 1024 * 1024);
        expect(parseMemory("1g")).toBe(1024 ** 3);
        expect(parseMemory("4096")).toBe(4096);
    });
});

describe("files written into a machine", () => {
    test("systemd-networkd: static address, gateway and DNS on host0", () => {
        expect(networkdFile("10.213.1.10", "10.213.1.0/24", "10.213.1.1", ["10.255.255.53"])).toBe(
            [
                "# Written by dynoform's lab host source.",
                "[Match]",
                "Name=host0",
                "",
                "[Network]",
                "Address=10.213.1.10/24",
                "Gateway=10.213.1.1",
                "DNS=10.255.255.53",
                "LinkLocalAddressing=no",
                "IPv6AcceptRA=no",
                "",
            ].join("\n"),
        );
    });

    test("resolvers: the machine's own, without loopback stubs", () => {
        const r = resolvers("# x\nsearch corp.example\nnameserver 10.255.255.53\nnameserver 127.0.0.53\noptions edns0\n");
        expect(r).toEqual({ nameservers: ["10.255.255.53"], search: ["corp.example"] });
        expect(resolvConfFile(r)).toBe("# Copied from the lab machine's host by dynoform.\nsearch corp.example\nnameserver 10.255.255.53\n");
    });

    test("resolvers: a systemd-resolved stub falls back to the upstream file", () => {
        expect(resolvers("nameserver 127.0.0.53\n", "nameserver 192.0.2.53\n").nameservers).toEqual(["192.0.2.53"]);
        expect(resolvers("nameserver 127.0.0.53\n").nameservers).toEqual([]);
    });

    test("public key without comment", () => {
        expect(publicKeyOnly("ssh-ed25519 AAAAC3Nza root@edge-1\n")).toBe("ssh-ed25519 AAAAC3Nza");
        expect(() => publicKeyOnly("garbage")).toThrow(/not an OpenSSH public key/);
    });
});

describe("machine plumbing", () => {
    test("host dir layout under <project>/.lab/<network>/<name>", () => {
        const dir = hostDir("/p", "local", "edge-1");
        expect(dir).toBe("/p/.lab/local/edge-1");
        expect(hostPaths(dir)).toMatchObject({ root: `${dir}/root`, upper: `${dir}/upper`, work: `${dir}/work`, pidFile: `${dir}/nspawn.pid` });
    });

    test("systemd-nspawn boots detached-friendly: no machined, no console, own bridge, apt overlay", () => {
        const args = nspawnArgs({ root: "/r", machine: "local-edge-1", hostname: "edge-1", bridge: "dfbr-local", aptLower: "/c/apt", aptUpper: "/d/apt-upper" });
        expect(args.slice(0, 4)).toEqual(["-D", "/r", "-M", "local-edge-1"]);
        expect(args).toEqual(expect.arrayContaining(["-b", "--register=no", "--keep-unit", "--network-bridge=dfbr-local", "--console=pipe"]));
        expect(args).toContain("--overlay=/c/apt:/d/apt-upper:/var/cache/apt/archives");
    });

    test("nft ruleset: masquerade the subnet leaving it, allow forwarding", () => {
        const rules = nftRuleset(net);
        expect(rules).toContain("table ip dynoform_local {");
        expect(rules).toContain("ip saddr 10.213.1.0/24 ip daddr != 10.213.1.0/24 masquerade");
        expect(rules).toContain('iifname "dfbr-local" accept');
    });
});
