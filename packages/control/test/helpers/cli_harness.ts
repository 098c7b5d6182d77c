import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AppStore } from "../../src/app_store";
import { CliContext } from "../../src/cli/context";
import { runCli } from "../../src/cli";
import { FakeFleet } from "./fake_fleet";

export const NOW = new Date("2026-11-21T19:53:46Z");

export interface Harness {
    root: string;
    store: AppStore;
    fleet: FakeFleet;
    clock: { now: Date };
    /** More of the context every verb gets (e.g. buildUsers). */
    extra: Partial<CliContext>;
    cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[]; stdout: string; stderr: string }>;
    cleanup(): void;
}

export async function harness(): Promise<Harness> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-cli-"));
    const clock = { now: new Date("2026-11-21T18:53:46Z") };
    const store = new AppStore(root, () => clock.now);
    await store.init();
    const fleet = new FakeFleet(() => clock.now);
    let names = 0;
    const h: Harness = {
        root,
        store,
        fleet,
        clock,
        extra: {},
        async cli(...argv) {
            const out: string[] = [];
            const err: string[] = [];
            let stdout = "";
            let stderr = "";
            const ctx: CliContext = {
                store,
                fleet,
                settings: { domain: "dynoform.test", gitUrl: (a) => `git@control.test:${a}.git`, webUrl: (a) => `http://${a}.dynoform.test/`, user: "alice" },
                out: (l) => out.push(l),
                err: (l) => err.push(l),
                writeStdout: (c) => (stdout += c.toString()),
                writeStderr: (c) => (stderr += c.toString()),
                now: () => NOW,
                randomName: () => `misty-river-${1000 + ++names}`,
                ...h.extra,
            };
            const code = await runCli(argv, ctx);
            return { code, out, err, stdout, stderr };
        },
        cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
    };
    return h;
}
