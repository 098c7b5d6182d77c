import { harness, Harness } from "./helpers/cli_harness";
import { push } from "./helpers/push";
import { splitWords, joinWords } from "../src/cli/words";
import { parseArgs, APP_FLAG } from "../src/cli/args";

let h: Harness;
beforeEach(async () => (h = await harness()));
afterEach(() => h.cleanup());

const procfileApp = { Procfile: "web: ./serve\nworker: ./work\n" };

/** Every refusal: exit 1, exactly one stderr line, no stdout, and state untouched. */
async function refused(argv: string[], message: string | RegExp) {
    const snapshot = async () => JSON.stringify(await Promise.all((await h.store.listApps()).map(async (a) => [a, await h.store.getConfig(a), await h.store.getFormation(a), await h.store.listReleases(a), await h.store.getDomains(a)])));
    const before = await snapshot();
    const calls = h.fleet.calls.length;
    const r = await h.cli(...argv);
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.out).toEqual([]);
    if (typeof message === "string") expect(r.err[0]).toBe(" ▸    " + message);
    else expect(r.err[0]).toMatch(message);
    expect(await snapshot()).toBe(before);
    expect(h.fleet.calls.slice(calls).filter((c) => !c.startsWith("logs"))).toEqual([]);
}

describe("apps", () => {
    test("create, list, info, destroy", async () => {
        expect((await h.cli("apps")).out).toEqual(["You have no apps."]);
        const c = await h.cli("apps:create", "myapp");
        expect(c).toMatchObject({ code: 0, err: ["Creating ⬢ myapp... done"], out: ["http://myapp.dynoform.test/ | git@control.test:myapp.git"] });
        expect(h.fleet.calls).toEqual(["provision myapp"]);
        expect(h.fleet.routes.get("myapp")).toEqual(["myapp.dynoform.test"]);
        const gen = await h.cli("create");
        expect(gen.err).toEqual(["Creating ⬢ misty-river-1001... done"]);
        expect((await h.cli("apps")).out).toEqual(["=== Apps", "misty-river-1001", "myapp"]);
        expect((await h.cli("apps:info", "-a", "myapp")).out).toEqual([
            "=== myapp",
            "Addons:    postgresql (DATABASE_URL)",
            "           memcached (MEMCACHE_SERVERS)",
            "Dynos:",
            "Git URL:   git@control.test:myapp.git",
            "Release:   none",
            "Slug Size: none",
            "Stack:     dynoform-24",
            "Web URL:   http://myapp.dynoform.test/",
        ]);
        await refused(["apps:destroy", "-a", "myapp"], 'This permanently destroys myapp, its releases and its database: to proceed, run "dynoform apps:destroy -a myapp --confirm myapp"');
        await refused(["apps:destroy", "-a", "myapp", "--confirm", "other"], 'Confirmation "other" did not match myapp: pass --confirm myapp');
        const d = await h.cli("apps:destroy", "-a", "myapp", "--confirm", "myapp");
        expect(d).toMatchObject({
            code: 0,
            err: [
                "Backing up DATABASE of ⬢ myapp to b001... done",
                "Destroying ⬢ myapp (including all add-ons)... done",
                "The final backup of its database is myapp::b001, kept on the backup host. Restore it into another app with:",
                "  dynoform pg:backups:restore myapp::b001 DATABASE_URL -a NEWAPP --confirm NEWAPP",
            ],
        });
        expect(h.fleet.calls.slice(-3)).toEqual(["pg capture myapp", "stopAll myapp", "deprovision myapp"]);
        expect((await h.cli("apps")).out).toEqual(["=== Apps", "misty-river-1001"]);
    });

    test("refusals", async () => {
        await h.cli("apps:create", "myapp");
        await refused(["apps:create", "myapp"], 'Name myapp is already taken: choose another name, or use "dynoform apps:info -a myapp"');
        await refused(["apps:create", "My_App"], /^ ▸    Name "My_App" is invalid: use 3 to 30 characters/);
        await refused(["apps:create", "api"], "Name api is reserved: api.dynoform.test is the platform's own; choose another name");
        await refused(["apps:info", "-a", "nope"], 'Couldn\'t find that app: nope. Run "dynoform apps" to list apps, or "dynoform apps:create nope" to create it.');
        await refused(["apps:info"], 'Missing app: pass -a APP (run "dynoform apps" to list apps). Usage: dynoform apps:info -a APP');
        await refused(["apps:info", "-a", "myapp", "extra"], 'Unexpected argument "extra" for apps:info. Usage: dynoform apps:info -a APP');
        await refused(["apps:info", "--ap", "myapp"], 'Unexpected flag --ap for apps:info: run "dynoform help apps:info" to see its flags');
        await refused(["apps:info", "-a"], "Flag --app needs a value: e.g. --app myapp");
        await refused(["aps"], '"aps" is not a dynoform command. Did you mean "dynoform apps"? Run "dynoform help" to list commands');
        await refused(["frobnicate"], '"frobnicate" is not a dynoform command. Run "dynoform help" to list commands');
    });

    test("git:remote and help", async () => {
        await h.cli("apps:create", "myapp");
        expect((await h.cli("git:remote", "-a", "myapp")).out).toEqual(["git remote add dynoform git@control.test:myapp.git"]);
        expect((await h.cli("git:remote", "-a", "myapp", "-r", "production")).out).toEqual(["git remote add production git@control.test:myapp.git"]);
        const help = await h.cli("help");
        expect(help.out[0]).toBe("Usage: dynoform COMMAND [ARGS] [-a APP]");
        expect(help.out.some((l) => /^ {2}ps:scale +scale dyno quantity up or down$/.test(l))).toBe(true);
        expect((await h.cli("ps:scale", "--help")).out[0]).toBe("Usage: dynoform ps:scale TYPE1=N [TYPE2=N ...] -a APP");
    });
});

