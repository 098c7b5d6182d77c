import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BUILD_UID_RANGE, buildUidRange, buildUseraddArgs, buildUserName, BuildUsers } from "../src/build_users";

test("names: build-<app>, cut with a hash of the app name to fit Linux's 32 characters", () => {
    expect(buildUserName("shop")).toBe("build-shop");
    const long = "a".repeat(26) + "-shop"; // 30 characters, the longest app name
    const name = buildUserName(long);
    expect(name).toHaveLength(32);
    expect(name).toMatch(/^build-a{19}-[0-9a-f]{6}$/);
    expect(buildUserName("a".repeat(26) + "-shoq")).not.toBe(name);
    expect(buildUseraddArgs("build-shop", BUILD_UID_RANGE)).toEqual([
        "--system", "--user-group",
        "-K", "SYS_UID_MIN=2000000", "-K", "SYS_UID_MAX=2099999", "-K", "SYS_GID_MIN=2000000", "-K", "SYS_GID_MAX=2099999",
        "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", "dynoform build user", "build-shop",
    ]);
});

test("an existing build user is used; a user of that name that is not ours is refused", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-passwd-"));
    const passwd = path.join(dir, "passwd");
    fs.writeFileSync(passwd, "root:x:0:0:root:/root:/bin/bash\nbuild-shop:x:990:990:dynoform build user:/nonexistent:/usr/sbin/nologin\nbuild-mine:x:1000:1000:Alice:/home/alice:/bin/bash\n");
    const users = new BuildUsers("build-", passwd);
    expect(await users.forApp("shop")).toEqual({ name: "build-shop", uid: 990, gid: 990 });
    await expect(users.forApp("mine")).rejects.toThrow('the user build-mine exists but is not a dynoform build user (comment "Alice", uid 1000): remove it or pick another buildUserPrefix');
    fs.rmSync(dir, { recursive: true, force: true });
});

test("DYNOFORM_BUILD_UID_RANGE moves the block; a bad one is refused", () => {
    expect(buildUidRange({})).toEqual([2_000_000, 2_099_999]);
    expect(buildUidRange({ DYNOFORM_BUILD_UID_RANGE: "2100000-2199999" })).toEqual([2_100_000, 2_199_999]);
    expect(() => buildUidRange({ DYNOFORM_BUILD_UID_RANGE: "5-4" })).toThrow("DYNOFORM_BUILD_UID_RANGE=5-4: give MIN-MAX with 1000 <= MIN < MAX");
});

test("a build user is made in the build users' own uid block (no process of another machine's service shares it)", async () => {
    if (process.getuid?.() !== 0) return;
    const prefix = `dfbt${process.pid}-`;
    const users = new BuildUsers(prefix);
    try {
        const made = await users.forApp("uidblock");
        const [min, max] = buildUidRange();
        expect(made.uid).toBeGreaterThanOrEqual(min);
        expect(made.uid).toBeLessThanOrEqual(max);
        expect(made.gid).toBe(made.uid);
    } finally {
        execFileSync("userdel", [`${prefix}uidblock`]);
    }
});
