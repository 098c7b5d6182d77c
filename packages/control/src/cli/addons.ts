// addons:create memcache — an app's own Memcached for an app made before apps had one (they pointed
// MEMCACHE_SERVERS at the data host's shared, unauthenticated instance, which is gone).
import { describeChange } from "../config_vars";
import { UserError } from "../errors";
import { listJoin } from "../text";
import { APP_FLAG } from "./args";
import { changeConfig, releaseSuffix } from "./config";
import { appLabel, Verb } from "./context";

const KINDS = ["memcache"];

export const addonsCreate: Verb = {
    name: "addons:create",
    summary: "give an app made before per-app Memcached its own (makes a new release)",
    usage: "addons:create memcache -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Add ${positional[0]} add-on`, apiLine: true },
    flags: [APP_FLAG],
    args: { min: 1, max: 1 },
    async run(ctx, { app, positional }) {
        const [kind] = positional;
        if (!KINDS.includes(kind)) throw new UserError(`Unknown add-on ${kind}: the one to create is memcache (apps:create makes every app's add-ons)`);
        await ctx.store.requireApp(app);
        if ((await ctx.store.getConfig(app)).MEMCACHE_USERNAME !== undefined) {
            throw new UserError(`${app} already has its own Memcached (MEMCACHE_USERNAME is set): nothing to do`);
        }
        const vars = await ctx.fleet.provisionAddons(app, ["memcache"]);
        const keys = Object.keys(vars).sort();
        if (keys.length === 0) throw new UserError(`This platform has no data host for add-ons: add the data role to a host of dynoform:hosts`);
        const release = await changeConfig(ctx, app, (cur) => ({ ...cur, ...vars }), describeChange("Set", keys));
        ctx.err(`Creating memcache on ${appLabel(app)}... done${releaseSuffix(release)}`);
        ctx.out(`Set ${listJoin(keys)}`);
        return 0;
    },
};
