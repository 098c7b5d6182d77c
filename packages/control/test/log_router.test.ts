// The control role and the log router: `logs` reads the app's one stream there (with Heroku's -s
// and -d), the control role's own `app[api]` lines for builds, releases, config and scaling land
// in it, drains are added (tried first), listed and removed in Heroku's wording, and apps:destroy
// forgets the app's lines.
import * as net from "node:net";
import { Readable } from "node:stream";
import { runCli } from "../src/cli";
import type { CliContext } from "../src/cli/context";
import type { AddressInfo } from "node:net";
import { LogRouterClient, logQuery } from "../src/log_router_client";
import { herokuSizeName } from "../src/api_log";
import { harness, Harness } from "./helpers/cli_harness";
import { push } from "./helpers/push";
import { call, CONTROL_TOKEN, HttpsReceiver, postLines, selfSigned, startTestLogplex, tempDir, until } from "../../logplex/test/helpers";
import type { RunningLogplex } from "../../logplex/src/logplex";

jest.setTimeout(30_000);

let h: Harness;
let lp: RunningLogplex;
let client: LogRouterClient;

beforeEach(async () => {
    h = await harness();
    lp = await startTestLogplex(tempDir());
    client = new LogRouterClient({ url: `http://${lp.address}`, token: CONTROL_TOKEN });
    Object.assign(h.fleet, { logRouter: client });
});
afterEach(async () => {
    await client.flushed();
    await lp.close();
    h.cleanup();
});

const stored = async (app: string) => (await call(lp.address, "GET", `/v1/apps/${app}/logs?num=100`, { token: CONTROL_TOKEN })).body.trim().split("\n").filter(Boolean).map((l) => l.replace(/^\S+ /, ""));

test("builds, releases, config changes and scaling write Heroku's app[api] lines", async () => {
    await h.cli("apps:create", "myapp");
    await push(h, { Procfile: "web: ./serve\n" });
    expect((await h.cli("config:set", "GREETING=hi", "-a", "myapp")).code).toBe(0);
    expect((await h.cli("ps:scale", "web=2", "-a", "myapp")).code).toBe(0);
    await client.flushed();
    expect(await stored("myapp")).toEqual([
        "app[api]: Build started by user alice",
        "app[api]: Build succeeded",
        "app[api]: Deploy 1a2b3c4 by user alice",
        "app[api]: Release v1 created by user alice",
        "app[api]: Set GREETING config vars by user alice",
        "app[api]: Release v2 created by user alice",
        "app[api]: Scaled to web@2:Standard-1X by user alice",
    ]);
});

test("logs reads the log router with -n, -s and -d; apps:destroy forgets the app's lines", async () => {
    await h.cli("apps:create", "myapp");
    const now = Date.UTC(2026, 10, 30, 4, 12, 25, 123) + 0.456;
    await postLines(lp.address, [
        { app: "myapp", time: now, seq: 1, source: "app", dyno: "web.1", msg: "hello" },
        { app: "myapp", time: now + 1, seq: 2, source: "heroku", dyno: "router", msg: "at=info method=GET path=\"/\"" },
        { app: "myapp", time: now + 2, seq: 3, source: "heroku", dyno: "web.1", msg: "State changed from starting to up" },
    ]);
    // Heroku's timestamps, to the microsecond.
    expect((await h.cli("logs", "-a", "myapp", "-n", "1")).out).toEqual(["2026-11-30T04:12:25.125456+00:00 heroku[web.1]: State changed from starting to up"]);
    const text = async (...argv: string[]) => (await h.cli("logs", "-a", "myapp", ...argv)).out.map((l) => l.replace(/^\S+ /, ""));
    expect(await text()).toEqual(["app[web.1]: hello", 'heroku[router]: at=info method=GET path="/"', "heroku[web.1]: State changed from starting to up"]);
    expect(await text("-n", "1")).toEqual(["heroku[web.1]: State changed from starting to up"]);
    expect(await text("-s", "app")).toEqual(["app[web.1]: hello"]);
    expect(await text("-d", "router")).toEqual(['heroku[router]: at=info method=GET path="/"']);
    expect(await text("-s", "heroku", "-d", "web.1")).toEqual(["heroku[web.1]: State changed from starting to up"]);
    expect((await h.cli("apps:destroy", "-a", "myapp", "--confirm", "myapp")).code).toBe(0);
    expect(await stored("myapp")).toEqual([]);
});

