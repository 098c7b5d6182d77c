// releases, rollback
import { Release } from "../app_store";
import { UserError } from "../errors";
import { ago, styledHeader, table } from "../text";
import { APP_FLAG } from "./args";
import { releaseConfig } from "./config";
import { appLabel, flagString, Verb } from "./context";

export function parseVersion(app: string, text: string): number {
    const m = /^v?(\d+)$/.exec(text);
    if (!m || Number(m[1]) < 1) throw new UserError(`Invalid release "${text}": use vN, e.g. v3 (run "dynoform releases -a ${app}" to list releases)`);
    return Number(m[1]);
}

function statusText(r: Release): string {
    if (r.status === "failed") return " (failed)";
    if (r.status === "pending") return " (pending)";
    return "";
}

export function formatReleases(app: string, releases: Release[], now: Date): string[] {
    if (releases.length === 0) return [`${app} has no releases.`];
    const current = releases.find((r) => r.status === "succeeded");
    const header = `${app} Releases${current ? ` - Current: v${current.version}` : ""}`;
    return [
        styledHeader(header),
        ...table(releases.map((r) => [`v${r.version}`, r.description + statusText(r), r.user ?? "dynoform", ago(new Date(r.createdAt), now)])),
    ];
}

export const releases: Verb = {
    name: "releases",
    summary: "display the releases for an app",
    usage: "releases -a APP [-n NUM] [--json]",
    needsApp: true,
    access: "read",
    flags: [APP_FLAG, { name: "num", short: "n", value: true, description: "number of releases to show (default 15)" }, { name: "json", description: "output as JSON" }],
    args: { min: 0, max: 0 },
    async run(ctx, args) {
        const numText = flagString(args, "num") ?? "15";
        if (!/^\d+$/.test(numText) || Number(numText) < 1) throw new UserError(`-n must be a positive number of releases, e.g. -n 20`);
        const list = await ctx.store.listReleases(args.app, Number(numText));
        if (args.flags.json) ctx.out(JSON.stringify(list.map(({ config: _c, ...r }) => r), null, 2)); // never print secrets
        else formatReleases(args.app, list, ctx.now()).forEach((l) => ctx.out(l));
        return 0;
    },
};

export const rollback: Verb = {
    name: "rollback",
    summary: "roll back to an earlier release's code and config vars (makes a new release)",
    usage: "rollback [vN] -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Rollback to ${positional[0] ?? "the previous release"}`, apiLine: false },
    flags: [APP_FLAG],
    args: { min: 0, max: 1 },
    async run(ctx, { app, positional }) {
        await ctx.store.requireApp(app);
        const wanted = positional[0] !== undefined ? parseVersion(app, positional[0]) : undefined;
        const { release, target } = await ctx.store.withAppLock(app, "rollback", async () => {
            const current = await ctx.store.currentRelease(app);
            let target: Release | undefined;
            if (wanted !== undefined) {
                target = await ctx.store.getRelease(app, wanted);
                if (!target) throw new UserError(`Release v${wanted} not found for ${app}: run "dynoform releases -a ${app}" to list releases`);
            } else {
                target = (await ctx.store.listReleases(app)).find((r) => r.status === "succeeded" && r.version < (current?.version ?? 0));
                if (!target) throw new UserError(`${app} has no earlier deployed release to roll back to: name one with "dynoform rollback vN -a ${app}"`);
            }
            const before = await ctx.store.getConfig(app);
            const made = await releaseConfig(ctx, app, { before, after: target.config }, target, `Rollback to v${target.version}`, (err) =>
                new UserError(`Rollback failed, the current release keeps serving: ${err.reason}`),
            );
            return { release: made, target: target.version };
        });
        ctx.err(`Rolling back ${appLabel(app)} to v${target}... done, v${release.version}`);
        ctx.err(" ▸    Warning: rollback affects code and config vars; it doesn't add or remove add-ons or change the database.");
        return 0;
    },
};
