// `dynoform-control serve` (the systemd unit dynoform-control.service): the slug HTTP server the
// agents download slugs from (slug_server.ts), the REST API (api/, on apiListen) and the placement
// loop (reconcile.ts), until SIGTERM.
import type { Accounts } from "./accounts/principal";
import { startApi } from "./api/serve_api";
import { AppStore } from "./app_store";
import { ControlConfig } from "./control_config";
import { unconfiguredFleet } from "./fleet";
import { RemoteFleet } from "./remote_fleet";
import { createSlugServer } from "./slug_server";

/**
 * `fleet` undefined: no dyno hosts configured, so no placement loop; slugs are served all the same.
 * `accounts` undefined: no account store, so no API (it has no one to authorize).
 */
export async function serve(store: AppStore, fleet: RemoteFleet | undefined, config: ControlConfig, stderr: (s: string) => void, accounts?: Accounts): Promise<number> {
    const listen = config.slugListen;
    const i = listen.lastIndexOf(":");
    const host = listen.slice(0, i);
    const port = Number(listen.slice(i + 1));
    const server = createSlugServer({ paths: store.paths, signingKey: config.slugSigningKey });
    if (!config.slugSigningKey) stderr(`dynoform-control serve: no slugSigningKey in the control config: every slug download is refused (403); run pulumi up to write one\n`);
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
    });
    stderr(`dynoform-control serve: slugs on http://${listen}/slugs/\n`);
    if (config.apiListen && !accounts) stderr(`dynoform-control serve: apiListen is set but there is no account store: the API is not served\n`);
    const api = accounts ? await startApi(store, fleet ?? unconfiguredFleet(), config, accounts, stderr) : undefined;
    const log = (l: string) => stderr(`reconcile: ${l}\n`);
    let stopping = false;
    const stop = () => {
        stopping = true;
        server.close();
        api?.close();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    while (!stopping) {
        if (fleet) await fleet.reconcile(log).catch((e) => log(`failed: ${(e as Error).message}`));
        await new Promise((r) => setTimeout(r, config.reconcileIntervalMs));
    }
    return 0;
}
