import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ServiceBinary } from "../binaries";
import { Host } from "../hosts/host";
import { AptPackages, RemoteBinary, RemoteCommand, RemoteFile, SystemdService } from "../remote";
import { PUBLIC_KEY } from "../remote/connection";
import { GeneratedSecret } from "../secrets/generated_secret";
import { render } from "../templates/render";
import { SshKeyPair } from "../secrets/ssh_keypair";
import type { LogRouterAccess } from "../logs/log_router";

export const CONTROL_BINARY = "/usr/local/lib/dynoform/dynoform-control";
export const GIT_USER = "git";
export const GIT_HOME = "/home/git";
/** Builds of app X run as the system user `build-X` (made by dynoform-control on X's first push). */
export const BUILD_USER_PREFIX = "build-";
/** The one shared build user of earlier versions: removed (issue 9: one uid let builds reach each other). */
export const LEGACY_BUILD_USER = "dynoform-build";
/**
 * What the built-in Python and Ruby buildpacks build with (packages/control/src/buildpacks/builtin_scripts.ts):
 * Debian's interpreters (the dyno hosts run the same ones, DYNO_RUNTIME_PACKAGES), venv, bundler, and
 * the compilers and headers native extensions need (psycopg2, pg, puma...).
 */
export const BUILD_TOOLCHAIN_PACKAGES = [
    "python3", "python3-venv", "python3-dev", "ruby", "ruby-dev", "bundler", "build-essential", "libpq-dev", "pkg-config",
    // gems an app may use from the host with BUNDLE_PATH__SYSTEM=true (and the lab does: rubygems.org is out of its reach)
    "ruby-rack", "puma",
];

/** useradd's comment on build users (packages/control/src/build_users.ts): how they are found to be removed. */
export const BUILD_USER_COMMENT = "dynoform build user";
export const STATE_DIR = "/var/lib/dynoform";
export const SLUG_PORT = 5080;
/** The REST API (packages/control/src/api), on the private address: the edges proxy api.<domain> to it. */
export const API_PORT = 5200;

export interface ControlPlaneArgs {
    host: Host;
    /** Public keys allowed to push and run verbs (stack config dynoform:gitAuthorizedKeys). */
    authorizedKeys: string[];
    domain: string;
    /** Every dyno host's agent: its control API URL and the token that drives it (its own). */
    agents: { url: pulumi.Input<string>; token: pulumi.Input<string> }[];
    routerUrls: pulumi.Input<string>[];
    /** The routers' control token: only the control role holds it. */
    routerToken: pulumi.Input<string>;
    /** Every edge's Varnish (http://<private address>:<port>) and the token its VCL takes for BAN. */
    edgeCaches: { urls: pulumi.Input<string>[]; token: pulumi.Input<string> };
    /** The data host's add-on provisioning (Memcached, PostgreSQL) over SSH: its forced command dynoform-addons. */
    addons: AddonsAccess;
    binary: ServiceBinary;
    /** PEM certificates the control host must trust too (lab: the machine's own extra CAs, for npm). */
    extraCaCertificates?: string;
    /** The log router: `logs`, `drains*` and the control role's own `app[api]` lines, with the control token. */
    logs: LogRouterAccess;
    /** Resources that must exist first (agents, routers, data). */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export interface AddonsAccess {
    /** The data host's private address. */
    host: pulumi.Input<string>;
    port: pulumi.Input<number>;
    /** Its pinned host key ("ssh-ed25519 AAAA..."): the control host checks it (StrictHostKeyChecking). */
    hostKey: pulumi.Input<string>;
    /** The add-ons key (a Pulumi secret; written root-only). */
    privateKey: pulumi.Input<string>;
}

export const ADDONS_KEY_FILE = "/etc/dynoform/addons.key";
/** dynoform:extraCaCertificates, where update-ca-certificates takes it into the system's bundle. */
export const EXTRA_CA_FILE = "/usr/local/share/ca-certificates/dynoform-extra.crt";

/**
 * The control role's delete (after its service's): the build users (found by their comment) with
 * anything they still run, the git user with its home, and the state: apps, repos, slugs, caches.
 */
export function removeControlUsersScript(): string {
    return [
        `for u in $(awk -F: '$5 == "${BUILD_USER_COMMENT}" { print $1 }' /etc/passwd); do pkill -KILL -u "$u"; userdel "$u"; done`,
        `userdel -r ${GIT_USER} 2>/dev/null || true`,
        // On aws the state is a volume mounted there: its contents go, the mount point stays.
        `{ rm -rf ${STATE_DIR} || mountpoint -q ${STATE_DIR}; }`,
    ].join("; ");
}
export const ADDONS_KNOWN_HOSTS_FILE = "/etc/dynoform/addons.known_hosts";

/** known_hosts line for the data host (OpenSSH's [host]:port form off port 22). */
export function knownHostsLine(host: string, port: number, hostKey: string): string {
    return `${port === 22 ? host : `[${host}]:${port}`} ${hostKey.trim()}\n`;
}

/**
 * The extra CAs this machine trusts (/usr/local/share/ca-certificates/*.crt): lab machines reach the
 * npm registry through the same network path, so builds on the lab control host must trust them too.
 */
export function localExtraCaCertificates(dir = "/usr/local/share/ca-certificates"): string | undefined {
    if (!fs.existsSync(dir)) return undefined;
    const pems = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".crt"))
        .sort()
        .map((f) => fs.readFileSync(path.join(dir, f), "utf8").trim());
    return pems.length ? pems.join("\n") + "\n" : undefined;
}

