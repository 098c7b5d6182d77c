// ps, ps:scale, ps:restart
import { apiLog, scaledMessage, UNKNOWN_USER } from "../api_log";
import { DEFAULT_SIZE, Formation } from "../app_store";
import { UserError } from "../errors";
import { DynoStatus } from "../fleet";
import { formationTypes, RELEASE_TYPE } from "../procfile";
import { ago, styledHeader, table } from "../text";
import { APP_FLAG } from "./args";
import { appLabel, CliContext, Verb } from "./context";

export interface ScaleChange {
    type: string;
    op: "=" | "+" | "-";
    n: number;
}

const CHANGE = /^([\w-]+)([=+-])(\d+)(?::([\w-]+))?$/;

export function parseScaleArgs(args: string[]): ScaleChange[] {
    return args.map((arg) => {
        if (/^[\w-]+=-\d+$/.test(arg)) throw new UserError(`${arg}: the number of dynos cannot be below 0; use ${arg.split("=")[0]}=0 to stop them`);
        const m = CHANGE.exec(arg);
        if (!m) throw new UserError(`Invalid argument "${arg}": use TYPE=N, TYPE+N or TYPE-N, e.g. web=2`);
        if (m[4] !== undefined && m[4].toLowerCase() !== DEFAULT_SIZE) throw new UserError(`Dyno size "${m[4]}" is not available: dynoform has one size, ${DEFAULT_SIZE}; use ${m[1]}${m[2]}${m[3]}`);
        return { type: m[1], op: m[2] as ScaleChange["op"], n: Number(m[3]) };
    });
}

/** Apply changes to a formation; every error names the fix and nothing is applied. */
export function applyScale(app: string, formation: Formation, processTypes: Record<string, string>, changes: ScaleChange[]): Formation {
    const declared = formationTypes(processTypes);
    if (declared.length === 0) throw new UserError(`No process types on ${appLabel(app)}: deploy with git push first (the Procfile declares the process types)`);
    const next: Formation = JSON.parse(JSON.stringify(formation));
    for (const c of changes) {
        if (c.type === RELEASE_TYPE && processTypes[RELEASE_TYPE] !== undefined) {
            throw new UserError(`"release" is the release phase command, run once per release; it cannot be scaled. Scale one of: ${declared.join(", ")}`);
        }
        if (!declared.includes(c.type)) throw new UserError(`Couldn't find that process type (${c.type}): ${app} has ${declared.join(", ")} (declared in its Procfile)`);
        const cur = next[c.type]?.quantity ?? 0;
        const quantity = c.op === "=" ? c.n : c.op === "+" ? cur + c.n : cur - c.n;
        if (quantity < 0) throw new UserError(`${c.type}${c.op}${c.n} would leave ${quantity} ${c.type} dynos: the number cannot be below 0; use ${c.type}=0 to stop them`);
        if (quantity > 100) throw new UserError(`${c.type} at ${quantity} is above the limit of 100 dynos per process type: use a smaller number`);
        next[c.type] = { quantity, size: next[c.type]?.size ?? DEFAULT_SIZE };
    }
    return next;
}

export const psScale: Verb = {
    name: "ps:scale",
    summary: "scale dyno quantity up or down",
    usage: "ps:scale TYPE1=N [TYPE2=N ...] -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Scale ${positional.join(" ")}`, apiLine: false },
    flags: [APP_FLAG],
    args: { min: 0, max: Infinity },
    async run(ctx, { app, positional }) {
        await ctx.store.requireApp(app);
        if (positional.length === 0) {
            const formation = await ctx.store.getFormation(app);
            const entries = Object.entries(formation);
            if (entries.length === 0) throw new UserError(`No process types on ${appLabel(app)}: deploy with git push first (the Procfile declares the process types)`);
            ctx.out(entries.map(([t, f]) => `${t}=${f.quantity}:${f.size}`).sort().join(" "));
            return 0;
        }
        const changes = parseScaleArgs(positional);
        const formation = await ctx.store.withAppLock(app, "ps:scale", async () => {
            const release = await ctx.store.currentRelease(app);
            const before = await ctx.store.getFormation(app);
            const next = applyScale(app, before, release?.processTypes ?? {}, changes);
            await ctx.store.setFormation(app, next);
            try {
                await ctx.fleet.scale(app, release!, next);
            } catch (err) {
                await ctx.store.setFormation(app, before);
                throw new UserError(`Scaling ${appLabel(app)} failed, its dynos are as they were: ${(err as Error).message}`);
            }
            return next;
        });
        const changed = [...new Set(changes.map((c) => c.type))];
        apiLog(ctx.fleet, app, scaledMessage(formation, changed, ctx.settings.user ?? UNKNOWN_USER));
        ctx.err(`Scaling dynos... done, now running ${changed.map((t) => `${t} at ${formation[t].quantity}:${formation[t].size}`).join(", ")}`);
        return 0;
    },
};

