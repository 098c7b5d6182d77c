// Push a Procfile-only app through deploy() (no git, no npm): fast enough for unit tests.
import * as fs from "node:fs";
import * as path from "node:path";
import { deploy } from "../../src/deploy";
import { BuildLog } from "../../src/build_log";
import { procfileBuildpack } from "../../src/buildpacks/procfile_only";
import { Harness } from "./cli_harness";
import { BuildUsers } from "../../src/build_users";
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
    const result = await deploy({
        store: h.store,
        fleet: h.fleet,
        app,
        source: { dir },
        commit,
        log: new BuildLog((l) => lines.push(l)),
        buildpacks: [procfileBuildpack],
        cacheDir: path.join(h.root, "cache"),
        webUrl: `http://${app}.dynoform.test/`,
        user: "alice",
        ...(buildUsers ? { buildUsers } : {}),
    }).catch((e: Error) => e);
    return { result, lines };
}

