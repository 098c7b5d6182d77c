import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { ServiceBinary } from "../binaries";
import { Host } from "../hosts/host";
import { RemoteBinary, RemoteCommand, RemoteFile, SystemdService } from "../remote";
import { render, renderOutput } from "../templates/render";
import type { LogRouterAccess } from "../logs/log_router";

export interface RoutingMeshArgs {
    host: Host;
    /** Traffic port on the private address (Varnish's backend). */
    port: number;
    /** Control API port on the private address (agents, control role). */
    controlPort: number;
    platformDomain: string;
    /** The routers' control token (the control role's): every control API call (routes, domains, placements, any dyno). One a line: during a rotation, the current and the previous. */
    controlToken: pulumi.Input<string>;
    /** Each dyno host's registration credential, as the router keeps it (agentCredential()); during a rotation, a host's old and new. */
    agents: pulumi.Input<pulumi.Input<AgentCredential>[]>;
    /** Key of the HMAC on load gossip between the routers (only routers hold it). */
    gossipKey: pulumi.Input<string>;
    binary: ServiceBinary;
    /**
     * Private addresses of the other edge hosts' routers. With them, the routers tell each other
     * their in-flight counts per dyno (UDP on LOAD_PORT, authenticated with `gossipKey`), so
     * concurrency caps hold across routers. Leave empty for a single router.
     */
    peers?: pulumi.Input<pulumi.Input<string>[]>;
    /** The log router each worker sends one line per request to (`heroku[router]`), with this router's own token. */
    logs: LogRouterAccess;
}

export const ROUTER_USER = "dynoform-router";
/** The unit's StateDirectory: routes.json (templates/router/router.json stateFile). */
export const ROUTER_STATE_DIR = "/var/lib/dynoform-router";

export function systemUserCommand(user: string): string {
    return `id -u ${user} >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ${user}`;
}

/** The routers' load gossip (UDP, private address). */
export const LOAD_PORT = 8082;
/** The routers' control token (router.json `tokenFile`). */
export const CONTROL_TOKEN_FILE = "/etc/dynoform/router-control.token";
export const GOSSIP_KEY_FILE = "/etc/dynoform/router-gossip.key";
/** The router's log router token (router.json `logTokenFile`). */
export const ROUTER_LOG_TOKEN_FILE = "/etc/dynoform/router-log.token";

/** One dyno host's entry in router.json: its private address and its agent's credential's SHA-256. */
export interface AgentCredential {
    address: string;
    tokenSha256: string;
}

/**
 * The router's view of a dyno host's registration credential. Only the hash goes into router.json:
 * the credential is 256 random bits, so its SHA-256 tells nothing and needs no secrecy (it is
 * unsecret-ed so router.json diffs stay readable); the credential itself stays a secret.
 */
export function agentCredential(address: pulumi.Input<string>, token: pulumi.Input<string>): pulumi.Output<AgentCredential> {
    const tokenSha256 = pulumi.unsecret(pulumi.output(token).apply((t) => createHash("sha256").update(t).digest("hex")));
    return pulumi.all([address, tokenSha256]).apply(([a, h]) => ({ address: a, tokenSha256: h }));
}

/** router.json plus load sharing with peer routers (loadListen/peers, the gossip key's file) when there are any. */
export function withPeers(configJson: string, privateAddress: string, peers: string[], loadPort: number): string {
    const others = peers.filter((p) => p && p !== privateAddress);
    if (others.length === 0) return configJson;
    const cfg = JSON.parse(configJson) as Record<string, unknown>;
    cfg.loadListen = `${privateAddress}:${loadPort}`;
    cfg.peers = others.map((p) => `${p}:${loadPort}`).join(",");
    cfg.gossipKeyFile = GOSSIP_KEY_FILE;
    return JSON.stringify(cfg, null, 2) + "\n";
}

export const ROUTER_SOCKET_UNIT = "dynoform-router.socket";

/**
 * dynoform-router.socket after the service exists. The service unit `Requires=` the socket unit,
 * so `systemctl restart dynoform-router` (SystemdService) starts the socket first, and an upgrade
 * (binary/config change: a service restart) never closes it. Enabling it is for boot; when the
 * socket unit itself changes (addresses), the sockets must be bound again, and systemd refuses to
 * start a socket unit whose service runs: stop the service, restart the socket, start the service
 * (the one case that refuses connections, for a moment). `systemctl stop` of the old service
 * (first deploy of socket activation: the old router listens itself) also happens inside the
 * service restart, before systemd binds the socket.
 */
