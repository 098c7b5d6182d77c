// IPv4 subnets as the stack config and the host sources check them (components/config/network.ts).
import { cidrProblem, firstHostAddress, isHostAddress, parseCidr, subnetContains } from "../../components/config/network";

describe("IPv4 subnets", () => {
    test("a CIDR is an IPv4 address without host bits and a prefix of 0-32", () => {
        expect(parseCidr("10.213.9.0/24")).toEqual({ address: "10.213.9.0", prefix: 24 });
        expect(cidrProblem("0.0.0.0/0")).toBeUndefined();
        expect(cidrProblem("10.213.9.0")).toMatch(/not a CIDR like/);
        expect(cidrProblem("010.213.9.0/24")).toMatch(/not a CIDR like/); // 010 is not 10 to everyone
        expect(cidrProblem("10.213.9.0/33")).toMatch(/prefix length must be 0-32/);
        expect(cidrProblem("10.213.9.5/24")).toBe('"10.213.9.5/24" has host bits set; did you mean 10.213.9.0/24?');
        expect(() => parseCidr("10.213.9.5/24")).toThrow(/host bits set/);
    });

    test("membership, host addresses and the first host address", () => {
        expect(subnetContains("10.213.0.0/16", "10.213.9.7")).toBe(true);
        expect(subnetContains("10.213.0.0/16", "10.214.0.1")).toBe(false);
        expect(subnetContains("10.213.9.5/24", "10.213.9.7")).toBe(false); // not a subnet
        expect(subnetContains("10.213.9.0/24", "10.213.9")).toBe(false);
        expect(["10.213.9.0", "10.213.9.1", "10.213.9.254", "10.213.9.255", "10.213.8.1"].map((a) => isHostAddress("10.213.9.0/24", a))).toEqual([false, true, true, false, false]);
        expect(firstHostAddress("10.213.9.0/24")).toBe("10.213.9.1");
        expect(firstHostAddress("255.255.255.0/24")).toBe("255.255.255.1");
    });
});
