// maintenance, maintenance:on, maintenance:off — Heroku's maintenance mode: every router answers
// the app's requests 503 with the maintenance page (H80) and no dyno sees them; dynos keep running
// (one-offs, `run`, migrations work). The mode is kept in the app's state (maintenance.json) and
// the placement loop sends it again to a router that lost it.
import { pageUrlWarning, routeState } from "../app_route";
import { APP_FLAG } from "./args";
import { appLabel, CliContext, Verb } from "./context";

/** Store the mode, then tell every router; the lock keeps two toggles from crossing. */
async function setMaintenance(ctx: CliContext, app: string, enabled: boolean): Promise<void> {
    await ctx.store.requireApp(app);
    await ctx.store.withAppLock(app, enabled ? "maintenance:on" : "maintenance:off", async () => {
        await ctx.store.setMaintenance(app, enabled);
        await ctx.fleet.routesChanged(app, await routeState(ctx.store, app));
    });
}

export const maintenance: Verb = {
    name: "maintenance",
    summary: "display the current maintenance status of an app",
    usage: "maintenance -a APP",
    needsApp: true,
    access: "read",
    flags: [APP_FLAG],
    args: { min: 0, max: 0 },
    async run(ctx, { app }) {
        ctx.out((await ctx.store.getMaintenance(app)) ? "on" : "off");
        return 0;
    },
};

export const maintenanceOn: Verb = {
    name: "maintenance:on",
    summary: "put the app into maintenance mode",
    usage: "maintenance:on -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: () => "Enable maintenance mode", apiLine: true },
    flags: [APP_FLAG],
    args: { min: 0, max: 0 },
    async run(ctx, { app }) {
        await setMaintenance(ctx, app, true);
        ctx.err(`Enabling maintenance mode for ${appLabel(app)}... done`);
        const warning = pageUrlWarning(await ctx.store.getConfig(app));
        if (warning) ctx.err(`Warning: ${warning}`);
        return 0;
    },
};

export const maintenanceOff: Verb = {
    name: "maintenance:off",
    summary: "take the app out of maintenance mode",
    usage: "maintenance:off -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: () => "Disable maintenance mode", apiLine: true },
    flags: [APP_FLAG],
    args: { min: 0, max: 0 },
    async run(ctx, { app }) {
        await setMaintenance(ctx, app, false);
        ctx.err(`Disabling maintenance mode for ${appLabel(app)}... done`);
        return 0;
    },
};
