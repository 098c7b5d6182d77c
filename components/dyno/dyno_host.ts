import * as pulumi from "@pulumi/pulumi";
import { ServiceBinary } from "../binaries";
import { Host } from "../hosts/host";
import { DYNO_PORT_RANGE, DYNO_UID_RANGE } from "../firewall/host_firewall";
import { AptPackages, RemoteBinary, RemoteCommand, RemoteFile, SystemdService } from "../remote";

/**
 * The runtimes slugs of the built-in buildpacks run on: a Python slug's venv uses Debian's python3
 * (its standard library), a Ruby slug Debian's ruby and bundler (and, with BUNDLE_PATH__SYSTEM=true,
 * the host's gems); libpq5 for PostgreSQL drivers built against it. The control host builds with the
 * same Debian packages (components/control BUILD_TOOLCHAIN_PACKAGES).
 */
export const DYNO_RUNTIME_PACKAGES = ["python3", "ruby", "bundler", "ruby-rack", "puma", "libpq5"];
import { render, renderOutput } from "../templates/render";

/** Where the agent keeps slugs, dyno logs and desired state (agent.json), and what a removal empties. */
export const AGENT_STATE_DIR = "/var/lib/dynoform-agent";

export interface DynoHostArgs {
    host: Host;
    /** Agent control API port on the private address. */
    port: number;
    /** Control API URLs of every router of the mesh. */
    routerUrls: pulumi.Input<string>[];
    /** The token the control role drives this agent with (this host's own). */
    agentToken: pulumi.Input<string>;
    /** This host's credential for registering its dynos with the routers (this host's own). */
    registrationToken: pulumi.Input<string>;
    binary: ServiceBinary;
}

/**
 * dynoform-agent on a dyno host: binary by hash, config, tokens, unit. Per-app users, slug
 * directories and the dynos' own transient units are made on demand by the agent.
 */
export class DynoHost extends pulumi.ComponentResource {
    public readonly agentUrl: pulumi.Output<string>;

    constructor(name: string, args: DynoHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dynoform:dyno:DynoHost", name, {}, opts);
        const connection = args.host.ssh;
        new AptPackages(`${name}-runtimes`, { connection, packages: DYNO_RUNTIME_PACKAGES }, { parent: this });
        const binary = new RemoteBinary(
            `${name}-agent-binary`,
            { connection, source: args.binary.source, sha256: args.binary.sha256, path: "/usr/local/lib/dynoform/dynoform-agent", mode: "0755" },
            { parent: this },
        );
        const routers = pulumi.all(args.routerUrls).apply((urls) => JSON.stringify(urls.map((url) => ({ url }))));
        const config = new RemoteFile(
            `${name}-agent-config`,
            { connection, path: "/etc/dynoform/agent.json", content: renderOutput("agent/agent.json", { stateDir: AGENT_STATE_DIR, privateAddress: args.host.privateAddress, port: args.port, portRange: JSON.stringify(DYNO_PORT_RANGE), routers }) },
            { parent: this },
        );
        const agentToken = new RemoteFile(
            `${name}-agent-token`,
            { connection, path: "/etc/dynoform/agent.token", content: pulumi.secret(args.agentToken), mode: "0600" },
            { parent: this },
        );
        // Read by the agent as --router-token-file: this host's registration credential, not the
        // routers' control token (which only the control role holds).
        const registrationToken = new RemoteFile(
            `${name}-registration-token`,
            { connection, path: "/etc/dynoform/registration.token", content: pulumi.secret(args.registrationToken), mode: "0600" },
            { parent: this },
        );
        const agent = new SystemdService(
            `${name}-agent`,
            {
                connection,
                unit: "dynoform-agent",
                unitFile: render("agent/dynoform-agent.service", {}),
                restartTriggers: [binary.sha256, config.sha256, agentToken.sha256, registrationToken.sha256],
            },
            { parent: this, dependsOn: [binary, config, agentToken, registrationToken] },
        );
        // What the agent makes at runtime (dynos, their slice and users, its state) has no resource of
        // its own: this one removes it when the host stops being a dyno host. It depends on the agent,
        // so a destroy runs it first, while the agent's unit still exists to be stopped.
        new RemoteCommand(
            `${name}-agent-leftovers`,
            { connection, create: "true", delete: render("agent/remove-dyno-host.sh", { uidMin: DYNO_UID_RANGE[0], uidMax: DYNO_UID_RANGE[1], stateDir: AGENT_STATE_DIR }) },
            { parent: this, dependsOn: [agent] },
        );
        this.agentUrl = pulumi.interpolate`http://${args.host.privateAddress}:${args.port}`;
        this.registerOutputs({ agentUrl: this.agentUrl });
    }
}
