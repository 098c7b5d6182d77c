// buildpacks, buildpacks:set, buildpacks:add, buildpacks:remove, buildpacks:clear — the app's
// buildpacks, used from its next push (no release now, as on Heroku).
import { checkBuildpackSpec } from "../buildpacks/buildpack_source";
import { UserError } from "../errors";
import { styledHeader } from "../text";
import { APP_FLAG, FlagSpec, ParsedArgs } from "./args";
import { CliContext, flagString, Verb } from "./context";

const INDEX_FLAG: FlagSpec = { name: "index", short: "i", value: true, description: "the buildpack's position in the list (1 is the first)" };

/** The -i value: a whole number from 1 to `max`, or undefined when not given. */
export function parseIndex(args: ParsedArgs, max: number, verb: string): number | undefined {
    const raw = flagString(args, "index");
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > max) {
        throw new UserError(`Invalid index ${raw} for ${verb}: use a number from 1 to ${max}${max === 1 ? "" : ` (run "dynoform buildpacks" to see the list)`}`);
    }
    return n;
}

function listLines(list: string[]): string[] {
    return list.length === 1 ? [list[0]] : list.map((b, i) => `${i + 1}. ${b}`);
}

function nextRelease(ctx: CliContext, app: string, list: string[]): void {
    if (list.length === 0) {
        ctx.out(`Buildpacks cleared. Next release on ${app} will detect buildpacks normally (Ruby, Python, Node.js, then Procfile).`);
        return;
    }
    if (list.length === 1) ctx.out(`Next release on ${app} will use ${list[0]}.`);
    else {
        ctx.out(`Next release on ${app} will use:`);
        listLines(list).forEach((l) => ctx.out(`  ${l}`));
    }
    ctx.out(`Run git push dynoform main to create a new release using ${list.length === 1 ? "this buildpack" : "these buildpacks"}.`);
}

/** Change the app's list under its lock; `change` returns the new list. */
async function update(ctx: CliContext, app: string, verb: string, change: (list: string[]) => string[]): Promise<string[]> {
    await ctx.store.requireApp(app);
    return ctx.store.withAppLock(app, verb, async () => {
        const next = change(await ctx.store.getBuildpacks(app));
        await ctx.store.setBuildpacks(app, next);
        return next;
    });
}

export const buildpacks: Verb = {
    name: "buildpacks",
    summary: "display the buildpacks for an app",
    usage: "buildpacks -a APP [--json]",
    needsApp: true,
    access: "read",
    flags: [APP_FLAG, { name: "json", description: "output as JSON" }],
    args: { min: 0, max: 0 },
    async run(ctx, { app, flags }) {
        const list = await ctx.store.getBuildpacks(app);
        if (flags.json) {
            ctx.out(JSON.stringify(list));
            return 0;
        }
        if (list.length === 0) {
            const url = (await ctx.store.getConfig(app)).BUILDPACK_URL;
            ctx.out(
                url
                    ? `${app} has no buildpack set: pushes use BUILDPACK_URL (${url})`
                    : `${app} has no buildpack set: pushes use a .buildpacks file if the app has one, else detect (Ruby, Python, Node.js, then Procfile). Set one with "dynoform buildpacks:set NAME_OR_URL -a ${app}"`,
            );
            return 0;
        }
        ctx.out(styledHeader(`${app} Buildpack URL${list.length > 1 ? "s" : ""}`));
        listLines(list).forEach((l) => ctx.out(l));
        return 0;
    },
};

