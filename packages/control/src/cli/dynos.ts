// run (one-off dyno, stdio attached, exit code passed through) and logs
import { UserError } from "../errors";
import { APP_FLAG } from "./args";
import { appLabel, flagString, Verb } from "./context";
import { joinWords } from "./words";

export const run: Verb = {
    name: "run",
    summary: "run a one-off process inside a dyno of the current release",
    usage: "run COMMAND [ARGS...] -a APP",
    needsApp: true,
    access: "operate",
    audit: { detail: ({ positional }) => `Starting process with command \`${positional.length === 1 ? positional[0] : joinWords(positional)}\``, apiLine: true, before: true },
    flags: [APP_FLAG],
    args: { min: 1, max: Infinity },
    passThrough: true,
    async run(ctx, { app, positional }) {
        await ctx.store.requireApp(app);
        const release = await ctx.store.currentRelease(app);
        if (!release) throw new UserError(`${app} has no deployed code to run: deploy with git push first`);
        const command = positional.length === 1 ? positional[0] : joinWords(positional);
        const { exitCode } = await ctx.fleet.runOneOff(app, release, command, {
            stdin: ctx.stdin,
            stdout: (c) => ctx.writeStdout(c),
            stderr: (c) => ctx.writeStderr(c),
            onStart: (dyno) => ctx.err(`Running ${command} on ${appLabel(app)}... up, ${dyno}`),
        });
        return exitCode;
    },
};

export const logs: Verb = {
    name: "logs",
    summary: "display recent log output (--tail to keep streaming)",
    usage: "logs -a APP [--tail] [-n NUM] [-d DYNO] [-s SOURCE]",
    needsApp: true,
    access: "read",
    flags: [
        APP_FLAG,
        { name: "tail", short: "t", description: "keep streaming new lines" },
        { name: "num", short: "n", value: true, description: "number of lines (default 100)" },
        { name: "dyno", short: "d", value: true, description: "only this process type or dyno (web, web.1, router)" },
        { name: "source", short: "s", value: true, description: "only this source (app, heroku)" },
    ],
    args: { min: 0, max: 0 },
    async run(ctx, args) {
        await ctx.store.requireApp(args.app);
        const numText = flagString(args, "num") ?? "100";
        if (!/^\d+$/.test(numText) || Number(numText) < 1 || Number(numText) > 1500) throw new UserError(`-n must be a number of lines from 1 to 1500, e.g. -n 200`);
        const dyno = flagString(args, "dyno");
        if (dyno !== undefined && !/^[\w-]+(\.\d+)?$/.test(dyno)) throw new UserError(`--dyno "${dyno}" is not a process type or dyno: use e.g. web or web.1`);
        const source = flagString(args, "source");
        if (source !== undefined && !["app", "heroku", "router", "dynoform"].includes(source)) throw new UserError(`--source "${source}" is not a source: use app (your dynos' output) or heroku (the platform's lines)`);
        // The app's one stream (dynos, routers, the control role) is the log router's; without one, the agents' buffers.
        const read = ctx.fleet.logRouter ? ctx.fleet.logRouter.logs.bind(ctx.fleet.logRouter) : ctx.fleet.logs.bind(ctx.fleet);
        await read(args.app, { tail: args.flags.tail === true, num: Number(numText), ...(dyno ? { dyno } : {}), ...(source ? { source } : {}) }, async (l) => {
            ctx.out(l);
            await ctx.drained?.(); // a slow reader holds the stream back instead of our memory
        });
        return 0;
    },
};
