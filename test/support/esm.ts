// The runbooks are ES modules (.mjs) and jest runs the tests as CommonJS: a test calls a runbook
// module's function in a child node, its arguments and result as JSON. Pure functions only.
import { execFileSync } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");

/** `fn(...args)` of the module at `file` (relative to the checkout): {value} or {error: message}. */
export function callEsm<T = unknown>(file: string, fn: string, ...args: unknown[]): { value?: T; error?: string } {
    const url = `file://${path.join(ROOT, file)}`;
    const script = `const m = await import(${JSON.stringify(url)});
let out;
try { out = { value: await m[${JSON.stringify(fn)}](...JSON.parse(process.argv[1])) }; } catch (e) { out = { error: e.message }; }
process.stdout.write(JSON.stringify(out ?? {}));`;
    return JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script, JSON.stringify(args)], { cwd: ROOT, encoding: "utf8" }));
}
