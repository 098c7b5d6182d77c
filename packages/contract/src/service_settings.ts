// How every dynoform service reads its settings, the ones the components render for it
// (templates/router/router.json, templates/logplex/…): its defaults, then a JSON file (`--config
// PATH` or $<PREFIX>CONFIG), then environment variables (<PREFIX><KEY_IN_UPPER_SNAKE_CASE>), then
// `--key value` / `--key=value` flags (camelCase keys in kebab case). Each later layer wins.
import { readFileSync } from "node:fs";

export interface SettingsSource<T extends object> {
    defaults: T;
    /** The environment variables' prefix, e.g. "DYNOFORM_ROUTER_"; `${envPrefix}CONFIG` names the file. */
    envPrefix: string;
    /** A raw value (file, environment or flag) as the key's type; throws with the key named. */
    coerce(key: keyof T, raw: unknown): unknown;
    /** Keys refused as flags, each with what to use instead (a secret in argv shows in `ps`). */
    notFlags?: Partial<Record<keyof T & string, string>>;
}

export const toUpperSnake = (k: string): string => k.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase();
export const toKebab = (k: string): string => k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

function flagsOf(argv: string[]): Map<string, string> {
    const flags = new Map<string, string>();
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
        const eq = a.indexOf("=");
        if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
        else {
            if (i + 1 >= argv.length) throw new Error(`flag ${a} needs a value`);
            flags.set(a.slice(2), argv[++i]);
        }
    }
    return flags;
}

/** The settings from every layer; an unknown key in the file or an unknown flag stops the start. */
export function readSettings<T extends object>(source: SettingsSource<T>, argv: string[], env: NodeJS.ProcessEnv): T {
    const settings: T = { ...source.defaults };
    const keys = Object.keys(source.defaults) as (keyof T & string)[];
    const set = (k: keyof T, v: unknown) => {
        (settings as Record<keyof T, unknown>)[k] = source.coerce(k, v);
    };
    const flags = flagsOf(argv);
    const configPath = flags.get("config") ?? env[`${source.envPrefix}CONFIG`];
    if (configPath) {
        const json = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
        for (const [k, v] of Object.entries(json)) {
            if (!(k in source.defaults)) throw new Error(`config file ${configPath}: unknown key ${k}`);
            set(k as keyof T, v);
        }
    }
    for (const k of keys) {
        const v = env[source.envPrefix + toUpperSnake(k)];
        if (v !== undefined && v !== "") set(k, v);
    }
    for (const [f, v] of flags) {
        if (f === "config") continue;
        const k = keys.find((key) => toKebab(key) === f || key === f);
        if (!k) throw new Error(`unknown flag --${f}`);
        const refusal = source.notFlags?.[k];
        if (refusal) throw new Error(refusal);
        set(k, v);
    }
    return settings;
}
