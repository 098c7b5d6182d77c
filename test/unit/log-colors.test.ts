// `dynoform logs` at a terminal: Heroku's colouring (scripts/cli/log-colors.mjs), never at a pipe.
import { execFileSync } from "child_process";
import * as path from "path";

const MODULE = path.resolve(__dirname, "../../scripts/cli/log-colors.mjs");

/** The module's results for `lines` (it is ESM: run in a node of its own). */
function colored(lines: string[], streamIsTTY: boolean, env: Record<string, string> = {}): { lines: string[]; wants: boolean } {
    const script = `import { colorizer, wantsColor } from ${JSON.stringify(MODULE)};
const c = colorizer();
process.stdout.write(JSON.stringify({ lines: ${JSON.stringify(lines)}.map(c), wants: wantsColor({ isTTY: ${streamIsTTY} }, ${JSON.stringify(env)}) }));`;
    return JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }));
}

const T = "2026-11-30T01:02:03.456000+00:00";

test("each process type keeps one colour, the router its own; a router line's status and H-code stand out", () => {
    const { lines } = colored([`${T} app[web.1]: a`, `${T} app[worker.1]: b`, `${T} app[web.2]: c`, `${T} heroku[router]: at=info method=GET status=200 bytes=1`, `${T} heroku[router]: at=error code=H12 desc="Request timeout" status=503`], true);
    const colorOf = (l: string) => /\x1b\[([\d;]+)m(app|heroku)\[/.exec(l)![1];
    expect(colorOf(lines[0])).toBe(colorOf(lines[2])); // web.1 and web.2: one type, one colour
    expect(colorOf(lines[0])).not.toBe(colorOf(lines[1]));
    expect(lines[3]).toContain("\x1b[32mstatus=200\x1b[0m");
    expect(lines[4]).toContain("\x1b[31mat=error code=H12\x1b[0m");
    expect(lines[4]).toContain("\x1b[31mstatus=503\x1b[0m");
    // Without the escapes the line is the same line.
    for (const [i, l] of lines.entries()) expect(l.replace(/\x1b\[[\d;]*m/g, "")).toBe([`${T} app[web.1]: a`, `${T} app[worker.1]: b`, `${T} app[web.2]: c`, `${T} heroku[router]: at=info method=GET status=200 bytes=1`, `${T} heroku[router]: at=error code=H12 desc="Request timeout" status=503`][i]);
});

test("colour only at a terminal, never with NO_COLOR; FORCE_COLOR forces it; other text is untouched", () => {
    expect(colored([], false).wants).toBe(false);
    expect(colored([], true).wants).toBe(true);
    expect(colored([], true, { NO_COLOR: "1" }).wants).toBe(false);
    expect(colored([], false, { FORCE_COLOR: "1" }).wants).toBe(true);
    expect(colored(["not a log line"], true).lines).toEqual(["not a log line"]);
});
