// drains, drains:add URL, drains:remove URL: the app's log drains at the log router (syslog over
// TCP or TLS, HTTPS in Heroku's logplex-1 format), in Heroku's wording.
import { HttpError } from "../api_request";
import { UserError } from "../errors";
import type { LogRouterClient } from "../log_router_client";
import { APP_FLAG } from "./args";
import { appLabel, CliContext, flagString, Verb } from "./context";
import { styledHeader } from "../text";

const MAX_CA_BYTES = 64 * 1024;

/** What the audit log says of a drain: its host only (a drain URL may hold credentials). */
export function drainHost(url: string | undefined): string {
    try {
        return new URL(url ?? "").host || "(a drain)";
    } catch {
        return "(a drain)";
    }
}

function logRouter(ctx: CliContext): LogRouterClient {
    if (!ctx.fleet.logRouter) throw new UserError("No log router is configured for this platform: control.json needs logRouterUrl and logRouterToken (components/logs sets them on `pulumi up`)");
    return ctx.fleet.logRouter;
}

/** The log router's refusal (422: why the drain did not answer; 404: no such drain) as the user's error. */
function refused(err: unknown): never {
    if (err instanceof HttpError && err.status >= 400 && err.status < 500) throw new UserError(err.message.replace(/^.*?: \d{3} /, ""));
    throw err;
}

/** `--ca -`: the PEM certificates that sign the drain's TLS certificate, read from stdin (ssh passes it on). */
async function readCa(ctx: CliContext, value: string | undefined): Promise<string | undefined> {
    if (value === undefined) return undefined;
    if (value !== "-" || !ctx.stdin) throw new UserError(`--ca takes "-" and the PEM on stdin, e.g. dynoform drains:add https://logs.example.com --ca - < ca.pem`);
    let pem = "";
    for await (const chunk of ctx.stdin as AsyncIterable<Buffer | string>) {
        pem += chunk.toString();
        if (pem.length > MAX_CA_BYTES) throw new UserError(`--ca: more than ${MAX_CA_BYTES} bytes on stdin; give only the CA certificates (PEM)`);
    }
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new UserError("--ca: stdin holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    return pem;
}

export const drains: Verb = {
    name: "drains",
    summary: "list the app's log drains",
    usage: "drains -a APP [--json]",
    needsApp: true,
    access: "read",
    flags: [APP_FLAG, { name: "json", description: "output as JSON" }],
    args: { min: 0, max: 0 },
    async run(ctx, { app, flags }) {
        await ctx.store.requireApp(app);
        const list = await logRouter(ctx).drains(app).catch(refused);
        if (flags.json) {
            ctx.out(JSON.stringify(list, null, 2));
            return 0;
        }
        if (list.length === 0) {
            ctx.err(`${appLabel(app)} has no drains`);
            return 0;
        }
        ctx.out(styledHeader("Drains"));
        for (const d of list) ctx.out(`${d.url} (${d.token})`);
        return 0;
    },
};

export const drainsAdd: Verb = {
    name: "drains:add",
    summary: "add a log drain (syslog://host:port, syslog+tls://host:port or https://...)",
    usage: "drains:add URL -a APP [--ca -]",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Add drain ${drainHost(positional[0])}`, apiLine: true },
    flags: [APP_FLAG, { name: "ca", value: true, description: "- : read the PEM CA that signs the drain's certificate from stdin" }],
    args: { min: 1, max: 1 },
    async run(ctx, args) {
        const { app, positional } = args;
        await ctx.store.requireApp(app);
        const ca = await readCa(ctx, flagString(args, "ca"));
        const added = await logRouter(ctx).addDrain(app, positional[0], ca).catch(refused);
        ctx.err(`Successfully added drain ${added.url}`);
        return 0;
    },
};

export const drainsRemove: Verb = {
    name: "drains:remove",
    summary: "remove a log drain (by its URL or token)",
    usage: "drains:remove URL -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Remove drain ${drainHost(positional[0])}`, apiLine: true },
    flags: [APP_FLAG],
    args: { min: 1, max: 1 },
    async run(ctx, { app, positional }) {
        await ctx.store.requireApp(app);
        await logRouter(ctx).removeDrain(app, positional[0]).catch(refused);
        ctx.err(`Successfully removed drain ${positional[0]}`);
        return 0;
    },
};
