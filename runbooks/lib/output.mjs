// What runbooks print: a step announced before it runs, colour (red for down, green for up) only
// when stdout is a terminal, and one way to stop with an actionable message.
import { chalk } from "zx";

const tty = process.stdout.isTTY === true;
export const red = (s) => (tty ? chalk.red(s) : s);
export const green = (s) => (tty ? chalk.green(s) : s);
export const bold = (s) => (tty ? chalk.bold(s) : s);

/** "==> what": printed before the step does anything (on stderr where stdout carries a result). */
export function step(what, stream = process.stdout) {
    stream.write(`${stream.isTTY ? chalk.bold("==>") : "==>"} ${what}\n`);
}

export function info(line) {
    process.stdout.write(`${line}\n`);
}

export class RunbookError extends Error {}

/** Stops the runbook: one line on stderr saying what failed and what to do. */
export function fail(message) {
    throw new RunbookError(message);
}

/** Runs `main` and exits with its code; a RunbookError is one line on stderr and exit 1. */
export function run(main) {
    main().then(
        (code) => process.exit(code ?? 0),
        (err) => {
            process.stderr.write(`${red("error:")} ${err instanceof RunbookError ? err.message : (err?.stack ?? String(err))}\n`);
            process.exit(1);
        },
    );
}
