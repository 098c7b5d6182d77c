// A stack's configuration (`pulumi config --json`, with the project's Pulumi environment): its hosts
// (dynoform:hosts) and the settings the runbooks act on, and the few edits they make to it
// (`pulumi config` on that stack, which keeps stacks/Pulumi.<stack>.yaml's other lines as they are).
import { fail } from "./output.mjs";
import { pulumiText } from "./pulumi.mjs";

/** key → value of the stack's config (objects parsed; secrets stay "[secret]"). */
export function stackConfig(stack) {
    const raw = JSON.parse(pulumiText(stack, ["config", "--json"]));
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v.objectValue ?? v.value]));
}

/** dynoform:hosts: [{name, address, roles, ...}]. */
export function configHosts(config) {
    const hosts = config["dynoform:hosts"];
    if (!Array.isArray(hosts)) fail(`the stack's dynoform:hosts is not a list of hosts: see stacks/Pulumi.<stack>.yaml`);
    return hosts;
}

/** The names of the hosts with `role`, in dynoform:hosts' order. */
export function hostsWithRole(hosts, role) {
    return hosts.filter((h) => (h.roles ?? []).includes(role)).map((h) => h.name);
}

/** The host whose disk keeps the backups: dynoform:backupHost, else the control host (as components/platform decides). */
export function backupHostOf(config) {
    return config["dynoform:backupHost"] ?? hostsWithRole(configHosts(config), "control")[0];
}

export function controlHostOf(config) {
    return hostsWithRole(configHosts(config), "control")[0];
}

/**
 * One change to the stack's config as a rotation plan gives it (lib/rotation_plan.mjs): {set: {key:
 * value}} written in one `pulumi config set-all` (so a counter and its phase never land apart), or
 * {rm: key}. Plain values only: nothing secret goes through argv.
 */
export function changeConfig(stack, change) {
    if (change?.set) pulumiText(stack, ["config", "set-all", "--path", ...Object.entries(change.set).flatMap(([k, v]) => ["--plaintext", `${k}=${v}`])]);
    else if (change?.rm) pulumiText(stack, ["config", "rm", "--path", change.rm]);
}
