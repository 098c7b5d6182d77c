// The dashboard's changes, each the CLI verb of the same name run for the signed-in user
// (verb_runner.ts): what the form carries is checked here only as far as turning it into the
// verb's words needs; the verb checks the rest and says what is wrong in its own words. Each
// names the permission it needs and what the audit log records of it (config keys, never values).
import type { Permission } from "../accounts/principal";
import { keyProblem } from "../config_vars";
import { configSet, configUnset } from "../cli/config";
import { domainsAdd, domainsRemove } from "../cli/domains";
import { psRestart, psScale } from "../cli/ps";
import { rollback } from "../cli/releases";
import { runVerb, VerbDeps, VerbOutcome } from "./verb_runner";

export interface ActionResult {
    outcome: VerbOutcome;
    /** What the audit log says changed (set on success). */
    detail: string;
}

export interface Action {
    /** The audit log's verb-like name (Heroku's verb). */
    name: string;
    permission: Permission;
    run(deps: VerbDeps, user: string, app: string, form: URLSearchParams): Promise<ActionResult>;
}

function refused(message: string): ActionResult {
    return { outcome: { ok: false, lines: [message] }, detail: "" };
}

function field(form: URLSearchParams, name: string): string {
    return (form.get(name) ?? "").trim();
}

/** `quantity.web=2` fields → `web=2` words; the verb knows the app's process types. */
function scaleWords(form: URLSearchParams): string[] | string {
    const words: string[] = [];
    for (const [name, value] of form) {
        if (!name.startsWith("quantity.")) continue;
        const type = name.slice("quantity.".length);
        if (!/^[\w-]+$/.test(type)) return `"${type}" is not a process type: use the names the Procfile declares`;
        if (!/^\d{1,3}$/.test(value.trim())) return `The quantity of ${type} must be a whole number from 0 to 100, not "${value}"`;
        words.push(`${type}=${Number(value.trim())}`);
    }
    return words.length === 0 ? "Nothing to scale: give a quantity for at least one process type" : words;
}

const scale: Action = {
    name: "scale",
    permission: "operate",
    async run(deps, user, app, form) {
        const words = scaleWords(form);
        if (typeof words === "string") return refused(words);
        return { outcome: await runVerb(deps, user, psScale, app, words), detail: words.join(" ") };
    },
};

const setConfig: Action = {
    name: "config:set",
    permission: "operate",
    async run(deps, user, app, form) {
        const key = field(form, "key");
        if (!key) return refused("Give the config var a name, e.g. DATABASE_POOL");
        const problem = keyProblem(key);
        if (problem) return refused(problem);
        return { outcome: await runVerb(deps, user, configSet, app, [`${key}=${form.get("value") ?? ""}`]), detail: `Set ${key}` };
    },
};

const unsetConfig: Action = {
    name: "config:unset",
    permission: "operate",
    async run(deps, user, app, form) {
        const key = field(form, "key");
        if (!key) return refused("Say which config var to remove");
        return { outcome: await runVerb(deps, user, configUnset, app, [key]), detail: `Remove ${key}` };
    },
};

const rollBack: Action = {
    name: "rollback",
    permission: "operate",
    async run(deps, user, app, form) {
        const version = field(form, "version");
        if (!version) return refused("Say which release to roll back to, e.g. v3");
        return { outcome: await runVerb(deps, user, rollback, app, [version]), detail: `Rollback to ${version.startsWith("v") ? version : `v${version}`}` };
    },
};

const addDomain: Action = {
    name: "domains:add",
    permission: "operate",
    async run(deps, user, app, form) {
        const hostname = field(form, "hostname");
        if (!hostname) return refused("Give the domain's name, e.g. www.example.com");
        return { outcome: await runVerb(deps, user, domainsAdd, app, [hostname]), detail: `Add ${hostname.toLowerCase()}` };
    },
};

const removeDomain: Action = {
    name: "domains:remove",
    permission: "operate",
    async run(deps, user, app, form) {
        const hostname = field(form, "hostname");
        if (!hostname) return refused("Say which domain to remove");
        return { outcome: await runVerb(deps, user, domainsRemove, app, [hostname]), detail: `Remove ${hostname.toLowerCase()}` };
    },
};

const restart: Action = {
    name: "restart",
    permission: "operate",
    async run(deps, user, app) {
        return { outcome: await runVerb(deps, user, psRestart, app, []), detail: "Restart all dynos" };
    },
};

/** By the last segments of the form's path: POST /apps/<app>/<path>. */
export const ACTIONS: Record<string, Action> = {
    formation: scale,
    config: setConfig,
    "config/unset": unsetConfig,
    rollback: rollBack,
    domains: addDomain,
    "domains/remove": removeDomain,
    restart,
};
