// The CLI's user-facing failure: main prints its message Heroku-style (` ▸    ` before each line)
// and exits 1, so every module can stop with an actionable message by throwing one.
export class CliError extends Error {}

/** Throws a CliError; each line of `lines` becomes one ` ▸ ` line. */
export function fail(...lines) {
    throw new CliError(lines.join("\n"));
}

export function printError(message) {
    process.stderr.write(message.split("\n").map((l) => ` ▸    ${l}\n`).join(""));
}
