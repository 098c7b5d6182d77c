// The API server as bench:api runs it (bundled by run.mjs): a temporary state dir with BENCH_APPS
// deployed apps, an in-memory fleet (no hosts: test/helpers/fake_fleet.ts) and an in-memory account
// store with one administrator token. Prints "ready" once listening on 127.0.0.1:<argv[2]>.
import { createApiServer } from "../../packages/control/src/api/api_server";
import { AppStore } from "../../packages/control/src/app_store";
import { FakeAccounts } from "../../packages/control/test/helpers/fake_accounts";
import { FakeFleet } from "../../packages/control/test/helpers/fake_fleet";

async function main(): Promise<void> {
    const [port, stateDir, apps, token] = process.argv.slice(2);
    const store = new AppStore(stateDir);
    await store.init();
    const fleet = new FakeFleet(() => new Date());
    for (let i = 0; i < Number(apps); i++) {
        const app = `bench-${i}`;
        await store.createApp(app, { config: { DATABASE_URL: "postgres://bench" }, domains: [`${app}.bench.test`] });
        await store.createRelease(app, { slug: { sha256: "0".repeat(64), size: 1024 }, config: {}, processTypes: { web: "node server.js", worker: "node worker.js" }, commit: "1a2b3c4", description: "Deploy 1a2b3c4" }, "succeeded");
        await store.setFormation(app, { web: { quantity: 1, size: "standard-1x" } });
    }
    const accounts = new FakeAccounts();
    accounts.addUser("bench@example.com", token, true);
    const server = createApiServer({
        store,
        fleet,
        accounts,
        settings: { domain: "bench.test", gitUrl: (a) => `git@bench.test:${a}.git`, webUrl: (a) => `http://${a}.bench.test/` },
        randomName: () => "bench-new",
        deploy: async () => false,
        requestsPerHour: 1e9,
    });
    server.listen(Number(port), "127.0.0.1", () => process.stdout.write("ready\n"));
    process.once("SIGTERM", () => server.close(() => process.exit(0)));
}

main().catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
});
