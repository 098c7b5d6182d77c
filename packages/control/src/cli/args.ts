// Parse `dynoform <verb> [args] [flags]` against a verb's flag spec. Flags may come before or after
// positional args (Heroku style) except for verbs that pass the rest through (run).
import { UserError } from "../errors";

export interface FlagSpec {
    name: string;
    short?: string;
    /** Takes a value (`-a app`, `--app=app`, `-n 50`); else boolean. */
    value?: boolean;
    description: string;
}

export interface ParsedArgs {
    flags: Record<string, string | boolean>;
    positional: string[];
}

export const APP_FLAG: FlagSpec = { name: "app", short: "a", value: true, description: "app to run the command against" };

/**
 * `passUnknown` (for `run`): flags this verb does not know are the command's, kept in place as
 * positional words; known ones (-a) are dynoform's wherever they are, until `--`. (Heroku's rule.)
 */
export function parseArgs(verb: string, argv: string[], specs: FlagSpec[], opts: { passUnknown?: boolean } = {}): ParsedArgs {
    const flags: Record<string, string | boolean> = {};
    const positional: string[] = [];
    const byLong = new Map(specs.map((s) => [s.name, s]));
    const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--") {
            positional.push(...argv.slice(i + 1));
            break;
        }
        let spec: FlagSpec | undefined;
        let inline: string | undefined;
        if (arg.startsWith("--") && arg.length > 2) {
            const eq = arg.indexOf("=");
            const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
            if (eq !== -1) inline = arg.slice(eq + 1);
            spec = byLong.get(name);
            if (!spec && opts.passUnknown) {
                positional.push(arg);
                continue;
            }
            if (!spec) throw new UserError(`Unexpected flag --${name} for ${verb}: run "dynoform help ${verb}" to see its flags`);
        } else if (/^-[A-Za-z]/.test(arg)) {
            spec = byShort.get(arg[1]);
            if (!spec && opts.passUnknown) {
                positional.push(arg);
                continue;
            }
            if (!spec) throw new UserError(`Unexpected flag ${arg.slice(0, 2)} for ${verb}: run "dynoform help ${verb}" to see its flags`);
            if (arg.length > 2) inline = arg.slice(2);
        } else {
            positional.push(arg);
            continue;
        }
        if (spec.value) {
            const value = inline ?? argv[++i];
            if (value === undefined || value === "") throw new UserError(`Flag --${spec.name} needs a value: e.g. --${spec.name} ${spec.name === "app" ? "myapp" : "VALUE"}`);
            flags[spec.name] = value;
        } else {
            if (inline !== undefined) throw new UserError(`Flag --${spec.name} takes no value: use --${spec.name} alone`);
            flags[spec.name] = true;
        }
    }
    return { flags, positional };
}
