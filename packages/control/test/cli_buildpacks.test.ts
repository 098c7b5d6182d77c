// buildpacks, buildpacks:set/add/remove/clear: the app's list, its order and every refusal.
import { harness, Harness } from "./helpers/cli_harness";

let h: Harness;
beforeEach(async () => {
    h = await harness();
    await h.cli("apps:create", "myapp");
});
afterEach(() => h.cleanup());

async function refused(argv: string[], message: string | RegExp) {
    const before = JSON.stringify(await h.store.getBuildpacks("myapp"));
    const r = await h.cli(...argv);
    expect(r.code).toBe(1);
    expect(r.out).toEqual([]);
    if (typeof message === "string") expect(r.err).toEqual([" ▸    " + message]);
    else expect(r.err[0]).toMatch(message);
    expect(JSON.stringify(await h.store.getBuildpacks("myapp"))).toBe(before);
}

test("set, add at an index, list, remove, clear", async () => {
    expect((await h.cli("buildpacks", "-a", "myapp")).out[0]).toMatch(/^myapp has no buildpack set: pushes use a \.buildpacks file if the app has one, else detect/);
    expect((await h.cli("buildpacks:set", "python", "-a", "myapp")).out).toEqual([
        "Buildpack set.",
        "Next release on myapp will use heroku/python.",
        "Run git push dynoform main to create a new release using this buildpack.",
    ]);
    expect((await h.cli("buildpacks", "-a", "myapp")).out).toEqual(["=== myapp Buildpack URL", "heroku/python"]);
    const add = await h.cli("buildpacks:add", "https://github.com/heroku/heroku-buildpack-nodejs.git#v250", "-i", "1", "-a", "myapp");
    expect(add.out).toEqual([
        "Buildpack added.",
        "Next release on myapp will use:",
        "  1. https://github.com/heroku/heroku-buildpack-nodejs.git#v250",
        "  2. heroku/python",
        "Run git push dynoform main to create a new release using these buildpacks.",
    ]);
    await h.cli("buildpacks:add", "/opt/buildpacks/mine", "-a", "myapp");
    expect(await h.store.getBuildpacks("myapp")).toEqual(["https://github.com/heroku/heroku-buildpack-nodejs.git#v250", "heroku/python", "/opt/buildpacks/mine"]);
    expect((await h.cli("buildpacks", "--json", "-a", "myapp")).out).toEqual([JSON.stringify(await h.store.getBuildpacks("myapp"))]);
    await h.cli("buildpacks:set", "heroku/ruby", "-i", "2", "-a", "myapp");
    expect(await h.store.getBuildpacks("myapp")).toEqual(["https://github.com/heroku/heroku-buildpack-nodejs.git#v250", "heroku/ruby", "/opt/buildpacks/mine"]);
    expect((await h.cli("buildpacks:remove", "-i", "1", "-a", "myapp")).out[0]).toBe("Buildpack removed.");
    expect((await h.cli("buildpacks:remove", "ruby", "-a", "myapp")).code).toBe(0);
    expect(await h.store.getBuildpacks("myapp")).toEqual(["/opt/buildpacks/mine"]);
    expect((await h.cli("buildpacks:clear", "-a", "myapp")).out).toEqual(["Buildpacks cleared. Next release on myapp will detect buildpacks normally (Ruby, Python, Node.js, then Procfile)."]);
    expect(await h.store.getBuildpacks("myapp")).toEqual([]);
});

test("refusals name the fix", async () => {
    await refused(["buildpacks:set", "pyhton", "-a", "myapp"], /^ ▸    unknown buildpack "pyhton": use a built-in name \(heroku\/ruby, heroku\/python, heroku\/nodejs, heroku\/procfile\), a git URL/);
    await refused(["buildpacks:set", "heroku/go", "-a", "myapp"], /^ ▸    buildpack heroku\/go is not built in here .* use its git URL instead, e\.g\. https:\/\/github\.com\/heroku\/heroku-buildpack-go\.git$/);
    await h.cli("buildpacks:set", "python", "-a", "myapp");
    await refused(["buildpacks:add", "heroku/python", "-a", "myapp"], 'The buildpack heroku/python is already set on myapp: run "dynoform buildpacks" to see the list');
    await refused(["buildpacks:add", "ruby", "-i", "3", "-a", "myapp"], 'Invalid index 3 for buildpacks:add: use a number from 1 to 2 (run "dynoform buildpacks" to see the list)');
    await refused(["buildpacks:add", "ruby", "-i", "x", "-a", "myapp"], /^ ▸    Invalid index x for buildpacks:add/);
    await h.cli("buildpacks:add", "ruby", "-a", "myapp");
    await refused(["buildpacks:set", "nodejs", "-a", "myapp"], 'myapp has 2 buildpacks: pick the one to replace with -i (1 to 2), or run "dynoform buildpacks:clear" first');
    await refused(["buildpacks:remove", "nodejs", "-a", "myapp"], 'The buildpack heroku/nodejs is not set on myapp: run "dynoform buildpacks -a myapp" to see the list');
    await refused(["buildpacks:remove", "-a", "myapp"], 'Name the buildpack to remove, or give its position with -i, not both: "dynoform buildpacks:remove heroku/python -a myapp"');
    await h.cli("buildpacks:clear", "-a", "myapp");
    await refused(["buildpacks:remove", "python", "-a", "myapp"], "myapp has no buildpack set: nothing to remove");
});

test("BUILDPACK_URL shows when no buildpack is set", async () => {
    await h.store.setConfig("myapp", { ...(await h.store.getConfig("myapp")), BUILDPACK_URL: "https://example.com/bp.git" });
    expect((await h.cli("buildpacks", "-a", "myapp")).out).toEqual(["myapp has no buildpack set: pushes use BUILDPACK_URL (https://example.com/bp.git)"]);
});