/** One authorized_keys line: the key may only run the forced command (verbs and git push). */
export function authorizedKeyLine(name: string, key: string): string {
    const clean = key.trim().split(/\s+/).slice(0, 2).join(" ");
    if (!PUBLIC_KEY.test(clean)) {
        throw new Error(`dynoform:gitAuthorizedKeys: "${key.slice(0, 40)}..." is not an OpenSSH public key: use the line of your ~/.ssh/id_ed25519.pub`);
    }
    if (!/^[A-Za-z0-9._@-]+$/.test(name)) throw new Error(`key name ${name} must be letters, digits, . _ @ -`);
    return `command="${CONTROL_BINARY} ssh ${name}",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty ${clean}`;
}

/** Key names: the comment of the public key when it is a plain name, else key-N. */
export function authorizedKeysFile(keys: { name?: string; key: string }[]): string {
    const lines = keys.map((k, i) => {
        const comment = k.name ?? k.key.trim().split(/\s+/)[2];
        const name = comment && /^[A-Za-z0-9._@-]+$/.test(comment) ? comment : `key-${i + 1}`;
        return authorizedKeyLine(name, k.key);
    });
    return `# Managed by dynoform (components/control): forced command only.\n${lines.join("\n")}\n`;
}

/**
 * The control role: the `git` SSH user (forced command), the dynoform-control binary and config,
 * the slug server + placement loop (systemd), app state under /var/lib/dynoform (builds/ and cache/
 * for the per-app build users dynoform-control makes on each app's first push).
 */
export class ControlPlane extends pulumi.ComponentResource {
    /**
     * Where users push and run verbs (git@<host>, its port): the one endpoint the remotes the
     * control role prints (control.json) and the stack's `control` output name.
     */
    public readonly gitEndpoint: pulumi.Output<{ host: string; port: number }>;
    public readonly hostKey: pulumi.Output<string>;
    /** The stack's own CLI key (secret). */
    public readonly cliPrivateKey: pulumi.Output<string>;

    constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dynoform:control:ControlPlane", name, {}, opts);
        const connection = args.host.ssh;
        authorizedKeysFile(args.authorizedKeys.map((k) => ({ key: k }))); // bad keys fail before anything is touched
        const packages = new AptPackages(`${name}-packages`, { connection, packages: ["git", "postgresql-client", "sudo", "ca-certificates", ...BUILD_TOOLCHAIN_PACKAGES] }, { parent: this });
        const users = new RemoteCommand(
            `${name}-users`,
            {
                connection,
                create: [
                    `id -u ${GIT_USER} >/dev/null 2>&1 || useradd --system --create-home --home-dir ${GIT_HOME} --shell /bin/sh ${GIT_USER}`,
                    `{ ! id -u ${LEGACY_BUILD_USER} >/dev/null 2>&1 || { pkill -KILL -u ${LEGACY_BUILD_USER}; userdel ${LEGACY_BUILD_USER}; } || true; }`,
                    // Build users pass through these (0711) to their own sandboxes and caches (0700).
                    `install -d -m 0711 -o root -g root ${STATE_DIR} ${STATE_DIR}/builds ${STATE_DIR}/cache`,
                    `install -d -m 0755 -o root -g root ${GIT_HOME}/.ssh`,
                    `usermod -p '*' ${GIT_USER}`,
                ].join(" && "),
                delete: removeControlUsersScript(),
            },
            { parent: this, dependsOn: [packages] },
        );
        const caDeps: pulumi.Resource[] = [];
        if (args.extraCaCertificates) {
            const ca = new RemoteFile(`${name}-extra-ca`, { connection, path: EXTRA_CA_FILE, content: args.extraCaCertificates, mode: "0644" }, { parent: this, dependsOn: [packages] });
            caDeps.push(
                // Its delete runs before the file's: it takes the certificate out of the system's bundle
                // itself; --fresh, since a plain run leaves the removed certificate's links in /etc/ssl/certs.
                new RemoteCommand(
                    `${name}-update-ca`,
                    { connection, create: "update-ca-certificates >/dev/null", delete: `rm -f ${EXTRA_CA_FILE} && update-ca-certificates --fresh >/dev/null`, triggers: [ca.sha256] },
                    { parent: this, dependsOn: [ca] },
                ),
            );
        }
        const key = new SshKeyPair(`${name}-cli-key`, { comment: "dynoform-cli" }, { parent: this });
        const authorized = new RemoteFile(
            `${name}-authorized-keys`,
            {
                connection,
                path: `${GIT_HOME}/.ssh/authorized_keys`,
                content: key.publicKey.apply((pub) => authorizedKeysFile([...(pub ? [{ name: "dynoform-cli", key: pub }] : []), ...args.authorizedKeys.map((k) => ({ key: k }))])),
                mode: "0644",
                owner: "root:root",
            },
            { parent: this, dependsOn: [users] },
        );
        const binary = new RemoteBinary(`${name}-binary`, { connection, source: args.binary.source, sha256: args.binary.sha256, path: CONTROL_BINARY, mode: "0755" }, { parent: this });
        const sudoers = new RemoteFile(
            `${name}-sudoers`,
            { connection, path: "/etc/sudoers.d/dynoform-control", content: render("control/sudoers", { binary: CONTROL_BINARY, gitUser: GIT_USER, buildUserPrefix: BUILD_USER_PREFIX }), mode: "0440" },
            { parent: this, dependsOn: [packages, users] },
        );
        const addonsKey = new RemoteFile(`${name}-addons-key`, { connection, path: ADDONS_KEY_FILE, content: pulumi.secret(args.addons.privateKey), mode: "0600", owner: "root:root" }, { parent: this });
        const addonsKnownHosts = new RemoteFile(
            `${name}-addons-known-hosts`,
            { connection, path: ADDONS_KNOWN_HOSTS_FILE, content: pulumi.all([args.addons.host, args.addons.port, args.addons.hostKey]).apply(([h, p, k]) => knownHostsLine(h, p, k)), mode: "0644" },
            { parent: this },
        );
        // Signs each slug's download token (packages/control/src/slug_access.ts). Only the control role
        // holds it: agents get one token per slug with the desired state, so a dyno host can fetch the
        // slugs it was sent and nothing else.
        const slugSigningKey = new GeneratedSecret(`${name}-slug-signing-key`, { bytes: 32 }, { parent: this });
        // git push and the CLI come from outside the private network: the host's public side, or
        // where its host source publishes its sshd.
        const gitEndpoint =
            args.host.publicSsh ?? pulumi.all([args.host.publicAddress, args.host.ssh]).apply(([host, ssh]) => ({ host, port: ssh.port }));
        const configJson = pulumi
            .all([
                args.host.privateAddress,
                gitEndpoint,
                pulumi.all(args.agents.map((a) => pulumi.all([a.url, a.token]))),
                pulumi.all(args.routerUrls),
                args.routerToken,
                args.addons.host,
                args.addons.port,
                pulumi.all([slugSigningKey.value, args.logs.url, args.logs.token, pulumi.all(args.edgeCaches.urls), args.edgeCaches.token]),
            ])
            .apply(([address, git, agentList, routers, routerToken, addonsHost, addonsPort, [slugKey, logRouterUrl, logRouterToken, edgeCaches, edgeCacheToken]]) =>
                JSON.stringify(
                    {
                        stateDir: STATE_DIR,
                        domain: args.domain,
                        gitHost: git.host,
                        gitPort: git.port,
                        slugListen: `${address}:${SLUG_PORT}`,
                        apiListen: `${address}:${API_PORT}`,
                        slugBaseUrl: `http://${address}:${SLUG_PORT}/slugs`,
                        slugSigningKey: slugKey,
                        buildUserPrefix: BUILD_USER_PREFIX,
                        buildTimeoutS: 900,
                        agents: agentList.map(([url]) => url),
                        agentTokens: Object.fromEntries(agentList),
                        routers,
                        routerToken,
                        edgeCaches,
                        edgeCacheToken,
                        addons: { host: addonsHost, port: addonsPort, user: "root", keyFile: ADDONS_KEY_FILE, knownHostsFile: ADDONS_KNOWN_HOSTS_FILE },
                        logRouterUrl,
                        logRouterToken,
                        // Users' keys (keys:add) go to authorized_keys2 beside the stack's, forcing this binary.
                        gitSshDir: `${GIT_HOME}/.ssh`,
                        forcedCommandBinary: CONTROL_BINARY,
                    },
                    null,
                    2,
                ) + "\n",
            );
        const config = new RemoteFile(`${name}-config`, { connection, path: "/etc/dynoform/control.json", content: pulumi.secret(configJson), mode: "0600" }, { parent: this });
        new SystemdService(
            `${name}-service`,
            { connection, unit: "dynoform-control", unitFile: render("control/dynoform-control.service", {}), restartTriggers: [binary.sha256, config.sha256] },
            { parent: this, dependsOn: [users, binary, config, sudoers, authorized, addonsKey, addonsKnownHosts, ...caDeps, ...((args.dependsOn ?? []) as pulumi.Resource[])] },
        );
        this.gitEndpoint = gitEndpoint;
        this.hostKey = args.host.ssh.apply((c) => c.hostKey);
        this.cliPrivateKey = pulumi.secret(key.privateKey);
        this.registerOutputs({ gitEndpoint: this.gitEndpoint });
    }
}