describe("config", () => {
    beforeEach(async () => void (await h.cli("apps:create", "myapp")));

    test("set/get/unset: kept before the first deploy (which is v1), released after it; output shapes", async () => {
        const s = await h.cli("config:set", "FOO=bar", "URL=http://x/?a=b", "-a", "myapp");
        // Before the first deploy there is nothing to release: the vars go out with it (v1).
        expect(s).toMatchObject({ code: 0, err: ["Setting FOO and URL and restarting ⬢ myapp... done"], out: ["FOO: bar", "URL: http://x/?a=b"] });
        expect((await h.cli("config:get", "URL", "-a", "myapp")).out).toEqual(["http://x/?a=b"]);
        expect((await h.cli("config:get", "NOPE", "-a", "myapp")).out).toEqual([""]);
        expect((await h.cli("config", "-a", "myapp")).out).toEqual([
            "=== myapp Config Vars",
            "DATABASE_URL:      postgres://myapp:secret@10.99.0.4:5432/myapp",
            "FOO:               bar",
            "MEMCACHE_PASSWORD: mcsecret",
            "MEMCACHE_SERVERS:  10.99.0.4:11300",
            "MEMCACHE_USERNAME: myapp",
            "URL:               http://x/?a=b",
        ]);
        expect((await h.cli("config", "-a", "myapp", "--shell")).out).toContain("FOO='bar'");
        const u = await h.cli("config:unset", "FOO", "NOTSET", "-a", "myapp");
        expect(u).toMatchObject({ code: 0, err: ["Unsetting FOO and restarting ⬢ myapp... done"] });
        expect(await h.store.listReleases("myapp")).toEqual([]);
        expect(h.fleet.calls.some((c) => c.startsWith("rollout"))).toBe(false); // nothing deployed yet: nothing to restart
        await h.cli("config:set", "MODE=first", "-a", "myapp");
        await push(h, procfileApp);
        const v1 = (await h.store.currentRelease("myapp"))!;
        expect(v1).toMatchObject({ version: 1, description: "Deploy 1a2b3c4" });
        expect(v1.config).toMatchObject({ URL: "http://x/?a=b", MODE: "first" });
        expect(v1.config.FOO).toBeUndefined();
        const set = await h.cli("config:set", "MODE=second", "-a", "myapp");
        expect(set.err[set.err.length - 1]).toBe("Setting MODE and restarting ⬢ myapp... done, v2");
    });

    test("refusals change nothing", async () => {
        await refused(["config:set", "FOO", "-a", "myapp"], "FOO is invalid: use the format FOO=value");
        await refused(["config:set", "GOOD=1", "2BAD=x", "-a", "myapp"], /^ ▸    "2BAD" is not a valid config var name/);
        await refused(["config:set", "PORT=80", "-a", "myapp"], "PORT is set by dynoform in every dyno and cannot be changed: choose another name");
        await refused(["config:set", "-a", "myapp"], /^ ▸    Usage: dynoform config:set KEY1=VALUE1/);
        await refused(["config:set", "A=1", "-a", "ghost"], /^ ▸    Couldn't find that app: ghost\./);
        await refused(["config:unset", "NOPE", "-a", "myapp"], 'NOPE is not set on myapp: run "dynoform config -a myapp" to see its config vars');
        await refused(["config:get", "-a", "myapp"], "Missing argument for config:get. Usage: dynoform config:get KEY -a APP");
    });

    test("after a deploy a config change rolls out; if the rollout fails the old vars stay", async () => {
        await push(h, procfileApp);
        const ok = await h.cli("config:set", "A=1", "-a", "myapp");
        expect(ok.code).toBe(0);
        expect(h.fleet.calls[h.fleet.calls.length - 1]).toMatch(/^rollout myapp v2 /);
        const v2 = (await h.store.currentRelease("myapp"))!;
        expect(v2).toMatchObject({ version: 2, description: "Set A config vars", commit: "1a2b3c4d5e6f" });
        expect(v2.slug).toEqual((await h.store.getRelease("myapp", 1))!.slug);
        h.fleet.failRollout = "web.1 crashed at start (exit 1)";
        const bad = await h.cli("config:set", "A=2", "-a", "myapp");
        expect(bad.code).toBe(1);
        expect(bad.err[bad.err.length - 1]).toBe(" ▸    v3 failed and myapp keeps its previous config vars: web.1 crashed at start (exit 1). Fix the cause, then run the command again");
        expect((await h.store.getConfig("myapp")).A).toBe("1");
        expect((await h.store.currentRelease("myapp"))!.version).toBe(2);
    });
});

describe("ps", () => {
    beforeEach(async () => void (await h.cli("apps:create", "myapp")));

    test("before a deploy", async () => {
        expect((await h.cli("ps", "-a", "myapp")).out).toEqual(["No dynos on ⬢ myapp"]);
        await refused(["ps:scale", "web=1", "-a", "myapp"], "No process types on ⬢ myapp: deploy with git push first (the Procfile declares the process types)");
    });

    test("scale, show, restart", async () => {
        await push(h, procfileApp);
        expect((await h.cli("ps:scale", "-a", "myapp")).out).toEqual(["web=1:standard-1x worker=0:standard-1x"]);
        const s = await h.cli("ps:scale", "web=3", "worker+1", "-a", "myapp");
        expect(s).toMatchObject({ code: 0, err: ["Scaling dynos... done, now running web at 3:standard-1x, worker at 1:standard-1x"] });
        expect(await h.store.getFormation("myapp")).toEqual({ web: { quantity: 3, size: "standard-1x" }, worker: { quantity: 1, size: "standard-1x" } });
        expect((await h.cli("ps", "-a", "myapp")).out).toEqual([
            "=== web (standard-1x): ./serve (3)",
            "web.1: up 2026/11/21 18:53:46 +0000 (~ 1h ago)",
            "web.2: up 2026/11/21 18:53:46 +0000 (~ 1h ago)",
            "web.3: up 2026/11/21 18:53:46 +0000 (~ 1h ago)",
            "",
            "=== worker (standard-1x): ./work (1)",
            "worker.1: up 2026/11/21 18:53:46 +0000 (~ 1h ago)",
        ]);
        expect((await h.cli("ps", "worker", "-a", "myapp")).out[0]).toBe("=== worker (standard-1x): ./work (1)");
        const x = (await h.cli("ps", "-x", "-a", "myapp")).out;
        expect(x[0]).toMatch(/^Process +State +Host +Release +Command +Size$/);
        expect(x.filter((l) => / dyno1 /.test(l)).length).toBe(2);
        expect(x.filter((l) => / dyno2 /.test(l)).length).toBe(2);
        expect((await h.cli("ps:restart", "-a", "myapp")).err).toEqual(["Restarting dynos on ⬢ myapp... done"]);
        expect((await h.cli("ps:restart", "web", "-a", "myapp")).err).toEqual(["Restarting web dynos on ⬢ myapp... done"]);
        expect((await h.cli("ps:restart", "web.2", "-a", "myapp")).err).toEqual(["Restarting web.2 dyno on ⬢ myapp... done"]);
        expect(h.fleet.calls.slice(-3)).toEqual(["restart myapp all", "restart myapp web", "restart myapp web.2"]);
    });

    test("scale refusals change nothing", async () => {
        await push(h, { Procfile: "web: ./serve\nworker: ./work\nrelease: ./migrate\n" });
        await refused(["ps:scale", "web=-1", "-a", "myapp"], "web=-1: the number of dynos cannot be below 0; use web=0 to stop them");
        await refused(["ps:scale", "worker-2", "-a", "myapp"], "worker-2 would leave -2 worker dynos: the number cannot be below 0; use worker=0 to stop them");
        await refused(["ps:scale", "web=2", "clock=1", "-a", "myapp"], "Couldn't find that process type (clock): myapp has web, worker (declared in its Procfile)");
        await refused(["ps:scale", "release=1", "-a", "myapp"], '"release" is the release phase command, run once per release; it cannot be scaled. Scale one of: web, worker');
        await refused(["ps:scale", "web:3", "-a", "myapp"], 'Invalid argument "web:3": use TYPE=N, TYPE+N or TYPE-N, e.g. web=2');
        await refused(["ps:scale", "web=2:performance-l", "-a", "myapp"], 'Dyno size "performance-l" is not available: dynoform has one size, standard-1x; use web=2');
        await refused(["ps:scale", "web=101", "-a", "myapp"], "web at 101 is above the limit of 100 dynos per process type: use a smaller number");
        await refused(["ps:restart", "clock", "-a", "myapp"], "Couldn't find that process type (clock): myapp has web, worker");
        await refused(["ps:restart", "web.9", "-a", "myapp"], 'Couldn\'t find that dyno (web.9) on myapp: run "dynoform ps -a myapp" to see its dynos');
        await refused(["ps", "clock", "-a", "myapp"], 'No clock dynos on ⬢ myapp: run "dynoform ps -a myapp" to see its dynos');
    });

    test("a failed scale puts the formation back", async () => {
        await push(h, procfileApp);
        h.fleet.failScale = "dyno2 did not answer";
        const r = await h.cli("ps:scale", "web=2", "-a", "myapp");
        expect(r.code).toBe(1);
        expect(r.err).toEqual([" ▸    Scaling ⬢ myapp failed, its dynos are as they were: dyno2 did not answer"]);
        expect((await h.store.getFormation("myapp")).web.quantity).toBe(1);
    });
});

describe("releases and rollback", () => {
    beforeEach(async () => void (await h.cli("apps:create", "myapp")));

    test("releases output; rollback to previous and to a named release restores code and config", async () => {
        await push(h, procfileApp, "aaaaaaa1111"); // v1
        await h.cli("config:set", "MODE=old", "-a", "myapp"); // v2
        await push(h, { Procfile: "web: ./serve2\n" }, "bbbbbbb2222"); // v3
        await h.cli("config:set", "MODE=new", "-a", "myapp"); // v4
        expect((await h.cli("releases", "-a", "myapp")).out).toEqual([
            "=== myapp Releases - Current: v4",
            "v4  Set MODE config vars  alice  2026/11/21 18:53:46 +0000 (~ 1h ago)",
            "v3  Deploy bbbbbbb        alice  2026/11/21 18:53:46 +0000 (~ 1h ago)",
            "v2  Set MODE config vars  alice  2026/11/21 18:53:46 +0000 (~ 1h ago)",
            "v1  Deploy aaaaaaa        alice  2026/11/21 18:53:46 +0000 (~ 1h ago)",
        ]);
        expect((await h.cli("releases", "-a", "myapp", "-n", "2")).out).toHaveLength(3);

        const r1 = await h.cli("rollback", "-a", "myapp");
        expect(r1.err).toContain("Rolling back ⬢ myapp to v3... done, v5");
        expect(r1.err[r1.err.length - 1]).toMatch(/Warning: rollback affects code and config vars/);
        const r2 = await h.cli("rollback", "v1", "-a", "myapp");
        expect(r2.err).toContain("Rolling back ⬢ myapp to v1... done, v6");
        const v6 = (await h.store.currentRelease("myapp"))!;
        expect(v6).toMatchObject({ description: "Rollback to v1", commit: "aaaaaaa1111", processTypes: { web: "./serve", worker: "./work" } });
        expect(v6.config.MODE).toBeUndefined(); // v1's config vars: MODE came later
        expect((await h.store.getConfig("myapp")).MODE).toBeUndefined();
        expect(h.fleet.calls[h.fleet.calls.length - 1]).toMatch(/^rollout myapp v6 /);
        const json = JSON.parse((await h.cli("releases", "-a", "myapp", "--json")).out.join("\n"));
        expect(json[0].version).toBe(6);
        expect(json[0].config).toBeUndefined(); // secrets stay on the control host
    });

    test("failed releases are marked; rollback refusals", async () => {
        await push(h, procfileApp);
        h.fleet.failRollout = "web.1 did not bind $PORT within 60 s";
        await push(h, procfileApp, "ccccccc");
        expect((await h.cli("releases", "-a", "myapp")).out.slice(0, 2)).toEqual([
            "=== myapp Releases - Current: v1",
            "v2  Deploy ccccccc (failed)  alice  2026/11/21 18:53:46 +0000 (~ 1h ago)",
        ]);
        await refused(["rollback", "v99", "-a", "myapp"], 'Release v99 not found for myapp: run "dynoform releases -a myapp" to list releases');
        await refused(["rollback", "three", "-a", "myapp"], 'Invalid release "three": use vN, e.g. v3 (run "dynoform releases -a myapp" to list releases)');
        await refused(["rollback", "-a", "myapp"], 'myapp has no earlier deployed release to roll back to: name one with "dynoform rollback vN -a myapp"');
        await refused(["releases", "-a", "myapp", "-n", "0"], "-n must be a positive number of releases, e.g. -n 20");
    });
});

describe("run and logs", () => {
    beforeEach(async () => void (await h.cli("apps:create", "myapp")));

    test("run passes output and exit code through", async () => {
        await refused(["run", "ls", "-a", "myapp"], "myapp has no deployed code to run: deploy with git push first");
        await push(h, procfileApp);
        h.fleet.oneOff = { exitCode: 3, stdout: "hello\n", stderr: "oops\n" };
        const r = await h.cli("run", "-a", "myapp", "node", "-e", "console.log('hello'); process.exit(3)");
        expect(r.code).toBe(3);
        expect(r.stdout).toBe("hello\n");
        expect(r.stderr).toBe("oops\n");
        expect(r.err).toEqual([`Running node -e 'console.log('\\''hello'\\''); process.exit(3)' on ⬢ myapp... up, run.4821`]);
        expect(h.fleet.calls[h.fleet.calls.length - 1]).toBe(`run myapp v1 node -e 'console.log('\\''hello'\\''); process.exit(3)'`);
        const single = await h.cli("run", "echo $DATABASE_URL | wc -c", "-a", "myapp"); // one word: a shell line, passed as is
        expect(h.fleet.calls[h.fleet.calls.length - 1]).toBe("run myapp v1 echo $DATABASE_URL | wc -c");
        expect(single.code).toBe(3);
    });

    test("run: -a is dynoform's anywhere (Heroku's rule), other flags are the command's; -- ends dynoform's flags", () => {
        const specs = [APP_FLAG];
        expect(parseArgs("run", ["-a", "x", "ls", "-la", "--color", "/"], specs, { passUnknown: true })).toEqual({ flags: { app: "x" }, positional: ["ls", "-la", "--color", "/"] });
        expect(parseArgs("run", ["bash", "-a", "x"], specs, { passUnknown: true })).toEqual({ flags: { app: "x" }, positional: ["bash"] });
        expect(parseArgs("run", ["--app=x", "--", "ls", "-a", "/"], specs, { passUnknown: true })).toEqual({ flags: { app: "x" }, positional: ["ls", "-a", "/"] });
    });

    test("logs", async () => {
        const r = await h.cli("logs", "--tail", "-n", "200", "-d", "web.1", "-a", "myapp");
        expect(r.out).toEqual(["2026-11-21T19:53:46+00:00 app[web.1]: listening on 5000"]);
        expect(h.fleet.calls[h.fleet.calls.length - 1]).toBe('logs myapp {"tail":true,"num":200,"dyno":"web.1"}');
        await refused(["logs", "-n", "x", "-a", "myapp"], "-n must be a number of lines from 1 to 1500, e.g. -n 200");
        await refused(["logs", "-d", "web;rm", "-a", "myapp"], '--dyno "web;rm" is not a process type or dyno: use e.g. web or web.1');
    });
});

describe("domains", () => {
    beforeEach(async () => {
        await h.cli("apps:create", "myapp");
        await h.cli("apps:create", "other");
    });

    test("add, list, remove; routers told", async () => {
        const a = await h.cli("domains:add", "WWW.Example.com.", "-a", "myapp");
        expect(a.err).toEqual(["Adding www.example.com to ⬢ myapp... done"]);
        expect(h.fleet.routes.get("myapp")).toEqual(["myapp.dynoform.test", "www.example.com"]);
        expect((await h.cli("domains", "-a", "myapp")).out).toEqual([
            "=== myapp Dynoform Domain",
            "myapp.dynoform.test",
            "",
            "=== myapp Custom Domains",
            "Domain Name      DNS Record Type  DNS Target",
            "───────────────  ───────────────  ───────────────────",
            "www.example.com  CNAME            myapp.dynoform.test",
        ]);
        await refused(["domains:add", "www.example.com", "-a", "other"], 'www.example.com is already used by myapp: remove it there first with "dynoform domains:remove www.example.com -a myapp"');
        await refused(["domains:add", "www.example.com", "-a", "myapp"], 'www.example.com is already a domain of myapp: run "dynoform domains -a myapp" to see them');
        await refused(["domains:add", "bad_host", "-a", "myapp"], /^ ▸    "bad_host" is not a valid hostname/);
        await refused(["domains:remove", "myapp.dynoform.test", "-a", "myapp"], "myapp.dynoform.test is myapp's default domain and cannot be removed");
        expect((await h.cli("domains:add", "*.example.org", "-a", "other")).code).toBe(0);
        expect((await h.cli("domains:remove", "www.example.com", "-a", "myapp")).err).toEqual(["Removing www.example.com from ⬢ myapp... done"]);
        expect(h.fleet.routes.get("myapp")).toEqual(["myapp.dynoform.test"]);
    });

    test("names under the platform domain are reserved: a later app gets its own name's traffic", async () => {
        for (const host of ["b-app.dynoform.test", "dynoform.test", "*.dynoform.test", "x.y.dynoform.test"]) {
            await refused(
                ["domains:add", host, "-a", "myapp"],
                `${host} is under the platform domain dynoform.test, whose names are the apps' own (<app>.dynoform.test): a custom domain must be outside it`,
            );
        }
        expect(h.fleet.routes.get("myapp")).toEqual(["myapp.dynoform.test"]);
    });

    test("two apps adding the same domain at once: exactly one gets it", async () => {
        const [a, b] = await Promise.all([h.cli("domains:add", "shop.example.com", "-a", "myapp"), h.cli("domains:add", "shop.example.com", "-a", "other")]);
        expect([a.code, b.code].sort()).toEqual([0, 1]);
        const owners = [...(await h.store.getDomains("myapp")), ...(await h.store.getDomains("other"))].filter((d) => d.hostname === "shop.example.com");
        expect(owners).toHaveLength(1);
    });
});

describe("words", () => {
    test("split like sh, join back", () => {
        expect(splitWords(`config:set  A='x y' B="q\\"z" C=a\\ b -a app`)).toEqual(["config:set", "A=x y", 'B=q"z', "C=a b", "-a", "app"]);
        expect(splitWords(`run "" x`)).toEqual(["run", "", "x"]);
        expect(() => splitWords(`run 'x`)).toThrow("Unterminated single quote in the command: close it and try again");
        const words = ["node", "-e", "console.log('hi $HOME')", "a b", ""];
        expect(splitWords(joinWords(words))).toEqual(words);
    });
});
