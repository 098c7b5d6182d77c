// Transpile this package's TypeScript sources to CommonJS in a temp dir, so tests can run them in
// real child processes (cross-process locking, running the CLI entry as a binary).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as ts from "typescript";

const SRC = path.resolve(__dirname, "../../src");

export function transpileSources(): string {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-control-js-"));
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(full);
            else if (entry.name.endsWith(".ts")) {
                const rel = path.relative(SRC, full).replace(/\.ts$/, ".js");
                const js = ts.transpileModule(fs.readFileSync(full, "utf8"), {
                    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
                }).outputText;
                fs.mkdirSync(path.dirname(path.join(out, rel)), { recursive: true });
                fs.writeFileSync(path.join(out, rel), js);
            }
        }
    };
    walk(SRC);
    // Resolve the package's dependencies (tar, semver) from the workspace.
    fs.symlinkSync(path.resolve(__dirname, "../../../../node_modules"), path.join(out, "node_modules"));
    return out;
}
