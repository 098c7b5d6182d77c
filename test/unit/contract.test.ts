import * as crypto from "node:crypto";
import * as fs from "node:fs";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import {
    APP_NAME,
    checkAppName,
    formatRelease,
    parseDesiredState as parseWireState,
    parseDyno,
    parseOneOffRequest,
    parseRelease,
    parseRestartRequest,
    parseSlugRef,
    publicSlug,
    ValidationError,
} from "@dynoform/contract";
import { Agent } from "../../packages/agent/src/agent";
import { resolveConfig } from "../../packages/agent/src/config";
import { parseDesiredState } from "../../packages/agent/src/desired_state";
import { specHash } from "../../packages/agent/src/dyno";
import { StateStore } from "../../packages/agent/src/state_store";
import { AppStore, appNameProblem } from "../../packages/control/src/app_store";
import { ControlAuth } from "../../packages/router/src/control_auth";
import { createControlApi } from "../../packages/router/src/control_api";
import { DynoTable } from "../../packages/router/src/dyno_table";

// One contract, three services: the control role, an agent and a router each judge an app name and
// a release the same, through their own entry points (control's app store, the agent's PUT of a
// desired state, the router's control API).

const THIRTY = "a".repeat(29) + "b";
const THIRTY_ONE = "a".repeat(30) + "b";
const TRAILING_DASH = "shop-";
const ROUTER_TOKEN = "contract-test-token";

let tmp: string;
let agent: Agent;
let router: { url: string; close(): Promise<void> };

beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-contract-"));
    agent = new Agent(resolveConfig({ token: "t", stateDir: path.join(tmp, "agent"), supervisor: "process", appUsers: false }));
    const server = createControlApi({
        table: new DynoTable(() => undefined),
        auth: new ControlAuth(ROUTER_TOKEN, []),
        defaultLeaseMs: 10_000,
        metrics: async () => "",
        health: () => ({ workers: 1, workersReady: 1 }),
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    router = {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise<void>((r) => server.close(() => r())),
    };
});

afterAll(async () => {
    await agent.shutdown();
    await router.close();
    fs.rmSync(tmp, { recursive: true, force: true });
});

