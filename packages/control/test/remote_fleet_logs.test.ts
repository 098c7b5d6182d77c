// `logs --tail` through the control role holds nothing for a reader that stops: while the caller
// has not taken a line, the control role stops reading the agents' streams, so the back-pressure
// reaches the agent (which drops and counts lines past its own bound: Logplex's L10).
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { AppStore } from "../src/app_store";
import { RemoteFleet } from "../src/remote_fleet";

test("a paused logs --tail reader stops the control role reading the agent", async () => {
    let pushedBack = false;
    let written = 0;
    const agent = http.createServer((req, res) => {
        if (req.url === "/health") return void res.end('{"ok":true}');
        res.writeHead(200, { "content-type": "text/plain" });
        if (!req.url?.includes("tail=1")) return void res.end();
        const line = `2026-11-29T20:00:00.000000+00:00 app[web.1]: ${"x".repeat(200)}\n`;
        // Write until the socket says the reader is not keeping up (bounded: 40 MB).
        const pump = () => {
            while (written < 200_000) {
                written++;
                if (!res.write(line)) {
                    pushedBack = true;
                    return;
                }
            }
        };
        pump();
    });
    await new Promise<void>((r) => agent.listen(0, "127.0.0.1", r));
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-logs-"));
    const fleet = new RemoteFleet(new AppStore(root), { agents: [`http://127.0.0.1:${(agent.address() as AddressInfo).port}`], agentToken: "t", routers: [], routerToken: "r", slugBaseUrl: "http://127.0.0.1:9/slugs" });
    let taken = 0;
    let unblock: () => void = () => undefined;
    const stalled = new Promise<void>((r) => (unblock = r));
    const done = fleet.logs("shop", { tail: true, num: 100 }, async () => {
        taken++;
        await stalled; // the caller's stdout is full
    });
    for (let i = 0; i < 100 && !pushedBack; i++) await new Promise((r) => setTimeout(r, 50));
    expect(pushedBack).toBe(true);
    expect(taken).toBe(1);
    expect(written).toBeLessThan(200_000);
    agent.closeAllConnections();
    agent.close();
    unblock();
    await done;
    fs.rmSync(root, { recursive: true, force: true });
});
