import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { ServiceBinary } from "../binaries";
import { Host } from "../hosts/host";
import { systemUserCommand } from "../mesh/routing_mesh";
import { RemoteBinary, RemoteCommand, RemoteFile, SystemdService } from "../remote";
import { render, renderOutput } from "../templates/render";

export const LOGPLEX_USER = "dynoform-logplex";
/** The unit's StateDirectory and logplex.json `dataDir`: each app's recent lines and drains.json. */
export const LOGPLEX_STATE_DIR = "/var/lib/dynoform-logplex";
export const LOGPLEX_BINARY = "/usr/local/lib/dynoform/dynoform-logplex";
export const LOGPLEX_CONFIG_FILE = "/etc/dynoform/logplex.json";
/** The control role's token (logplex.json `tokenFile`): reads logs and manages drains. */
export const LOGPLEX_CONTROL_TOKEN_FILE = "/etc/dynoform/logplex-control.token";
/** The log router's API port on its host's private address (agents, routers, the control role). */
export const LOGPLEX_PORT = 8093;

/** One sender of lines (a dyno host's agent, an edge's router): a name naming its streams and its own token. */
export interface LogSenderCredential {
    /** Letters, digits, `.`, `_`, `:`, `-` (at most 64): e.g. `agent.dyno1`. */
    name: string;
    /** Its bearer token (a secret; only its SHA-256 reaches the log router). */
    token: pulumi.Input<string>;
    /** During a rotation (components/config/rotation.ts), its previous token, accepted beside `token` until the rotation drops it. */
    previousToken?: pulumi.Input<string | undefined>;
}

export interface LogRouterArgs {
    /** The host it runs on (the control host by default): it listens on its private address. */
    host: Host;
    /** API port on the private address; default LOGPLEX_PORT. */
    port?: number;
    /** The control role's token (reads logs, manages drains). One a line: during a rotation, the current and the previous. */
    controlToken: pulumi.Input<string>;
    /** Every agent and router that posts lines. */
    senders: LogSenderCredential[];
    /** The stack's private subnet: drains may not send into it (nor to loopback or link-local). */
    privateSubnet: string;
    /** Addresses in it that stand for the outside (the lab's gateway): drains may send there. */
    outsideAddresses: string[];
    binary: ServiceBinary;
}

const SENDER_NAME = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * logplex.json's `senders`: each sender's name and its token's SHA-256. The tokens are 256 random
 * bits, so their digests tell nothing and are unsecret-ed (the file's diffs stay readable).
 */
export function senderDigests(senders: LogSenderCredential[]): pulumi.Output<string> {
    for (const s of senders) {
        if (!SENDER_NAME.test(s.name)) throw new Error(`log sender name "${s.name}": use letters, digits, . _ : - (at most 64): rename the host in the stack config`);
    }
    const digests = senders.map((s) =>
        pulumi.unsecret(
            pulumi.all([s.token, s.previousToken]).apply(([t, previous]) => [t, ...(previous ? [previous] : [])].map((token) => ({ name: s.name, tokenSha256: createHash("sha256").update(token).digest("hex") }))),
        ),
    );
    return pulumi.all(digests).apply((lists) => JSON.stringify(lists.flat()));
}

/**
 * dynoform-logplex (packages/logplex): the log router every agent, router and the control role
 * send their lines to, with each app's recent lines, live tail and drains. Binary by hash, config,
 * the control token, its own system user and a hardened unit; its state under LOGPLEX_STATE_DIR.
 */
export class LogRouter extends pulumi.ComponentResource {
    /** Where senders post and the control role reads: `http://<private address>:<port>`. */
    public readonly url: pulumi.Output<string>;

    constructor(name: string, args: LogRouterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dynoform:logs:LogRouter", name, {}, opts);
        const connection = args.host.ssh;
        const port = args.port ?? LOGPLEX_PORT;
        // Its delete runs after the service's: the user goes, and with it the stored lines and drains.
        const user = new RemoteCommand(
            `${name}-user`,
            { connection, create: systemUserCommand(LOGPLEX_USER), delete: `userdel ${LOGPLEX_USER} || true; rm -rf ${LOGPLEX_STATE_DIR}` },
            { parent: this },
        );
        const binary = new RemoteBinary(`${name}-binary`, { connection, source: args.binary.source, sha256: args.binary.sha256, path: LOGPLEX_BINARY, mode: "0755" }, { parent: this });
        const config = new RemoteFile(
            `${name}-config`,
            {
                connection,
                path: LOGPLEX_CONFIG_FILE,
                content: renderOutput("logplex/logplex.json", {
                    privateAddress: args.host.privateAddress,
                    port,
                    tokenFile: LOGPLEX_CONTROL_TOKEN_FILE,
                    senders: senderDigests(args.senders),
                    drainRefusedNetworks: JSON.stringify([args.privateSubnet]),
                    drainAllowedAddresses: JSON.stringify(args.outsideAddresses),
                }),
                mode: "0644",
            },
            { parent: this },
        );
        const controlToken = new RemoteFile(
            `${name}-control-token`,
            { connection, path: LOGPLEX_CONTROL_TOKEN_FILE, content: pulumi.secret(args.controlToken), mode: "0640", owner: `root:${LOGPLEX_USER}` },
            { parent: this, dependsOn: [user] },
        );
        new SystemdService(
            `${name}-service`,
            { connection, unit: "dynoform-logplex", unitFile: render("logplex/dynoform-logplex.service", {}), restartTriggers: [binary.sha256, config.sha256, controlToken.sha256] },
            { parent: this, dependsOn: [user, binary, config, controlToken] },
        );
        this.url = pulumi.interpolate`http://${args.host.privateAddress}:${port}`;
        this.registerOutputs({ url: this.url });
    }
}

/** What a sender (agent, router, the control role) is given: the log router's URL and its own token. */
export interface LogRouterAccess {
    url: pulumi.Input<string>;
    /** This sender's own token (a secret: written root-only or to its service's group, never in argv). */
    token: pulumi.Input<string>;
}
