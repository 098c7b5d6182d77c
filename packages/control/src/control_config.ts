// The control role's configuration, read once per run and passed down: /etc/dynoform/control.json
// (written by the Pulumi component, components/control; $DYNOFORM_CONTROL_CONFIG names another)
// with DYNOFORM_* environment variables over its values (tests, a developer's runs). Secrets (the
// tokens, the slug-signing key) come from the file only, never from the environment.
//
//   file field           environment                   default
//   stateDir             DYNOFORM_STATE_DIR            /var/lib/dynoform
//   domain               DYNOFORM_DOMAIN               dynoform.test
//   gitHost              DYNOFORM_GIT_HOST             localhost
//   gitPort                                            22
//   buildUserPrefix      DYNOFORM_BUILD_USER_PREFIX    none (as root, pushes are then rejected)
//   buildTimeoutS        DYNOFORM_BUILD_TIMEOUT_S      15 minutes (builder.ts)
//   slugListen                                         127.0.0.1:5080
//   slugBaseUrl                                        http://<slugListen>/slugs
//   apiListen                                          none (the REST API is not served)
//   reconcileIntervalMs                                3000
//   agents, agentTokens, agentToken, routers, routerToken, addons, bootTimeoutMs,
//   slugSigningKey, unknownAppGraceMs, logRouterUrl, logRouterToken, edgeCaches, edgeCacheToken:
//                        the fleet (remote_fleet.ts)
//                        DYNOFORM_CONTROL_BINARY       this binary: what the repos' hook runs
//   gitSshDir            DYNOFORM_GIT_SSH_DIR          /home/git/.ssh: the stack's authorized_keys (the first
//                                                      administrators), the users' authorized_keys2 (accounts/)
//   forcedCommandBinary                                /usr/local/lib/dynoform/dynoform-control: the binary
//                                                      authorized_keys2 lines run (the sudoers rule's)
import * as fs from "node:fs";
import type { CliSettings } from "./cli/context";
import { UserError } from "./errors";
import { RemoteFleetConfig } from "./remote_fleet";

export type Env = Record<string, string | undefined>;

export const DEFAULT_CONFIG_FILE = "/etc/dynoform/control.json";

/** The file as components/control writes it: every field optional. */
export interface ControlConfigFile extends Partial<RemoteFleetConfig> {
    stateDir?: string;
    domain?: string;
    gitHost?: string;
    gitPort?: number;
    /** host:port of the slug HTTP server (serve). */
    slugListen?: string;
    /** host:port of the REST API (serve, api/): the control host's private address, behind the edge's api.<domain>. */
    apiListen?: string;
    /** Builds of app X run as the system user `<buildUserPrefix>X` (build_users.ts), made on its first push. */
    buildUserPrefix?: string;
    buildTimeoutS?: number;
    reconcileIntervalMs?: number;
    gitSshDir?: string;
    forcedCommandBinary?: string;
}

export interface ControlConfig {
    /** The state root (state_paths.ts). */
    stateDir: string;
    /** Apps are served at <app>.<domain>. */
    domain: string;
    /** Where users push (the apps' git URLs): the control host's sshd as they reach it. */
    gitHost: string;
    gitPort: number;
    /** host:port the slug server listens on (serve). */
    slugListen: string;
    /** host:port the REST API listens on (serve); none: no API. */
    apiListen?: string;
    /** The slug-signing key (slug_access.ts); without one every slug download is refused. */
    slugSigningKey?: string;
    /** Builds of app X run as `<buildUserPrefix>X`; none: builds run as the caller, and never as root. */
    buildUserPrefix?: string;
    /** A build's deadline; none: builder.ts's default. */
    buildTimeoutMs?: number;
    /** How often `serve` runs a pass of the placement loop. */
    reconcileIntervalMs: number;
    /** The dyno hosts, routers and data host; none when the file names no agents with tokens and no router token. */
    fleet?: RemoteFleetConfig;
    /** What the repos' pre-receive hook runs: this binary (a command line: words split by sh). */
    binary: string;
    /** The git user's ~/.ssh: authorized_keys (the stack's keys, read) and authorized_keys2 (users' keys, written). */
    gitSshDir: string;
    /** The binary users' authorized_keys2 lines force (`command="<it> ssh USER"`): the one sudoers allows. */
    forcedCommandBinary: string;
}

