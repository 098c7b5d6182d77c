// A drain is a URL an app's owner types, and the log router sits inside the private network: a
// drain must never reach what only that network reaches (the data host, the control host's own
// services on loopback, a cloud's metadata service), whether named by address or by a DNS name.
import net from "node:net";
import { DrainDestinations } from "../src/drain_destinations";
import type { RunningLogplex } from "../src/logplex";
import { call, CONTROL_TOKEN, startTestLogplex, tempDir } from "./helpers";

jest.setTimeout(20_000);

test("loopback, link-local, unspecified, multicast and the stack's private subnet are refused; the outside's stand-ins are not", () => {
    const d = new DrainDestinations(["10.0.0.0/24"], ["10.0.0.1"]);
    for (const a of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "169.254.169.254", "fe80::1", "0.0.0.0", "::", "224.0.0.18", "255.255.255.255", "10.0.0.30", "::ffff:10.0.0.30"]) {
        expect([a, d.refusal(a)]).toEqual([a, expect.stringContaining("inside the platform's own network")]);
    }
    for (const a of ["10.0.0.1", "203.0.113.5", "10.0.1.5", "2001:db8::1"]) expect([a, d.refusal(a)]).toEqual([a, undefined]);
    expect(() => d.connectOptions("10.0.0.30")).toThrow(/inside the platform's own network/);
    expect(d.connectOptions("drains.example.com").lookup).toBeDefined();
    expect(() => new DrainDestinations(["10.0.0.0"], [])).toThrow(/not a CIDR/);
});

describe("drains:add to an address inside: refused, and nothing connects there", () => {
    let lp: RunningLogplex;
    let inside: net.Server;
    let port = 0;
    let connections = 0;

    beforeEach(async () => {
        // The log router as deployed: only the lab's gateway (here none) stands for the outside.
        lp = await startTestLogplex(tempDir(), { drainAllowedAddresses: [], drainRefusedNetworks: ["10.0.0.0/24"] });
        inside = net.createServer((s) => {
            connections++;
            s.destroy();
        });
        await new Promise<void>((r) => inside.listen(0, "127.0.0.1", () => r()));
        port = (inside.address() as net.AddressInfo).port;
    });
    afterEach(async () => {
        await lp.close();
        await new Promise((r) => inside.close(r));
    });

    test.each(["syslog://127.0.0.1:PORT", "syslog://localhost:PORT", "syslog+tls://localhost:PORT", "https://127.0.0.1:PORT/logs", "https://[::ffff:127.0.0.1]:PORT/", "syslog://10.0.0.30:514", "syslog://169.254.169.254:80"])("%s", async (template) => {
        const url = template.replace("PORT", String(port));
        const ans = await call(lp.address, "POST", "/v1/apps/myapp/drains", { token: CONTROL_TOKEN, body: JSON.stringify({ url }) });
        expect(ans.status).toBe(422);
        expect(ans.body).toMatch(/inside the platform's own network/);
        expect(connections).toBe(0);
        expect(JSON.parse((await call(lp.address, "GET", "/v1/apps/myapp/drains", { token: CONTROL_TOKEN })).body)).toEqual([]);
    });
});
