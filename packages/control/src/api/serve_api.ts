// The REST API as `dynoform-control serve` runs it: the real store and fleet, pushes' deploy path
// (deployPush) for builds, on the config's apiListen.
import type { Accounts } from "../accounts/principal";
import type { AppStore } from "../app_store";
import { BuildUsers } from "../build_users";
import { generateName } from "../cli/apps";
import { cliSettings, ControlConfig } from "../control_config";
import type { Fleet } from "../fleet";
import { deployPush } from "../git_receive";
import type { DeploySource } from "./api_deps";
import { createDashboardHandler } from "../dashboard/handler";
import { platformWatch } from "../dashboard/platform_watch";
import { ApiServer, createApiServer } from "./api_server";

/** "10.0.0.10:5200" → host and port ("[::1]:5200" too). */
export function splitListen(listen: string): { host: string; port: number } {
    const i = listen.lastIndexOf(":");
    return { host: listen.slice(0, i).replace(/^\[(.*)\]$/, "$1"), port: Number(listen.slice(i + 1)) };
}

/** A build as a push of `commit` by `user`: the push's output, line by line. */
function pushDeploy(store: AppStore, fleet: Fleet, config: ControlConfig): DeploySource {
    return async (app, source, commit, user, out) => {
        const code = await deployPush({ store, fleet, config, user, out: (s) => s.replace(/\n$/, "").split("\n").forEach(out) }, app, source, commit);
        return code === 0;
    };
}

/** Listening on config.apiListen (the dashboard on the same port, by Host); undefined when the config names none. */
export async function startApi(store: AppStore, fleet: Fleet, config: ControlConfig, accounts: Accounts, stderr: (s: string) => void): Promise<ApiServer | undefined> {
    if (!config.apiListen) return undefined;
    const buildUsers = config.buildUserPrefix ? new BuildUsers(config.buildUserPrefix) : undefined;
    const watch = platformWatch(config.fleet);
    const stopWatching = watch.start();
    const dashboard = createDashboardHandler({
        accounts,
        store,
        fleet,
        settings: cliSettings(config),
        now: () => new Date(),
        ...(watch.metrics ? { metrics: watch.metrics } : {}),
        ...(watch.services ? { services: watch.services } : {}),
        ...(buildUsers ? { buildUsers } : {}),
        log: (l) => stderr(`dashboard: ${l}\n`),
    });
    const server = createApiServer({
        dashboard,
        store,
        fleet,
        accounts,
        settings: cliSettings(config),
        deploy: pushDeploy(store, fleet, config),
        randomName: () => generateName(),
        ...(buildUsers ? { buildUsers } : {}),
        log: (l) => stderr(l + "\n"),
    });
    server.once("close", stopWatching);
    const { host, port } = splitListen(config.apiListen);
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
    });
    stderr(`dynoform-control serve: the API on http://${config.apiListen}/ (GET /openapi.json describes it)\n`);
    return server;
}
