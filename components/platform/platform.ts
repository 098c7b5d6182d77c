import * as pulumi from "@pulumi/pulumi";
import { StackConfig, hostsWithRole } from "../config/stack_config";
import { ServiceBinary, serviceBinary } from "../binaries";
import { API_PORT, ControlPlane, localExtraCaCertificates } from "../control";
import { SshKeyPair } from "../secrets/ssh_keypair";
import { Data, MEMCACHED_PORTS, POSTGRES_PORT } from "../data";
import { BackupStore } from "../backup";
import { PG_BACKUP_RETENTION_DAYS, PG_BACKUP_SCHEDULE } from "../data/pg_backups";
import { DynoHost } from "../dyno";
import { Edge } from "../edge";
import { BUILD_UID_RANGE, DYNO_UID_RANGE, HostFirewall } from "../firewall";
import { agentCredential, RoutingMesh } from "../mesh";
import { Host } from "../hosts/host";
import { GeneratedSecret } from "../secrets/generated_secret";
import { acceptedFile, acceptedValues, sentValue } from "../secrets/rotating_values";
import { LogRouter } from "../logs";

export interface PlatformArgs {
    config: StackConfig;
    /** One Host per entry of config.hosts, same names. */
    hosts: Host[];
    tls?: { certificate: pulumi.Input<string>; key: pulumi.Input<string> };
    /** The service binaries to ship; default: the ones `npm run build:binaries` made. */
    binaries?: { router: ServiceBinary; agent: ServiceBinary; control?: ServiceBinary; logplex?: ServiceBinary };
    /** Public keys allowed to git push and run CLI verbs (dynoform:gitAuthorizedKeys). */
    gitAuthorizedKeys?: string[];
}

/**
 * The whole platform on a set of hosts: each role's component (edge, routing mesh, dyno host,
 * data, control) and every host's firewall, on the hosts the stack config names.
 */
export class Platform extends pulumi.ComponentResource {
    public readonly edgeUrl: pulumi.Output<string>;
    public readonly hostAddresses: pulumi.Output<Record<string, string>>;
    public readonly databaseAdminUrl: pulumi.Output<string>;
    public readonly routerControlUrls: pulumi.Output<string[]>;
    public readonly agentUrls: pulumi.Output<string[]>;
    public readonly routerToken: pulumi.Output<string>;
    /** Each agent's own token by its URL (a secret): what the control role drives it with. */
    public readonly agentTokens: pulumi.Output<Record<string, string>>;
    /** The control role (git push, CLI verbs). */
    public readonly control: ControlPlane;
    /** The log router (on the control host): every app's one stream. */
    public readonly logRouter: LogRouter;

    constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dynoform:platform:Platform", name, {}, opts);
        const { config } = args;
        const byName = new Map(args.hosts.map((h) => [h.name, h]));
        const hostFor = (specName: string): Host => {
            const host = byName.get(specName);
            if (!host) throw new Error(`no host source entry for ${specName}`);
            return host;
        };

        const edgeSpecs = hostsWithRole(config, "edge");
        const edgeHosts = edgeSpecs.map((s) => hostFor(s.name));
        const controlSpec = hostsWithRole(config, "control")[0];
        const controlHost = hostFor(controlSpec.name);
        const routers = edgeHosts.map((h) => ({ address: h.privateAddress, port: config.routerPort }));
        // With a floating address, keepalived on every edge keeps it on one live edge (VRRP between their private addresses).
        const floating = (index: number) =>
            config.floatingAddress ? { address: config.floatingAddress, edgeAddresses: edgeHosts.map((h) => h.privateAddress), index } : undefined;
        // Bans cached pages on every edge's Varnish (control: after each release and cache:purge); only the VCL and control hold it.
        const purgeToken = new GeneratedSecret(`${name}-varnish-purge-token`, { bytes: 32 }, { parent: this });
        const purge = { controlAddress: controlHost.privateAddress, token: purgeToken.value };
        const edges = edgeHosts.map(
            (host, i) =>
                new Edge(
                    host.name,
                    { host, domain: config.domain, apiAddress: pulumi.interpolate`${controlHost.privateAddress}:${API_PORT}`, routers, varnishPort: config.varnishPort, varnishCacheSize: config.varnishCacheSize, tls: args.tls, floating: floating(i), purge },
                    { parent: this },
                ),
        );

