// hosts, hosts:drain, hosts:undrain — the operator's view of the dyno hosts (runbooks/drain-host.mjs
// and undrain-host.mjs call these). A drained host gets no dyno; draining moves every app's dynos
// off it, each replacement up (web: registered) before the dyno it replaces stops.
import { UserError } from "../errors";
import { styledHeader, table } from "../text";
import { Verb } from "./context";

export const hosts: Verb = {
    name: "hosts",
    summary: "list the dyno hosts: up or down, drained, dynos placed",
    usage: "hosts [--json]",
    needsApp: false,
    access: "admin",
    flags: [{ name: "json", description: "output as JSON" }],
    args: { min: 0, max: 0 },
    async run(ctx, { flags }) {
        const list = await ctx.fleet.hosts();
        if (flags.json) {
            ctx.out(JSON.stringify(list, null, 2));
            return 0;
        }
        if (list.length === 0) {
            ctx.out("This platform has no dyno hosts configured.");
            return 0;
        }
        ctx.out(styledHeader("Dyno Hosts"));
        table(list.map((h) => [h.host, h.state, h.drainedSince ? `since ${h.drainedSince}` : "no", String(h.dynos)]), ["Host", "State", "Drained", "Dynos"]).forEach((l) => ctx.out(l));
        return 0;
    },
};

export const hostsDrain: Verb = {
    name: "hosts:drain",
    summary: "place no dyno on a dyno host and move its dynos elsewhere, without a failed request",
    usage: "hosts:drain HOST",
    needsApp: false,
    access: "admin",
    audit: { detail: ({ positional }) => `Drain host ${positional[0]}`, apiLine: false },
    flags: [],
    args: { min: 1, max: 1 },
    async run(ctx, { positional }) {
        const host = positional[0];
        // The heading comes with the first move, so a refusal stays one line.
        let started = false;
        const { moved, failed } = await ctx.fleet.drainHost(host, (l) => {
            if (!started) ctx.err(`Draining ${host}...`);
            started = true;
            ctx.err(`  ${l}`);
        });
        if (failed.length > 0) {
            throw new UserError(`${host} is drained but the dynos of ${failed.join(", ")} are still on it (see above): fix the cause and run "dynoform hosts:drain ${host}" again`);
        }
        ctx.err(`Draining ${host}... done, ${moved} dyno${moved === 1 ? "" : "s"} moved`);
        return 0;
    },
};

export const hostsUndrain: Verb = {
    name: "hosts:undrain",
    summary: "let a drained dyno host take dynos again",
    usage: "hosts:undrain HOST",
    needsApp: false,
    access: "admin",
    audit: { detail: ({ positional }) => `Undrain host ${positional[0]}`, apiLine: false },
    flags: [],
    args: { min: 1, max: 1 },
    async run(ctx, { positional }) {
        const host = positional[0];
        await ctx.fleet.undrainHost(host);
        ctx.err(`Undraining ${host}... done`);
        ctx.err("Dynos go to it again from the next deploy or ps:scale (none is moved back at once).");
        return 0;
    },
};
