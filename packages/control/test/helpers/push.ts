// Push a Procfile-only app through deploy() (no git, no npm): fast enough for unit tests.
import * as fs from "node:fs";
import * as path from "node:path";
import { deploy } from "../../src/deploy";
import { BuildLog } from "../../src/build_log";
import { procfileBuildpack } from "../../src/buildpacks/procfile_only";
import { Harness } from "./cli_harness";
import { BuildUsers } from "../../src/build_users";
import type { BuildSource } from "../../src/build_sandbox";
import { isRoot, removeTestBuildUsers, testBuildUserPrefix } from "./build_user";

// Pushes build as per-app build users made under a prefix of this test file's own (as root);
// they are removed when the file's tests are done.
const prefix = testBuildUserPrefix();
const buildUsers = isRoot ? new BuildUsers(prefix) : undefined;
afterAll(() => {
    if (isRoot) removeTestBuildUsers(prefix);
});

export async function push(h: Harness, files: Record<string, string>, commit = "1a2b3c4d5e6f", app = "myapp") {
    fs.chmodSync(h.root, 0o711); // as /var/lib/dynoform on the control host: build users pass through to builds/ and cache/
    const dir = fs.mkdtempSync(path.join(h.root, "push-"));
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
    const lines: string[] = [];
    const result = await deploySource(h, { dir }, commit, app, (l) => lines.push(l));
    return { result, lines };
}

/** deploy() of any source (a directory, a tarball) as a push of `commit` by alice; the error when rejected. */
export async function deploySource(h: Harness, source: BuildSource, commit: string, app: string, out: (line: string) => void, user = "alice") {
    fs.chmodSync(h.root, 0o711);
    return deploy({
        store: h.store,
        fleet: h.fleet,
        app,
        source,
        commit,
        log: new BuildLog(out),
        buildpacks: [procfileBuildpack],
        cacheDir: path.join(h.root, "cache"),
        webUrl: `http://${app}.dynoform.test/`,
        user,
        ...(buildUsers ? { buildUsers } : {}),
    }).catch((e: Error) => e);
}
