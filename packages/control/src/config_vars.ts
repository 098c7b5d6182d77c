// Config vars: parsing `KEY=value` arguments (Heroku's rules), the keys the platform owns, and the
// `dynoform config` output shapes.
import { CONFIG_VAR_NAME } from "@dynoform/contract";
import { CACHE_PURGE_ON_RELEASE } from "./cache_purge";
import { UserError } from "./errors";
import { styledHeader, styledObject } from "./text";

export type ConfigVars = Record<string, string>;

/** Set by the platform in every dyno; an app cannot set them. */
export const RESERVED_KEYS = ["PORT", "DYNO", "PS"] as const;
export const RESERVED_PREFIX = "DYNOFORM_";
/** Under the prefix, yet the app's to set: settings the platform reads from the app's config (never sets). */
export const APP_SETTINGS: readonly string[] = [CACHE_PURGE_ON_RELEASE];

export function keyProblem(key: string): string | undefined {
    if (!CONFIG_VAR_NAME.test(key)) {
        const suggestion = key.replace(/[^A-Za-z0-9_]/g, "_").replace(/^(\d)/, "_$1");
        return `"${key}" is not a valid config var name: use letters, digits and "_", not starting with a digit (e.g. ${suggestion || "FOO"})`;
    }
    if ((RESERVED_KEYS as readonly string[]).includes(key) || (key.startsWith(RESERVED_PREFIX) && !APP_SETTINGS.includes(key))) {
        return `${key} is set by dynoform in every dyno and cannot be changed: choose another name`;
    }
    return undefined;
}

/** Parse `KEY=value` args. The value is everything after the first `=` and may be empty. */
export function parseAssignments(args: string[]): ConfigVars {
    if (args.length === 0) throw new UserError("Usage: dynoform config:set KEY1=VALUE1 [KEY2=VALUE2 ...] -a APP: specify at least one KEY=VALUE");
    const vars: ConfigVars = {};
    for (const arg of args) {
        const eq = arg.indexOf("=");
        if (eq === -1) throw new UserError(`${arg} is invalid: use the format ${arg || "FOO"}=value`);
        const key = arg.slice(0, eq);
        const problem = keyProblem(key);
        if (problem) throw new UserError(problem);
        vars[key] = arg.slice(eq + 1);
    }
    return vars;
}

/** Validate `config:unset` keys. */
export function parseKeys(args: string[], verb = "config:unset"): string[] {
    if (args.length === 0) throw new UserError(`Usage: dynoform ${verb} KEY1 [KEY2 ...] -a APP: specify at least one KEY`);
    for (const key of args) {
        if (!CONFIG_VAR_NAME.test(key)) throw new UserError(keyProblem(key)!);
    }
    return [...new Set(args)];
}

/** Release description for a config change: "Set FOO, BAR config vars" / "Remove FOO config vars". */
export function describeChange(verb: "Set" | "Remove", keys: string[]): string {
    return `${verb} ${keys.join(", ")} config vars`;
}

export function withSet(current: ConfigVars, set: ConfigVars): ConfigVars {
    return { ...current, ...set };
}

export function withUnset(current: ConfigVars, keys: string[]): ConfigVars {
    const next = { ...current };
    for (const k of keys) delete next[k];
    return next;
}

function sortedKeys(vars: ConfigVars): string[] {
    return Object.keys(vars).sort();
}

/** `dynoform config`: `=== app Config Vars` then aligned `KEY: value` lines, keys sorted. */
export function formatConfig(app: string, vars: ConfigVars): string[] {
    if (Object.keys(vars).length === 0) return [`${app} has no config vars.`];
    return [styledHeader(`${app} Config Vars`), ...styledObject(vars, sortedKeys(vars))];
}

/** `dynoform config --shell`: `KEY='value'` lines, safe to eval in sh. */
export function formatShell(vars: ConfigVars): string[] {
    return sortedKeys(vars).map((k) => `${k}='${vars[k].replace(/'/g, `'\\''`)}'`);
}

/** `dynoform config --json`. */
export function formatJson(vars: ConfigVars): string[] {
    const sorted: ConfigVars = {};
    for (const k of sortedKeys(vars)) sorted[k] = vars[k];
    return JSON.stringify(sorted, null, 2).split("\n");
}
