import * as pulumi from "@pulumi/pulumi";
import { ServiceBinary } from "../binaries";
import { Host } from "../hosts/host";
import { RemoteBinary, RemoteCommand, RemoteFile, SystemdService } from "../remote";
import { render, renderOutput } from "../templates/render";

export interface RoutingMeshArgs {
    host: Host;
    /** Traffic port on the private address (Varnish's backend). */
    port: number;
    /** Control API port on the private address (agents, control role). */
    controlPort: number;
    platformDomain: string;
    token: pulumi.Input<string>;
    binary: ServiceBinary;
}

export const ROUTER_USER = "dynoform-router";

export function systemUserCommand(user: string): string {
    return `id -u ${user} >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ${user}`;
}

/** dynoform-router on an edge host: binary by hash, config, token, hardened unit. */
export class RoutingMesh extends pulumi.ComponentResource {
    public readonly trafficAddress: pulumi.Output<string>;
    public readonly controlUrl: pulumi.Output<string>;

    constructor(name: string, args: RoutingMeshArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dynoform:mesh:RoutingMesh", name, {}, opts);
        const connection = args.host.ssh;
        const user = new RemoteCommand(`${name}-user`, { connection, create: systemUserCommand(ROUTER_USER), delete: `userdel ${ROUTER_USER} || true` }, { parent: this });
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
                content: renderOutput("router/router.json", {
                    privateAddress: args.host.privateAddress,
                    port: args.port,
                    controlPort: args.controlPort,
                    platformDomain: args.platformDomain,
                }),
            },
            { parent: this },
        );
        const token = new RemoteFile(
            `${name}-token`,
            { connection, path: "/etc/dynoform/router.token", content: pulumi.secret(args.token), mode: "0640", owner: `root:${ROUTER_USER}` },
            { parent: this, dependsOn: [user] },
        );
        new SystemdService(
            `${name}-service`,
            {
                connection,
                unit: "dynoform-router",
                unitFile: render("router/dynoform-router.service", {}),
                restartTriggers: [binary.sha256, config.sha256, token.sha256],
            },
            { parent: this, dependsOn: [user, binary, config, token] },
        );
        this.trafficAddress = pulumi.interpolate`${args.host.privateAddress}:${args.port}`;
        this.controlUrl = pulumi.interpolate`http://${args.host.privateAddress}:${args.controlPort}`;
        this.registerOutputs({ trafficAddress: this.trafficAddress, controlUrl: this.controlUrl });
    }
}
