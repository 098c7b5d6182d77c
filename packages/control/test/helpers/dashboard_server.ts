// The dashboard's handler on a real loopback node:http server over a temp state dir, a FakeFleet
// and FakeAccounts: alice owns myapp, bob (token-b) is a user with no access yet, root is an
// administrator. Used by the unit tests and the browser test.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { DEFAULT_SIZE } from "../../src/app_store";
import { BuildLog } from "../../src/build_log";
import { createDashboardHandler, DashboardDeps } from "../../src/dashboard/handler";
import { FakeAccounts } from "./fake_accounts";
import { harness, Harness } from "./cli_harness";

export interface DashboardServer {
    url: string;
    h: Harness;
    accounts: FakeAccounts;
    close(): Promise<void>;
}

export const SETTINGS: DashboardDeps["settings"] = { domain: "dynoform.test", gitUrl: (a) => `git@control.test:${a}.git`, webUrl: (a) => `http://${a}.dynoform.test/` };

/** A release of `processTypes` made as a deploy makes it, its dynos rolled out on the fake hosts. */
export async function deployed(h: Harness, app: string, processTypes: Record<string, string> = { web: "./serve" }, commit = "1a2b3c4", user = "alice"): Promise<void> {
    const formation = Object.fromEntries(Object.keys(processTypes).map((t) => [t, { quantity: t === "web" ? 1 : 0, size: DEFAULT_SIZE }]));
    const release = await h.store.createRelease(
        app,
        { slug: { sha256: commit.padEnd(64, "0"), size: 1024 }, config: await h.store.getConfig(app), processTypes, commit, description: `Deploy ${commit}`, user },
        "succeeded",
    );
    await h.store.setFormation(app, formation);
    await h.fleet.rollout(app, release, formation, new BuildLog(() => undefined));
}

export async function startDashboard(extra: Partial<DashboardDeps> = {}): Promise<DashboardServer> {
    const h = await harness();
    const accounts = new FakeAccounts(() => h.clock.now);
    accounts.addUser("alice", "token-a");
    accounts.addUser("bob", "token-b");
    accounts.addUser("root", "token-root", true);
    const handler = createDashboardHandler({ accounts, store: h.store, fleet: h.fleet, settings: SETTINGS, now: () => h.clock.now, log: () => undefined, ...extra });
    const server = http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}`,
        h,
        accounts,
        async close() {
            server.closeAllConnections();
            await new Promise<void>((r) => server.close(() => r()));
            h.cleanup();
        },
    };
}