export const buildpacksSet: Verb = {
    name: "buildpacks:set",
    summary: "set the buildpack of an app (or replace the one at --index)",
    usage: "buildpacks:set NAME_OR_URL -a APP [-i INDEX]",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Set buildpack ${positional[0]}`, apiLine: true },
    flags: [APP_FLAG, INDEX_FLAG],
    args: { min: 1, max: 1 },
    async run(ctx, args) {
        const spec = checkBuildpackSpec(args.positional[0]);
        const list = await update(ctx, args.app, "buildpacks:set", (current) => {
            const index = current.length > 0 ? parseIndex(args, current.length, "buildpacks:set") : parseIndex(args, 1, "buildpacks:set");
            if (index === undefined || current.length === 0) {
                if (current.length > 1) throw new UserError(`${args.app} has ${current.length} buildpacks: pick the one to replace with -i (1 to ${current.length}), or run "dynoform buildpacks:clear" first`);
                return [spec];
            }
            if (current.some((b, i) => b === spec && i !== index - 1)) throw new UserError(`The buildpack ${spec} is already set on ${args.app}: run "dynoform buildpacks" to see the list`);
            return current.map((b, i) => (i === index - 1 ? spec : b));
        });
        ctx.out("Buildpack set.");
        nextRelease(ctx, args.app, list);
        return 0;
    },
};

export const buildpacksAdd: Verb = {
    name: "buildpacks:add",
    summary: "add a buildpack to an app (last, or at --index): all of them run, in order",
    usage: "buildpacks:add NAME_OR_URL -a APP [-i INDEX]",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Add buildpack ${positional[0]}`, apiLine: true },
    flags: [APP_FLAG, INDEX_FLAG],
    args: { min: 1, max: 1 },
    async run(ctx, args) {
        const spec = checkBuildpackSpec(args.positional[0]);
        const list = await update(ctx, args.app, "buildpacks:add", (current) => {
            if (current.includes(spec)) throw new UserError(`The buildpack ${spec} is already set on ${args.app}: run "dynoform buildpacks" to see the list`);
            const index = parseIndex(args, current.length + 1, "buildpacks:add") ?? current.length + 1;
            return [...current.slice(0, index - 1), spec, ...current.slice(index - 1)];
        });
        ctx.out("Buildpack added.");
        nextRelease(ctx, args.app, list);
        return 0;
    },
};

export const buildpacksRemove: Verb = {
    name: "buildpacks:remove",
    summary: "remove a buildpack from an app (by name or URL, or --index)",
    usage: "buildpacks:remove [NAME_OR_URL] -a APP [-i INDEX]",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional, flags }) => `Remove buildpack ${positional[0] ?? `at index ${String(flags.index)}`}`, apiLine: true },
    flags: [APP_FLAG, INDEX_FLAG],
    args: { min: 0, max: 1 },
    async run(ctx, args) {
        const given = args.positional[0];
        if ((given === undefined) === (flagString(args, "index") === undefined)) throw new UserError(`Name the buildpack to remove, or give its position with -i, not both: "dynoform buildpacks:remove heroku/python -a ${args.app}"`);
        const list = await update(ctx, args.app, "buildpacks:remove", (current) => {
            if (current.length === 0) throw new UserError(`${args.app} has no buildpack set: nothing to remove`);
            const spec = given !== undefined ? checkBuildpackSpec(given) : undefined;
            const index = spec !== undefined ? current.indexOf(spec) + 1 : parseIndex(args, current.length, "buildpacks:remove")!;
            if (index === 0) throw new UserError(`The buildpack ${spec} is not set on ${args.app}: run "dynoform buildpacks -a ${args.app}" to see the list`);
            return current.filter((_, i) => i !== index - 1);
        });
        ctx.out("Buildpack removed.");
        nextRelease(ctx, args.app, list);
        return 0;
    },
};

export const buildpacksClear: Verb = {
    name: "buildpacks:clear",
    summary: "clear all buildpacks set on the app: pushes detect one again",
    usage: "buildpacks:clear -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: () => "Clear buildpacks", apiLine: true },
    flags: [APP_FLAG],
    args: { min: 0, max: 0 },
    async run(ctx, { app }) {
        await update(ctx, app, "buildpacks:clear", () => []);
        nextRelease(ctx, app, []);
        return 0;
    },
};