        // Credentials (README "Security model"): the routers' control token is the control role's
        // alone; each dyno host has its own agent token (held by the control role) and its own
        // registration credential (the routers keep its hash and the host's private address); the
        // routers' load gossip has a key of its own. Each token is rotated in phases
        // (config/rotation.ts): its checkers' files hold the values accepted in the phase, its
        // senders the one sent (secrets/rotating_values.ts).
        const phase = config.rotationPhase ?? {};
        const rotating = (kind: "routerToken" | "agentToken" | "logToken") => ({ bytes: 32, rotation: config.rotation?.[kind], keepPrevious: phase[kind] !== undefined });
        const routerToken = new GeneratedSecret(`${name}-router-token`, rotating("routerToken"), { parent: this });
        const gossipKey = new GeneratedSecret(`${name}-router-gossip-key`, { bytes: 32 }, { parent: this });
        const dynoSpecs = hostsWithRole(config, "dyno").map((spec) => ({
            spec,
            host: hostFor(spec.name),
            agentToken: new GeneratedSecret(`${name}-agent-token-${spec.name}`, rotating("agentToken"), { parent: this }),
            registrationToken: new GeneratedSecret(`${name}-registration-token-${spec.name}`, rotating("agentToken"), { parent: this }),
        }));
        // The log router (README "Logs"): on the control host; each agent and each edge router posts
        // lines with a token of its own (the log router keeps only their digests), the control role
        // reads logs and manages drains with another.
        const logControlToken = new GeneratedSecret(`${name}-logplex-control-token`, rotating("logToken"), { parent: this });
        const agentLogTokens = dynoSpecs.map((d) => new GeneratedSecret(`${name}-agent-log-token-${d.spec.name}`, rotating("logToken"), { parent: this }));
        const routerLogTokens = edgeSpecs.map((s) => new GeneratedSecret(`${name}-router-log-token-${s.name}`, rotating("logToken"), { parent: this }));
        // A sender's previous log token while the log router accepts both (else none).
        const previousLogToken = (t: GeneratedSecret) => acceptedValues(t, phase.logToken).apply((values) => values[1]);
        const logRouter = new LogRouter(
            `${controlSpec.name}-logplex`,
            {
                host: controlHost,
                controlToken: acceptedFile(logControlToken, phase.logToken),
                senders: [
                    ...dynoSpecs.map((d, i) => ({ name: `agent.${d.spec.name}`, token: agentLogTokens[i].value, previousToken: previousLogToken(agentLogTokens[i]) })),
                    ...edgeSpecs.map((s, i) => ({ name: `router.${s.name}`, token: routerLogTokens[i].value, previousToken: previousLogToken(routerLogTokens[i]) })),
                ],
                privateSubnet: config.privateSubnet,
                outsideAddresses: config.outsideAddresses,
                binary: args.binaries?.logplex ?? serviceBinary("logplex", "dynoform-logplex"),
            },
            { parent: this },
        );
        // A host's old and new credentials while its agent switches: either registers its dynos.
        // (Digests only: router.json is no secret.)
        const agentCredentials = pulumi.unsecret(
            pulumi
                .all(dynoSpecs.map((d) => acceptedValues(d.registrationToken, phase.agentToken).apply((tokens) => pulumi.all(tokens.map((t) => agentCredential(d.host.privateAddress, t))))))
                .apply((lists) => lists.flat()),
        );
        const routerBinary = args.binaries?.router ?? serviceBinary("router", "dynoform-router");
        const agentBinary = args.binaries?.agent ?? serviceBinary("agent", "dynoform-agent");
        const meshes = edgeHosts.map(
            (host, i) =>
                new RoutingMesh(
                    `${host.name}-router`,
                    {
                        host,
                        port: config.routerPort,
                        controlPort: config.routerControlPort,
                        platformDomain: config.domain,
                        controlToken: acceptedFile(routerToken, phase.routerToken),
                        agents: agentCredentials,
                        gossipKey: gossipKey.value,
                        binary: routerBinary,
                        // Every edge router shares its in-flight counts with the others, so caps hold across them.
                        peers: edgeHosts.map((h) => h.privateAddress),
                        logs: { url: logRouter.url, token: sentValue(routerLogTokens[i], phase.logToken) },
                    },
                    { parent: this },
                ),
        );
        const routerUrls = meshes.map((m) => m.controlUrl);
        const dynoHosts = dynoSpecs.map(
            (d, i) =>
                new DynoHost(
                    d.spec.name,
                    {
                        host: d.host,
                        port: config.agentPort,
                        routerUrls,
                        agentToken: acceptedFile(d.agentToken, phase.agentToken),
                        registrationToken: sentValue(d.registrationToken, phase.agentToken),
                        binary: agentBinary,
                        logs: { url: logRouter.url, token: sentValue(agentLogTokens[i], phase.logToken) },
                    },
                    // The routers know a host's credential before its agent starts using it (an
                    // upgrade: the old agents use the control token meanwhile, which still registers).
                    { parent: this, dependsOn: meshes },
                ),
        );