/** The file's fields, or none when there is no file; a file that is not JSON is an error. */
function readConfigFile(file: string): ControlConfigFile {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        return {};
    }
    try {
        return JSON.parse(text) as ControlConfigFile;
    } catch (err) {
        throw new UserError(`control config is not valid JSON: ${(err as Error).message}`, 2);
    }
}

function fleetConfig(file: ControlConfigFile, slugListen: string): RemoteFleetConfig | undefined {
    if (!file.agents?.length || !(file.agentTokens || file.agentToken) || !file.routerToken) return undefined;
    return {
        agents: file.agents,
        ...(file.agentTokens ? { agentTokens: file.agentTokens } : {}),
        ...(file.agentToken ? { agentToken: file.agentToken } : {}),
        routers: file.routers ?? [],
        routerToken: file.routerToken,
        ...(file.addons ? { addons: file.addons } : {}),
        ...(file.bootTimeoutMs ? { bootTimeoutMs: file.bootTimeoutMs } : {}),
        ...(file.unknownAppGraceMs ? { unknownAppGraceMs: file.unknownAppGraceMs } : {}),
        slugBaseUrl: file.slugBaseUrl ?? `http://${slugListen}/slugs`,
        ...(file.slugSigningKey ? { slugSigningKey: file.slugSigningKey } : {}),
        ...(file.edgeCaches?.length && file.edgeCacheToken ? { edgeCaches: file.edgeCaches, edgeCacheToken: file.edgeCacheToken } : {}),
        ...(file.logRouterUrl && file.logRouterToken ? { logRouterUrl: file.logRouterUrl, logRouterToken: file.logRouterToken } : {}),
    };
}

/** A whole number of seconds from the environment, else the file's. */
function seconds(env: Env, name: string, fromFile: number | undefined): number | undefined {
    const v = env[name];
    if (v === undefined || v === "") return fromFile;
    if (!/^\d+$/.test(v)) throw new UserError(`${name}=${v} is not a number: set it to a whole number of seconds`);
    return Number(v);
}

export function loadControlConfig(env: Env): ControlConfig {
    const file = readConfigFile(env.DYNOFORM_CONTROL_CONFIG ?? DEFAULT_CONFIG_FILE);
    // An environment variable that is set and not empty wins over the file.
    const pick = (name: string, fromFile: string | undefined) => (env[name] ? env[name] : fromFile);
    const slugListen = file.slugListen ?? "127.0.0.1:5080";
    const buildTimeoutS = seconds(env, "DYNOFORM_BUILD_TIMEOUT_S", file.buildTimeoutS);
    const buildUserPrefix = pick("DYNOFORM_BUILD_USER_PREFIX", file.buildUserPrefix);
    const fleet = fleetConfig(file, slugListen);
    return {
        stateDir: pick("DYNOFORM_STATE_DIR", file.stateDir) || "/var/lib/dynoform",
        domain: pick("DYNOFORM_DOMAIN", file.domain) || "dynoform.test",
        gitHost: pick("DYNOFORM_GIT_HOST", file.gitHost) || "localhost",
        gitPort: file.gitPort ?? 22,
        slugListen,
        ...(file.apiListen ? { apiListen: file.apiListen } : {}),
        ...(file.slugSigningKey ? { slugSigningKey: file.slugSigningKey } : {}),
        ...(buildUserPrefix ? { buildUserPrefix } : {}),
        ...(buildTimeoutS ? { buildTimeoutMs: buildTimeoutS * 1000 } : {}),
        reconcileIntervalMs: file.reconcileIntervalMs ?? 3000,
        ...(fleet ? { fleet } : {}),
        binary: env.DYNOFORM_CONTROL_BINARY ?? process.execPath,
        gitSshDir: pick("DYNOFORM_GIT_SSH_DIR", file.gitSshDir) || "/home/git/.ssh",
        forcedCommandBinary: file.forcedCommandBinary ?? "/usr/local/lib/dynoform/dynoform-control",
    };
}

/** What the CLI verbs say of apps' URLs (and who runs them, `user`), from the config. */
export function cliSettings(config: ControlConfig, user?: string): CliSettings {
    return {
        domain: config.domain,
        // The scp-like form has no port: off 22 the URL is ssh://, which git reads alike.
        gitUrl: (app) => (config.gitPort === 22 ? `git@${config.gitHost}:${app}.git` : `ssh://git@${config.gitHost}:${config.gitPort}/${app}.git`),
        webUrl: (app) => `http://${app}.${config.domain}/`,
        ...(user ? { user } : {}),
    };
}