test("drains:add tries the drain, drains lists it, drains:remove removes it; a dead drain is refused with why", async () => {
    await h.cli("apps:create", "myapp");
    const receiver = net.createServer((s) => s.resume());
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    try {
        const url = `syslog://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
        const added = await h.cli("drains:add", url, "-a", "myapp");
        expect(added).toMatchObject({ code: 0, err: [`Successfully added drain ${url}`] });
        const listed = await h.cli("drains", "-a", "myapp");
        expect(listed.out[0]).toBe("=== Drains");
        expect(listed.out[1]).toMatch(new RegExp(`^${url.replace(/[.+]/g, "\\$&")} \\(d\\.[0-9a-f-]{36}\\)$`));
        expect((await h.cli("drains:add", url, "-a", "myapp")).err.join("\n")).toMatch(/already been added/);
        expect(await h.cli("drains:remove", url, "-a", "myapp")).toMatchObject({ code: 0, err: [`Successfully removed drain ${url}`] });
        expect((await h.cli("drains", "-a", "myapp")).err).toEqual(["⬢ myapp has no drains"]);
        expect((await h.cli("drains:remove", url, "-a", "myapp")).code).not.toBe(0);
    } finally {
        receiver.close();
    }
    const dead = await h.cli("drains:add", "syslog://127.0.0.1:9", "-a", "myapp");
    expect(dead.code).not.toBe(0);
    expect(dead.err.join("\n")).toMatch(/Could not connect to syslog:\/\/127\.0\.0\.1:9/);
    expect((await h.cli("drains:add", "ftp://logs.example.com", "-a", "myapp")).err.join("\n")).toMatch(/syslog|https/);
    expect((await h.cli("drains:add", "https://logs.example.com", "--ca", "ca.pem", "-a", "myapp")).err.join("\n")).toMatch(/--ca takes "-"/);
});

test("without a log router the drains verbs say what to configure", async () => {
    Object.assign(h.fleet, { logRouter: undefined });
    await h.cli("apps:create", "myapp");
    expect((await h.cli("drains", "-a", "myapp")).err.join("\n")).toMatch(/control\.json needs logRouterUrl and logRouterToken/);
});

test("Heroku's names: sizes, and -s/-d as the log router's query", () => {
    expect(["standard-1x", "standard-2x", "performance-m", "eco"].map(herokuSizeName)).toEqual(["Standard-1X", "Standard-2X", "Performance-M", "Eco"]);
    expect(String(logQuery({ tail: true, num: 5, source: "router" }))).toBe("num=5&tail=1&source=heroku&dyno=router");
    expect(String(logQuery({ tail: false, num: 100, source: "app", dyno: "web" }))).toBe("num=100&source=app&dyno=web");
});

test("drains:add https://… --ca - takes the drain's CA on stdin (ssh passes it on); without it the certificate is refused", async () => {
    await h.cli("apps:create", "myapp");
    const cert = selfSigned(tempDir("control-drain-cert-"));
    const rx = await HttpsReceiver.listen(cert);
    try {
        const url = `https://localhost:${rx.port}/logs`;
        const run = async (stdin: string | undefined, ...argv: string[]) => {
            const err: string[] = [];
            const ctx: CliContext = {
                store: h.store, fleet: h.fleet, settings: { domain: "dynoform.test", gitUrl: (a) => a, webUrl: (a) => a, user: "alice" },
                out: () => undefined, err: (l) => err.push(l), writeStdout: () => undefined, writeStderr: () => undefined,
                now: () => new Date(), randomName: () => "x", ...(stdin !== undefined ? { stdin: Readable.from([stdin]) } : {}),
            };
            return { code: await runCli(argv, ctx), err };
        };
        const refused = await run(undefined, "drains:add", url, "-a", "myapp");
        expect(refused.code).not.toBe(0);
        expect(refused.err.join("\n")).toMatch(/TLS handshake with .* failed: .*give the CA that signs it/);
        expect((await run("not a certificate", "drains:add", url, "-a", "myapp", "--ca", "-")).err.join("\n")).toMatch(/stdin holds no PEM certificate/);
        expect(await run(cert.cert, "drains:add", url, "-a", "myapp", "--ca", "-")).toEqual({ code: 0, err: [`Successfully added drain ${url}`] });
        await postLines(lp.address, [{ app: "myapp", time: Date.now(), seq: 1, source: "app", dyno: "web.1", msg: "to the drain" }]);
        await until(() => rx.messages.some((m) => m.msg === "to the drain"));
    } finally {
        await rx.close();
    }
});

test("apps:destroy with the log router away stops before the store forgets the app, saying how to finish", async () => {
    await h.cli("apps:create", "myapp");
    Object.assign(h.fleet, { logRouter: new LogRouterClient({ url: "http://127.0.0.1:9", token: CONTROL_TOKEN }) });
    const r = await h.cli("apps:destroy", "-a", "myapp", "--confirm", "myapp");
    expect(r.code).not.toBe(0);
    expect(r.err.join("\n")).toMatch(/Could not remove myapp's logs and drains at the log router .*run apps:destroy again once the log router answers/);
    expect(await h.store.listApps()).toContain("myapp");
});
