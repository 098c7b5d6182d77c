// Transpile this package's TypeScript sources to CommonJS in a temp dir, so tests can run them in
// real child processes (cross-process locking, running the CLI entry as a binary).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as ts from "typescript";

const SRC = path.resolve(__dirname, "../../src");
const CONTRACT_SRC = path.resolve(__dirname, "../../../contract/src");
const LOGPLEX_SRC = path.resolve(__dirname, "../../../logplex/src");

export function transpileSources(): string {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-control-js-"));
    // @dynoform/contract by its source, beside this package's (as jest and esbuild resolve it)
    const contract = path.join(out, "_contract");
    // @dynoform/logplex/sender likewise (the log router's client)
    const logplex = path.join(out, "_logplex");
    const walk = (src: string, dir: string, dest: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(src, full, dest);
            else if (entry.name.endsWith(".ts")) {
                const rel = path.relative(src, full).replace(/\.ts$/, ".js");
                const js = ts.transpileModule(fs.readFileSync(full, "utf8"), {
                    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
                }).outputText
                    .replace(/require\("@dynoform\/contract"\)/g, `require(${JSON.stringify(contract)})`)
                    .replace(/require\("@dynoform\/logplex\/sender"\)/g, `require(${JSON.stringify(path.join(logplex, "log_sender"))})`);
                fs.mkdirSync(path.dirname(path.join(dest, rel)), { recursive: true });
                fs.writeFileSync(path.join(dest, rel), js);
            }
        }
    };
    walk(SRC, SRC, out);
    walk(CONTRACT_SRC, CONTRACT_SRC, contract);
    walk(LOGPLEX_SRC, LOGPLEX_SRC, logplex);
    // Resolve the package's dependencies (tar, semver) from the workspace.
    fs.symlinkSync(path.resolve(__dirname, "../../../../node_modules"), path.join(out, "node_modules"));
    return out;
}