        const adminPassword = new GeneratedSecret(`${name}-postgres-admin-password`, { bytes: 24, rotation: config.rotation?.pgAdmin }, { parent: this });
        const dataHost = hostFor(hostsWithRole(config, "data")[0].name);
        // The control role's key for the data host's add-on provisioning (forced command there).
        const addonsKey = new SshKeyPair(`${name}-addons-key`, { comment: "dynoform-addons" }, { parent: this });
        // PostgreSQL's backups live on another host's disk (dynoform:backupHost, default the control
        // host), reached by the data host with a key of their own that runs only the store command there.
        const backupHost = config.backupHost ? hostFor(config.backupHost) : controlHost;
        const backupKey = new SshKeyPair(`${name}-pg-backup-key`, { comment: "dynoform-pg-backup" }, { parent: this });
        const backupStore = new BackupStore(`${backupHost.name}-backup-store`, { host: backupHost, publicKey: backupKey.publicKey, dataAddress: dataHost.privateAddress }, { parent: this });
        const data = new Data(
            dataHost.name,
            {
                host: dataHost,
                privateSubnet: config.privateSubnet,
                outsideAddresses: config.outsideAddresses,
                memcachedMemoryMb: config.memcachedMemoryMb,
                adminPassword: adminPassword.value,
                addonsPublicKey: addonsKey.publicKey,
                controlAddress: controlHost.privateAddress,
                backup: {
                    address: backupHost.privateAddress,
                    port: backupHost.ssh.apply((c) => c.port),
                    hostKey: backupHost.ssh.apply((c) => c.hostKey),
                    privateKey: backupKey.privateKey,
                    retentionDays: config.pgBackupRetentionDays ?? PG_BACKUP_RETENTION_DAYS,
                    schedule: PG_BACKUP_SCHEDULE,
                },
            },
            // The store is there before archive_command first sends a segment.
            { parent: this, dependsOn: [backupStore] },
        );

        // Every host's firewall (README "Security model"): from outside the private subnet only SSH
        // and, on edges, nginx answer; dynos (dyno hosts) and builds (the control host) reach only
        // the data host's services, the edges' nginx and the outside world.
        for (const spec of config.hosts) {
            const tenantUids = [...(spec.roles.includes("dyno") ? [DYNO_UID_RANGE] : []), ...(spec.roles.includes("control") ? [BUILD_UID_RANGE] : [])];
            new HostFirewall(
                `${spec.name}-firewall`,
                {
                    host: hostFor(spec.name),
                    roles: spec.roles,
                    sshPort: spec.port,
                    public: spec.roles.includes("edge"),
                    privateSubnet: config.privateSubnet,
                    outsideAddresses: config.outsideAddresses,
                    tenantPolicy:
                        tenantUids.length > 0
                        ? {
                              dataAddress: dataHost.privateAddress,
                              // The floating address too: it is an edge's nginx, wherever it is.
                              edgeAddresses: [...edgeHosts.flatMap((h) => [h.privateAddress, h.publicAddress]), ...(config.floatingAddress ? [config.floatingAddress] : [])],
                              postgresPort: POSTGRES_PORT,
                              memcachedPorts: MEMCACHED_PORTS,
                              agentPort: config.agentPort,
                              uids: tenantUids,
                          }
                        : undefined,
                },
                { parent: this },
            );
        }

        this.control = new ControlPlane(
            "control",
            {
                host: controlHost,
                authorizedKeys: args.gitAuthorizedKeys ?? [],
                domain: config.domain,
                agents: dynoHosts.map((d, i) => ({ url: d.agentUrl, token: sentValue(dynoSpecs[i].agentToken, phase.agentToken) })),
                routerUrls,
                routerToken: sentValue(routerToken, phase.routerToken),
                edgeCaches: { urls: edgeHosts.map((h) => pulumi.interpolate`http://${h.privateAddress}:${config.varnishPort}`), token: purgeToken.value },
                addons: {
                    host: dataHost.privateAddress,
                    port: dataHost.ssh.apply((c) => c.port),
                    hostKey: dataHost.ssh.apply((c) => c.hostKey),
                    privateKey: addonsKey.privateKey,
                },
                // A lab machine egresses through this machine: without the stack's own setting it trusts this machine's CAs.
                extraCaCertificates: config.extraCaCertificates ?? (config.target === "lab" ? localExtraCaCertificates() : undefined),
                binary: args.binaries?.control ?? serviceBinary("control", "dynoform-control"),
                logs: { url: logRouter.url, token: sentValue(logControlToken, phase.logToken) },
                dependsOn: [...dynoHosts, ...meshes, data, ...edges, logRouter],
            },
            { parent: this },
        );

        this.logRouter = logRouter;
        // The floating address when there is one (every edge's url is it then), else the first edge's.
        this.edgeUrl = edges[0].url;
        this.hostAddresses = pulumi.all(args.hosts.map((h) => pulumi.all([h.name, h.privateAddress]))).apply((pairs) => Object.fromEntries(pairs));
        this.databaseAdminUrl = data.databaseAdminUrl;
        this.routerControlUrls = pulumi.all(routerUrls);
        this.agentUrls = pulumi.all(dynoHosts.map((d) => d.agentUrl));
        // What the control role sends, which the routers and agents accept in every phase.
        this.routerToken = sentValue(routerToken, phase.routerToken);
        this.agentTokens = pulumi.secret(
            pulumi.all(dynoHosts.map((d, i) => pulumi.all([d.agentUrl, sentValue(dynoSpecs[i].agentToken, phase.agentToken)]))).apply((pairs) => Object.fromEntries(pairs)),
        );
        this.registerOutputs({ edgeUrl: this.edgeUrl, hostAddresses: this.hostAddresses });
    }
}