export function socketCommands(): { create: string; update: string; delete: string } {
    const svc = "dynoform-router.service";
    return {
        create: [
            "set -e",
            "systemctl daemon-reload",
            `systemctl enable ${ROUTER_SOCKET_UNIT}`,
            `if ! systemctl is-active -q ${ROUTER_SOCKET_UNIT}; then systemctl stop ${svc}; systemctl start ${ROUTER_SOCKET_UNIT}; systemctl start ${svc}; fi`,
        ].join("\n"),
        update: [
            "set -e",
            "systemctl daemon-reload",
            `systemctl enable ${ROUTER_SOCKET_UNIT}`,
            `systemctl stop ${svc}`,
            `systemctl restart ${ROUTER_SOCKET_UNIT}`,
            `systemctl start ${svc}`,
        ].join("\n"),
        delete: `systemctl disable --now ${ROUTER_SOCKET_UNIT} 2>&1 || true`,
    };
}

/** dynoform-router on an edge host: binary by hash, config, token, gossip key, socket unit, hardened service unit. */
export class RoutingMesh extends pulumi.ComponentResource {
    public readonly controlUrl: pulumi.Output<string>;

    constructor(name: string, args: RoutingMeshArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dynoform:mesh:RoutingMesh", name, {}, opts);
        const connection = args.host.ssh;
        // Its delete runs after the service's: the user goes, and with it the routes the router kept (StateDirectory).
        const user = new RemoteCommand(
            `${name}-user`,
            { connection, create: systemUserCommand(ROUTER_USER), delete: `userdel ${ROUTER_USER} || true; rm -rf ${ROUTER_STATE_DIR}` },
            { parent: this },
        );
        const binary = new RemoteBinary(
            `${name}-binary`,
            { connection, source: args.binary.source, sha256: args.binary.sha256, path: "/usr/local/lib/dynoform/dynoform-router", mode: "0755" },
            { parent: this },
        );
        const config = new RemoteFile(
            `${name}-config`,
            {
                connection,
                path: "/etc/dynoform/router.json",
                content: pulumi
                    .all([
                        renderOutput("router/router.json", {
                            privateAddress: args.host.privateAddress,
                            port: args.port,
                            controlPort: args.controlPort,
                            platformDomain: args.platformDomain,
                            tokenFile: CONTROL_TOKEN_FILE,
                            agents: pulumi.output(args.agents).apply((list) => JSON.stringify(list)),
                            logRouterUrl: args.logs.url,
                            logTokenFile: ROUTER_LOG_TOKEN_FILE,
                        }),
                        args.host.privateAddress,
                        pulumi.output(args.peers ?? []),
                    ])
                    .apply(([text, address, peers]) => withPeers(text, address, peers, LOAD_PORT)),
            },
            { parent: this },
        );
        // Its own file: a host may be an edge and a dyno host at once, and the dyno host's
        // registration credential (registration.token) is another secret.
        const controlToken = new RemoteFile(
            `${name}-control-token`,
            { connection, path: CONTROL_TOKEN_FILE, content: pulumi.secret(args.controlToken), mode: "0640", owner: `root:${ROUTER_USER}` },
            { parent: this, dependsOn: [user] },
        );
        const gossipKey = new RemoteFile(
            `${name}-gossip-key`,
            { connection, path: GOSSIP_KEY_FILE, content: pulumi.secret(args.gossipKey), mode: "0640", owner: `root:${ROUTER_USER}` },
            { parent: this, dependsOn: [user] },
        );
        const logToken = new RemoteFile(
            `${name}-log-token`,
            { connection, path: ROUTER_LOG_TOKEN_FILE, content: pulumi.secret(args.logs.token), mode: "0640", owner: `root:${ROUTER_USER}` },
            { parent: this, dependsOn: [user] },
        );
        // The listening sockets belong to systemd (dynoform-router.socket), not to the router: a
        // restart after a binary/config change refuses no connection (they queue while the old
        // process drains and the new one starts). See socketCommands.
        const socketUnit = new RemoteFile(
            `${name}-socket-unit`,
            {
                connection,
                path: `/etc/systemd/system/${ROUTER_SOCKET_UNIT}`,
                content: renderOutput("router/dynoform-router.socket", {
                    privateAddress: args.host.privateAddress,
                    port: args.port,
                    controlPort: args.controlPort,
                }),
            },
            { parent: this },
        );
        const service = new SystemdService(
            `${name}-service`,
            {
                connection,
                unit: "dynoform-router",
                unitFile: render("router/dynoform-router.service", {}),
                restartTriggers: [binary.sha256, config.sha256, controlToken.sha256, gossipKey.sha256, logToken.sha256],
            },
            { parent: this, dependsOn: [user, binary, config, controlToken, gossipKey, logToken, socketUnit] },
        );
        new RemoteCommand(
            `${name}-socket`,
            { connection, ...socketCommands(), triggers: [socketUnit.sha256] },
            { parent: this, dependsOn: [socketUnit, service] },
        );
        this.controlUrl = pulumi.interpolate`http://${args.host.privateAddress}:${args.controlPort}`;
        this.registerOutputs({ controlUrl: this.controlUrl });
    }
}
