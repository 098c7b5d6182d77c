// `dynoform <verb> ...`: find the verb, parse its args, run it; a UserError becomes one line on
// stderr and exit 1, with nothing changed.
import { isUserError, UserError } from "../errors";
import { FleetError } from "../fleet";
import { appNameProblem } from "../app_store";
import { parseArgs } from "./args";
import { addonsCreate } from "./addons";
import { apps, appsCreate, appsDestroy, appsInfo, gitRemote } from "./apps";
import { buildpacks, buildpacksAdd, buildpacksClear, buildpacksRemove, buildpacksSet } from "./buildpacks";
import { cachePurge } from "./cache";
import { config, configGet, configSet, configUnset } from "./config";
import { access, accessAdd, accessRemove } from "./access";
import { audit } from "./audit";
import { authorizations, authorizationsCreate, authorizationsRevoke } from "./authorizations";
import { authorize } from "./authorize";
import { CliContext, recordAudit, usageError, Verb } from "./context";
import { keys, keysAdd, keysRemove } from "./keys";
import { users, usersAdd, usersRemove } from "./users";
import { domains, domainsAdd, domainsRemove } from "./domains";
import { drains, drainsAdd, drainsRemove } from "./drains";
import { logs, run } from "./dynos";
import { pgBackups, pgBackupsCapture, pgBackupsRestore, pgBackupsSchedule, pgCredentialsRotate, pgPsql } from "./pg";
import { hosts, hostsDrain, hostsUndrain } from "./hosts";
import { maintenance, maintenanceOff, maintenanceOn } from "./maintenance";
import { ps, psRestart, psScale } from "./ps";
import { releases, rollback } from "./releases";

export const VERBS: Verb[] = [apps, appsCreate, appsDestroy, appsInfo, config, configGet, configSet, configUnset, ps, psScale, psRestart, releases, rollback, run, logs, drains, drainsAdd, drainsRemove, domains, domainsAdd, domainsRemove, buildpacks, buildpacksSet, buildpacksAdd, buildpacksRemove, buildpacksClear, gitRemote, addonsCreate, maintenance, maintenanceOn, maintenanceOff, cachePurge, hosts, hostsDrain, hostsUndrain, pgBackups, pgBackupsCapture, pgBackupsRestore, pgBackupsSchedule, pgPsql, pgCredentialsRotate, access, accessAdd, accessRemove, keys, keysAdd, keysRemove, users, usersAdd, usersRemove, authorizations, authorizationsCreate, authorizationsRevoke, audit];

/** Heroku's aliases. */
const ALIASES: Record<string, string> = {
    create: "apps:create",
    destroy: "apps:destroy",
    info: "apps:info",
    "apps:list": "apps",
    "config:add": "config:set",
    "config:remove": "config:unset",
    scale: "ps:scale",
    restart: "ps:restart",
    "dyno:scale": "ps:scale",
    "dyno:restart": "ps:restart",
    "releases:rollback": "rollback",
    "domains:list": "domains",
    "drains:list": "drains",
    "pg:backups:list": "pg:backups",
    "pg:backups:restores": "pg:backups",
    sharing: "access",
    "sharing:add": "access:add",
    "sharing:remove": "access:remove",
    "authorizations:list": "authorizations",
    "authorizations:destroy": "authorizations:revoke",
};

export const ERROR_PREFIX = " ▸    ";

function distance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++)
        for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length][b.length];
}

export function findVerb(name: string): Verb | undefined {
    const canonical = ALIASES[name] ?? name;
    return VERBS.find((v) => v.name === canonical);
}

function unknownVerb(name: string): UserError {
    const best = VERBS.map((v) => v.name)
        .map((n) => ({ n, d: distance(name, n) }))
        .sort((a, b) => a.d - b.d)[0];
    const hint = best && best.d <= Math.max(1, Math.floor(name.length / 3)) ? `Did you mean "dynoform ${best.n}"? ` : "";
    return new UserError(`"${name}" is not a dynoform command. ${hint}Run "dynoform help" to list commands`);
}

export function helpLines(verb?: Verb): string[] {
    if (verb) {
        return [
            `Usage: dynoform ${verb.usage}`,
            "",
            verb.summary,
            "",
            "Flags:",
            ...verb.flags.map((f) => `  ${f.short ? `-${f.short}, ` : "    "}--${f.name}${f.value ? ` ${f.name.toUpperCase()}` : ""}`.padEnd(26) + f.description),
        ];
    }
    const width = Math.max(...VERBS.map((v) => v.name.length)) + 2;
    return ["Usage: dynoform COMMAND [ARGS] [-a APP]", "", "Commands:", ...VERBS.map((v) => `  ${v.name.padEnd(width)}${v.summary}`)];
}

/** Run one CLI invocation; returns the exit code. `env` supplies DYNOFORM_APP as a default -a. */
export async function runCli(argv: string[], ctx: CliContext, env: Record<string, string | undefined> = {}): Promise<number> {
    try {
        const [name, ...rest] = argv;
        if (name === undefined || name === "help" || name === "--help" || name === "-h") {
            const verb = rest[0] !== undefined ? findVerb(rest[0]) : undefined;
            if (rest[0] !== undefined && !verb) throw unknownVerb(rest[0]);
            helpLines(verb).forEach((l) => ctx.out(l));
            return 0;
        }
        const verb = findVerb(name);
        if (!verb) throw unknownVerb(name);
        if (rest.includes("--help") && !verb.passThrough) {
            helpLines(verb).forEach((l) => ctx.out(l));
            return 0;
        }
        const parsed = parseArgs(verb.name, rest, verb.flags, { passUnknown: verb.passThrough });
        if (parsed.positional.length < verb.args.min) throw usageError(verb, `Missing argument for ${verb.name}`);
        if (parsed.positional.length > verb.args.max) throw usageError(verb, `Unexpected argument "${parsed.positional[verb.args.max]}" for ${verb.name}`);
        let app = (parsed.flags.app as string | undefined) ?? env.DYNOFORM_APP ?? "";
        if (verb.needsApp) {
            if (!app) throw new UserError(`Missing app: pass -a APP (run "dynoform apps" to list apps). Usage: dynoform ${verb.usage}`);
            if (appNameProblem(app)) throw new UserError(`Couldn't find that app: ${app}. Run "dynoform apps" to list apps.`);
        } else app = app || "";
        const args = { ...parsed, app };
        if (ctx.caller) await authorize(verb, args, ctx.caller);
        const audit = typeof verb.audit === "object" ? verb.audit : undefined;
        const detail = audit?.detail(args);
        const record = () => (audit && detail !== undefined ? recordAudit(ctx, { app, action: verb.name, detail }, { apiLine: audit.apiLine }) : Promise.resolve());
        if (audit?.before) await record();
        const code = await verb.run(ctx, args);
        // A change is recorded once it happened (a verb that threw changed nothing, or says what it left).
        if (!audit?.before && code === 0) await record();
        return code;
    } catch (err) {
        if (isUserError(err)) {
            ctx.err(ERROR_PREFIX + err.message.replace(/\s*\n\s*/g, " "));
            return err.exitCode;
        }
        if (err instanceof FleetError) {
            ctx.err(ERROR_PREFIX + err.message.replace(/\s*\n\s*/g, " "));
            return 1;
        }
        ctx.err(`${ERROR_PREFIX}Internal error: ${(err as Error).message}. The command may not have completed: check with "dynoform releases" and report this with the control host's logs.`);
        return 2;
    }
}
