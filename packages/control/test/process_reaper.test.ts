// Every process of a build user goes, whatever it did to get away: setsid, double fork, a loop
// that keeps forking.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BuildUser } from "../src/build_users";
import { killProcessesOf, liveProcessesOf } from "../src/process_reaper";
import { createTestBuildUser, isRoot, removeTestBuildUser, testBuildUserPrefix } from "./helpers/build_user";

const asRoot = isRoot ? test : test.skip;
let user: BuildUser;
beforeAll(async () => {
    if (isRoot) user = (await createTestBuildUser(testBuildUserPrefix(), "reaper"))!;
});
afterAll(() => removeTestBuildUser(user));

asRoot("setsid, double fork and a forking loop: none is left", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-reaper-"));
    fs.chmodSync(tmp, 0o777);
    const ready = path.join(tmp, "ready");
    const script = [
        "setsid sleep 1000 </dev/null >/dev/null 2>&1 &",
        "( ( sleep 1000 </dev/null >/dev/null 2>&1 & ) & )",
        "setsid sh -c 'while :; do sleep 1000 & sleep 0.01; done' </dev/null >/dev/null 2>&1 &",
        `touch ${ready}`,
    ].join("\n");
    await new Promise<void>((resolve) => spawn("sh", ["-c", script], { uid: user.uid, gid: user.gid, stdio: "ignore", cwd: "/" }).on("close", () => resolve()));
    for (let i = 0; i < 100 && !fs.existsSync(ready); i++) await new Promise((r) => setTimeout(r, 20));
    expect(liveProcessesOf(user.uid).length).toBeGreaterThanOrEqual(3);
    await killProcessesOf(user);
    expect(liveProcessesOf(user.uid)).toEqual([]);
    fs.rmSync(tmp, { recursive: true, force: true });
});

asRoot("a user with nothing running: nothing to do", async () => {
    await killProcessesOf(user);
    expect(liveProcessesOf(user.uid)).toEqual([]);
});
