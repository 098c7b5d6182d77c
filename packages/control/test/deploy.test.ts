import * as fs from "node:fs";
import * as path from "node:path";
import { DeployRejectedError } from "../src/deploy";
import { formationFor } from "../src/releases";
import { harness, Harness } from "./helpers/cli_harness";
import { push } from "./helpers/push";

let h: Harness;
beforeEach(async () => {
    h = await harness();
    expect((await h.cli("apps:create", "myapp")).code).toBe(0);
});
afterEach(() => h.cleanup());

const app = { Procfile: "web: ./serve\nworker: ./work\nrelease: ./migrate\n", serve: "#!/bin/sh\n" };

test("a push builds, releases vN with slug+config+Procfile+commit, runs the release phase, rolls out", async () => {
    h.fleet.oneOff = { exitCode: 0, stdout: "migrated 3 tables\n", stderr: "" };
    const { result, lines } = await push(h, app);
    expect(result).not.toBeInstanceOf(Error);
    expect(lines.filter((l) => l.startsWith("-----> "))).toEqual([
        "-----> Building on the dynoform-24 stack",
        "-----> Procfile app detected",
        "-----> Discovering process types",
        "-----> Compressing...",
        "-----> Launching...",
        "-----> Running release command: ./migrate",
        "-----> Starting dynos: web=1, worker=0",
    ]);
    expect(lines).toContain("       Procfile declares types     -> web, worker, release");
    expect(lines).toContain("       migrated 3 tables");
    expect(lines.slice(-2)).toEqual(["       Released v1", "       http://myapp.dynoform.test/ deployed to dynoform"]);
    const v1 = (await h.store.currentRelease("myapp"))!;
    expect(v1).toMatchObject({
        version: 1,
        status: "succeeded",
        commit: "1a2b3c4d5e6f",
        description: "Deploy 1a2b3c4",
        buildpack: "heroku/procfile",
        processTypes: { web: "./serve", worker: "./work", release: "./migrate" },
        user: "alice",
    });
    expect(v1.config.DATABASE_URL).toMatch(/^postgres:/);
    // no URL is stored: where agents fetch it (and its token) is made at each rollout
    expect(v1.slug).toEqual({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), size: expect.any(Number) });
    expect(fs.existsSync(path.join(h.store.slugDir("myapp"), `${v1.slug!.sha256}.tgz`))).toBe(true);
    expect(h.fleet.calls.filter((c) => !c.startsWith("provision"))).toEqual([
        "release myapp v1 ./migrate",
        'rollout myapp v1 {"web":{"quantity":1,"size":"standard-1x"},"worker":{"quantity":0,"size":"standard-1x"}}',
    ]);
    expect(await h.store.getFormation("myapp")).toEqual({ web: { quantity: 1, size: "standard-1x" }, worker: { quantity: 0, size: "standard-1x" } });
});

test("a failing build is rejected with the reason; no release is made", async () => {
    const { result, lines } = await push(h, { Procfile: "web ./serve\n" });
    expect(result).toBeInstanceOf(DeployRejectedError);
    expect(lines).toContain(" !     Push rejected, failed to compile app.");
    expect(lines).toContain(' !     Procfile line 1: "web ./serve" is not "<type>: <command>"; write it as "web: ./serve"');
    expect(lines[lines.length - 1]).toBe(" !     Push failed: the previous release is still serving");
    expect(await h.store.listReleases("myapp")).toEqual([]);
});

test("a failing release phase stops the deploy: release failed, no rollout, previous release current", async () => {
    await push(h, app);
    h.fleet.calls = [];
    h.fleet.oneOff = { exitCode: 1, stdout: "", stderr: "error: relation \"visits\" already exists\n" };
    const { result, lines } = await push(h, app, "bbbbbbbcccc");
    expect(result).toBeInstanceOf(DeployRejectedError);
    expect(lines).toContain(" !     Release v2 failed.");
    expect(lines).toContain(' !     release command "./migrate" exited with status 1');
    expect(lines).toContain(' !       error: relation "visits" already exists');
    expect(h.fleet.calls).toEqual(["release myapp v2 ./migrate"]);
    expect((await h.store.getRelease("myapp", 2))!).toMatchObject({ status: "failed", reason: 'release command "./migrate" exited with status 1' });
    expect((await h.store.currentRelease("myapp"))!.version).toBe(1);
});

test("a rollout failure (web never binds $PORT) is rejected with the dyno's last lines; previous release current", async () => {
    await push(h, { Procfile: "web: ./serve\n" });
    h.fleet.failRollout = "web.1 did not bind $PORT within 60 s";
    const { result, lines } = await push(h, { Procfile: "web: ./serve --broken\n" }, "ddddddd");
    expect(result).toBeInstanceOf(DeployRejectedError);
    expect(lines).toContain(" !     web.1 did not bind $PORT within 60 s");
    expect(lines).toContain(" !       Error: listen EADDRINUSE");
    expect((await h.store.currentRelease("myapp"))!.version).toBe(1);
    expect((await h.store.getRelease("myapp", 2))!.status).toBe("failed");
});

test("formation follows process types: kept counts, web starts at 1, dropped types removed", () => {
    const cur = { web: { quantity: 3, size: "standard-1x" }, old: { quantity: 2, size: "standard-1x" } };
    expect(formationFor(cur, { web: "a", worker: "b", release: "c" })).toEqual({ web: { quantity: 3, size: "standard-1x" }, worker: { quantity: 0, size: "standard-1x" } });
    expect(formationFor({}, { web: "a" })).toEqual({ web: { quantity: 1, size: "standard-1x" } });
    expect(formationFor({ web: { quantity: 0, size: "standard-1x" } }, { web: "a" })).toEqual({ web: { quantity: 0, size: "standard-1x" } });
});
