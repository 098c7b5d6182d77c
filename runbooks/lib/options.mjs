// Every runbook's command line: --stack (default $DYNOFORM_STACK, else local), --yes (no question
// before a destructive step: for scripts), --help (the runbook's header comment), and its own
// positional arguments. A flag no runbook knows is an error that names the known ones.
import { readFileSync } from "node:fs";
import { minimist } from "zx";

/** The header comment of `file` (its leading `//` lines after the shebang), as --help prints it. */
export function headerOf(file) {
    const lines = readFileSync(file, "utf8").split("\n");
    const out = [];
    for (const l of lines.slice(lines[0]?.startsWith("#!") ? 1 : 0)) {
        if (!l.startsWith("//")) break;
        out.push(l.replace(/^\/\/ ?/, ""));
    }
    return out.join("\n");
}

/**
 * { stack, yes, args } from argv; exits 0 after --help, 2 on a bad command line (with the usage).
 * `spec.usage` is e.g. "drain-host.mjs HOST", `spec.args` the positional count {min, max}, `spec.asks`
 * whether it asks before a destructive step (its usage shows --yes), `spec.booleans`/`spec.strings`
 * its own flags, `spec.alias` their one-letter forms ({a: "app"}) and `spec.required` the string
 * flags it cannot do without.
 */
export function parseOptions(file, spec, argv = process.argv.slice(2)) {
    const known = ["stack", "yes", "help", ...(spec.booleans ?? []), ...(spec.strings ?? [])];
    const unknown = [];
    const parsed = minimist(argv, {
        string: ["stack", ...(spec.strings ?? [])],
        boolean: ["yes", "help", ...(spec.booleans ?? [])],
        alias: { y: "yes", h: "help", ...(spec.alias ?? {}) },
        unknown: (a) => (a.startsWith("-") ? (unknown.push(a), false) : true),
    });
    const usage = `Usage: node runbooks/${spec.usage} [--stack STACK]${spec.asks ? " [--yes]" : ""}`;
    if (parsed.help) {
        process.stdout.write(`${headerOf(file)}\n\n${usage}\n`);
        process.exit(0);
    }
    const args = parsed._.map(String);
    const missingFlag = (spec.required ?? []).find((f) => typeof parsed[f] !== "string" || parsed[f] === "");
    const bad = unknown.length
        ? `unknown flag ${unknown[0]}: the flags are ${known.map((k) => `--${k}`).join(", ")}`
        : missingFlag
          ? `missing --${missingFlag}`
          : args.length < (spec.args?.min ?? 0)
            ? "missing argument"
            : args.length > (spec.args?.max ?? 0)
              ? `unexpected argument "${args[spec.args?.max ?? 0]}"`
              : undefined;
    if (bad) {
        process.stderr.write(`${bad}. ${usage}\n`);
        process.exit(2);
    }
    const stack = parsed.stack || process.env.DYNOFORM_STACK || "local";
    if (!/^[A-Za-z0-9_.-]+$/.test(stack)) {
        process.stderr.write(`--stack ${stack} is not a stack name: use the name of a stacks/Pulumi.<name>.yaml\n`);
        process.exit(2);
    }
    return { ...parsed, stack, yes: parsed.yes === true, args };
}