/** What each service answers for an app name: accepted, or the message it refuses it with. */
async function verdicts(name: string): Promise<{ control: string; agent: string; routerRoute: string; routerDyno: string }> {
    const control = await new AppStore(path.join(tmp, "control"))
        .createApp(name)
        .then(() => "accepted", (e: Error) => e.message);
    const agentSays = await agent.putApp(name, { release: 3 }).then(() => "accepted", (e: Error) => e.message);
    const put = async (p: string, body: unknown): Promise<string> => {
        const res = await fetch(`${router.url}${p}`, { method: "PUT", headers: { authorization: `Bearer ${ROUTER_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
        return res.ok ? "accepted" : ((await res.json()) as { error: string }).error;
    };
    return {
        control,
        agent: agentSays,
        routerRoute: await put(`/v1/apps/${name}`, {}),
        routerDyno: await put(`/v1/apps/${name}/dynos/web.1`, { address: "127.0.0.1:5000", release: 3 }),
    };
}

test.each([
    ["31 characters", THIRTY_ONE],
    ["a trailing dash", TRAILING_DASH],
    ["two characters", "ab"],
    ["an upper-case letter", "Shop"],
])("an app name with %s is refused by every service, with the control role's message", async (_what, name) => {
    const message = appNameProblem(name)!;
    expect(message).toMatch(/^Name ".*" is invalid: use 3 to 30 characters/);
    expect(await verdicts(name)).toEqual({ control: message, agent: message, routerRoute: message, routerDyno: message });
});

test("a 30-character app name is accepted by every service", async () => {
    expect(THIRTY).toHaveLength(30);
    expect(await verdicts(THIRTY)).toEqual({ control: "accepted", agent: "accepted", routerRoute: "accepted", routerDyno: "accepted" });
    expect(agent.appStatus(THIRTY).release).toBe(3);
});

test("the one rule behind every check", () => {
    for (const name of [THIRTY, THIRTY_ONE, TRAILING_DASH, "web", "a-b"]) {
        const ok = APP_NAME.test(name);
        expect(appNameProblem(name) === undefined).toBe(ok);
        if (ok) expect(checkAppName(name)).toBe(name);
        else expect(() => checkAppName(name)).toThrow(ValidationError);
    }
});

test("a release is a number on the wire: `release: 3` is accepted, v3 is only its text", () => {
    const cfg = resolveConfig({ token: "t" });
    expect(parseDesiredState({ release: 3 }, cfg).release).toBe(3);
    expect(parseWireState({ release: 3 }).release).toBe(3);
    expect(parseDyno("shop", "web.1", { address: "10.0.0.3:20001", release: 3 }, 1000).info.release).toBe(3);
    expect(formatRelease(3)).toBe("v3");
    for (const bad of [0, -1, 1.5, "3", "v", "v0", "release 3", null]) expect(() => parseRelease(bad)).toThrow(/release must be a release number/);
    expect(() => parseDesiredState({}, cfg)).toThrow(/release must be a release number/);
});

test("one-off and restart requests, slug references: parsed, or refused saying what is wrong", () => {
    const slug = { url: "http://10.0.0.1:5080/slugs/shop/x.tgz", sha256: "A".repeat(64), token: "t0k3n", layers: [{ path: "app/.heroku", offset: 0, length: 10, sha256: "b".repeat(64) }] };
    expect(parseSlugRef(slug)).toEqual({ ...slug, sha256: "a".repeat(64) });
    expect(publicSlug(parseSlugRef(slug))).not.toHaveProperty("token");
    expect(parseSlugRef({ ...slug, layers: [{ path: "../etc", offset: 0, length: 1, sha256: "b".repeat(64) }] })).not.toHaveProperty("layers");
    expect(() => parseSlugRef({ ...slug, token: "two words" })).toThrow(/slug.token must be 1 to 256 URL-safe characters/);
    expect(parseOneOffRequest({ command: "bash", env: { EXTRA: "1" }, size: "standard-2x", timeoutMs: 600_000, stdin: true, slug }, { knownSizes: ["standard-2x"] })).toMatchObject({ command: "bash", env: { EXTRA: "1" }, size: "standard-2x", stdin: true, slug: { sha256: "a".repeat(64) } });
    expect(() => parseOneOffRequest({ command: " " })).toThrow(/command must be a non-empty string/);
    expect(() => parseOneOffRequest({ command: "x", size: "huge" }, { knownSizes: ["standard-1x"] })).toThrow(/unknown dyno size "huge" \(known: standard-1x\)/);
    expect(() => parseOneOffRequest({ command: "x", env: { "A-B": "1" } })).toThrow(/env: invalid variable name "A-B"/);
    expect(parseRestartRequest({})).toEqual({});
    expect(parseRestartRequest({ dyno: "web.1" })).toEqual({ dyno: "web.1" });
    expect(() => parseRestartRequest({ dyno: 1 })).toThrow(/dyno must be a dyno name/);
});

test('an agent state file that holds releases as "v3" still loads, and its dynos keep their spec hash (they are not replaced)', async () => {
    const dir = path.join(tmp, "state-v3");
    const spec = { app: "shop", name: "web.1", type: "web", slugSha: "f".repeat(64), command: "node web.js", cwd: "/slug/app", env: { A: "1" }, size: "standard-1x", memoryMb: 512, concurrency: 50 };
    // the hash as an agent that kept "v3" made it
    const oldHash = crypto
        .createHash("sha256")
        .update(JSON.stringify([spec.app, spec.name, spec.type, "v3", spec.slugSha, spec.command, spec.cwd, Object.entries(spec.env).sort(), spec.memoryMb, spec.concurrency]))
        .digest("hex")
        .slice(0, 16);
    const record = { instance: "abc123", spec: { ...spec, release: "v3", specHash: oldHash }, state: "down", restarts: 0, crashes: 0 };
    const desired = { release: "v3", env: {}, processTypes: { web: "node web.js" }, dynos: [] };
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "state.json"), JSON.stringify({ version: 1, apps: { shop: { desired, cwd: "/slug/app", dynos: [], retiring: [record], oneOffCounter: 2 } } }));

    const loaded = new StateStore(dir).load().apps.shop;
    expect(loaded.desired.release).toBe(3);
    expect(loaded.retiring[0].spec.release).toBe(3);
    expect(specHash({ ...spec, release: 3 })).toBe(oldHash);

    const upgraded = new Agent(resolveConfig({ token: "t", stateDir: dir, supervisor: "process", appUsers: false }));
    await upgraded.start();
    try {
        expect(upgraded.appStatus("shop")).toMatchObject({ app: "shop", release: 3, lastError: null });
    } finally {
        await upgraded.shutdown();
    }
});
