import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, StackConfig } from "./components/config/stack_config";
import { Host } from "./components/hosts/host";
import type { AwsHostsResult } from "./components/hosts/aws"; // a type only: loads nothing
import { Platform } from "./components/platform";
import { withStackRootKey } from "./components/hosts/stack_root_key";

const config = new pulumi.Config("dynoform");

// Validate everything before declaring a single resource.
const stackConfig: StackConfig = parseStackConfig({
    target: config.get("target"),
    domain: config.get("domain"),
    hosts: config.getObject("hosts"),
    lab: config.getObject("lab"),
    aws: config.getObject("aws"),
    docker: config.getObject("docker"),
    privateSubnet: config.get("privateSubnet"),
    memcachedMemoryMb: config.getObject("memcachedMemoryMb"),
    routerPort: config.getObject("routerPort"),
    varnishCacheSize: config.get("varnishCacheSize"),
    extraCaCertificates: config.get("extraCaCertificates"),
    pgBackupRetentionDays: config.getObject("pgBackupRetentionDays"),
    backupHost: config.get("backupHost"),
    floatingAddress: config.get("floatingAddress"),
    rotation: config.getObject("rotation"),
    rotationPhase: config.getObject("rotationPhase"),
    secretsPassphrase: process.env.PULUMI_CONFIG_PASSPHRASE,
});

/** The aws target's own outputs (load balancer, control address, ...); undefined on other targets. */
let awsOutputs: AwsHostsResult["outputs"] | undefined;

/** The hosts reached with the stack's SSH key once it was rotated (runbooks/rotate-secrets.mjs --what ssh-key). */
const stackKeyed = (hosts: Host[], cfg: StackConfig): Host[] => withStackRootKey(hosts, cfg.rotation?.sshKey ?? 0, cfg.rotationPhase?.sshKey);

function hostSource(cfg: StackConfig): Host[] {
    switch (cfg.target) {
        case "lab":
            return stackKeyed(require("./components/hosts/lab").labHosts(cfg), cfg);
        case "servers": {
            // Existing machines: each is checked (Debian 12, systemd, its private address, room, ...)
            // before anything is provisioned on it, and swept last on destroy.
            const { serverHosts } = require("./components/hosts/servers");
            const { preflightHost } = require("./components/hosts/preflight");
            // The preflight's sweep on destroy connects with the stack's key too.
            return stackKeyed(serverHosts(cfg, config.requireSecret("sshPrivateKey")), cfg).map((h: Host) => preflightHost(h));
        }
        case "aws": {
            // Required here only, so the other targets never load @pulumi/aws.
            const source: AwsHostsResult = require("./components/hosts/aws").awsHosts(cfg);
            awsOutputs = source.outputs;
            return stackKeyed(source.hosts, cfg);
        }
        case "docker":
            // Loads @pulumi/docker: only a docker stack needs its plugin.
            return stackKeyed(require("./components/hosts/docker").dockerHosts(cfg), cfg);
        default:
            throw new Error(`dynoform:target ${cfg.target} is not available: use lab, servers, aws or docker`);
    }
}

const tlsCertificate = config.get("tlsCertificate");
const platformHosts = hostSource(stackConfig);
const platform = new Platform("dynoform", {
    config: stackConfig,
    hosts: platformHosts,
    tls: tlsCertificate ? { certificate: tlsCertificate, key: config.requireSecret("tlsKey") } : undefined,
    gitAuthorizedKeys: config.getObject<string[]>("gitAuthorizedKeys") ?? [],
});

export const edgeUrl = platform.edgeUrl;
export const hosts = platform.hostAddresses;
export const domain = stackConfig.domain;
export const databaseAdminUrl = platform.databaseAdminUrl;
export const routerControlUrls = platform.routerControlUrls;
export const agentUrls = platform.agentUrls;
export const routerToken = platform.routerToken;
/** Each agent's own token, by its URL in agentUrls (a secret). */
export const agentTokens = platform.agentTokens;
/** How operators (runbooks, `dynoform` CLI, tests) reach each host: a secret output. */
export const ssh = pulumi.secret(pulumi.all(platformHosts.map((h) => h.ssh)).apply((list) => Object.fromEntries(list.map((c) => [c.name, c]))));
/** What the `dynoform` CLI needs: where users push and run verbs (git@host, the control role's own endpoint), and the stack's own key (secret). */
// Not a secret: the address, port and host key are what every SSH client of the host is shown, and
// this output is what a stack owner hands teammates (`dynoform login --outputs`). The host key is
// read from the host's connection, which is a secret for its private key.
export const control = pulumi.unsecret(
    pulumi.all([platform.control.gitEndpoint, platform.control.hostKey]).apply(([{ host, port }, hostKey]) => ({ host, port, user: "git", hostKey })),
);
export const controlSshKey = platform.control.cliPrivateKey;
/** The rotation counters (dynoform:rotation) this stack's secrets were last made with: a runbook compares them with the config to finish a rotation cut short. */
export const rotation = stackConfig.rotation ?? {};
/** The phase of each rotation under way (dynoform:rotationPhase) this stack was last brought to: a runbook moves to the next phase only once it is. */
export const rotationPhase = stackConfig.rotationPhase ?? {};
/** aws target: the load balancer to point `*.<domain>` at, the control host's and the NAT's addresses, the VPC and instances. */
export const aws = awsOutputs;