function byNumber(a: DynoStatus, b: DynoStatus): number {
    const n = (d: DynoStatus) => Number(d.name.split(".")[1] ?? 0);
    return a.type === b.type ? n(a) - n(b) : a.type < b.type ? -1 : 1;
}

export function formatPs(app: string, dynos: DynoStatus[], now: Date): string[] {
    if (dynos.length === 0) return [`No dynos on ${appLabel(app)}`];
    const out: string[] = [];
    const oneOffs = dynos.filter((d) => d.type === "run").sort(byNumber);
    if (oneOffs.length > 0) {
        out.push(styledHeader(`run: one-off processes (${oneOffs.length})`));
        for (const d of oneOffs) out.push(`${d.name} (${d.size}): ${d.state} ${ago(d.since, now)}: ${d.command}`);
        out.push("");
    }
    const others = dynos.filter((d) => d.type !== "run").sort(byNumber);
    const groups = new Map<string, DynoStatus[]>();
    for (const d of others) {
        const key = `${d.type}\0${d.command}`;
        groups.set(key, [...(groups.get(key) ?? []), d]);
    }
    for (const group of groups.values()) {
        const first = group[0];
        out.push(styledHeader(`${first.type} (${first.size}): ${first.command} (${group.length})`));
        for (const d of group) out.push(`${d.name}: ${d.state} ${ago(d.since, now)}`);
        out.push("");
    }
    if (out[out.length - 1] === "") out.pop();
    return out;
}

export function formatPsExtended(dynos: DynoStatus[], now: Date): string[] {
    return table(
        [...dynos].sort(byNumber).map((d) => [d.name, `${d.state} ${ago(d.since, now)}`, d.host ?? "", `v${d.release}`, d.command, d.size]),
        ["Process", "State", "Host", "Release", "Command", "Size"],
    );
}

export const ps: Verb = {
    name: "ps",
    summary: "list dynos for an app",
    usage: "ps [TYPE ...] -a APP [-x]",
    needsApp: true,
    access: "read",
    flags: [APP_FLAG, { name: "extended", short: "x", description: "show host and release of each dyno" }, { name: "json", description: "output as JSON" }],
    args: { min: 0, max: Infinity },
    async run(ctx, { app, positional, flags }) {
        await ctx.store.requireApp(app);
        let dynos = await ctx.fleet.dynos(app);
        if (positional.length > 0) {
            for (const t of positional) {
                if (!dynos.some((d) => d.type === t)) throw new UserError(`No ${t} dynos on ${appLabel(app)}: run "dynoform ps -a ${app}" to see its dynos`);
            }
            dynos = dynos.filter((d) => positional.includes(d.type));
        }
        const lines = flags.json ? [JSON.stringify(dynos, null, 2)] : flags.extended ? formatPsExtended(dynos, ctx.now()) : formatPs(app, dynos, ctx.now());
        lines.forEach((l) => ctx.out(l));
        return 0;
    },
};

async function checkRestartTarget(ctx: CliContext, app: string, target: string): Promise<void> {
    const dynos = await ctx.fleet.dynos(app);
    if (target.includes(".")) {
        if (!dynos.some((d) => d.name === target)) throw new UserError(`Couldn't find that dyno (${target}) on ${app}: run "dynoform ps -a ${app}" to see its dynos`);
        return;
    }
    const release = await ctx.store.currentRelease(app);
    const types = formationTypes(release?.processTypes ?? {});
    if (!types.includes(target)) throw new UserError(`Couldn't find that process type (${target}): ${app} has ${types.join(", ") || "no process types yet"}`);
}

export const psRestart: Verb = {
    name: "ps:restart",
    summary: "restart all dynos, those of one type, or one dyno",
    usage: "ps:restart [TYPE|DYNO] -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Restart ${positional[0] ?? "all dynos"}`, apiLine: true },
    flags: [APP_FLAG],
    args: { min: 0, max: 1 },
    async run(ctx, { app, positional }) {
        await ctx.store.requireApp(app);
        const target = positional[0];
        if (target) await checkRestartTarget(ctx, app, target);
        await ctx.fleet.restart(app, target);
        const what = !target ? "dynos" : target.includes(".") ? `${target} dyno` : `${target} dynos`;
        ctx.err(`Restarting ${what} on ${appLabel(app)}... done`);
        return 0;
    },
};
