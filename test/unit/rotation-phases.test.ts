// A rotation in phases (dynoform:rotationPhase, components/config/rotation.ts) under Pulumi's mocks:
// which token files each checker and each sender gets in each phase. The mocks give a secret kept
// through a rotation (`keepPrevious`) the value `previous-<name>` beside its `secret-<name>`.
import { createHash } from "crypto";
import { parseStackConfig } from "../../components/config/stack_config";
import { Created, platformOnFakeHosts, recordResources, TWO_EDGE_LAB } from "../support/platform_mocks";
import { value } from "../support/outputs";

const created = recordResources();

const RAW = TWO_EDGE_LAB;

/** Pulumi's wire form of a secret, as mocks receive it. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const plain = (v: unknown): string => String(typeof v === "object" && v !== null && SECRET_SIG in v ? (v as unknown as { value: unknown }).value : v);
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const current = (name: string) => `secret-dynoform-${name}`;
const previous = (name: string) => `previous-dynoform-${name}`;

interface Rendered {
    file(host: string, path: string): string;
    secret(name: string): Created;
    routerToken: string;
    agentTokens: Record<string, string>;
}

/** The platform of RAW with `rotation` and `rotationPhase`: its files by host and path, and its outputs. */
async function render(rotation: object, rotationPhase?: object): Promise<Rendered> {
    created.length = 0;
    const { platform } = await platformOnFakeHosts(parseStackConfig({ ...RAW, rotation, ...(rotationPhase ? { rotationPhase } : {}) }));
    const mine = [...created];
    return {
        file: (host, path) => plain(mine.find((c) => c.host === host && c.inputs.path === path)!.inputs.content),
        secret: (name) => mine.find((c) => c.type.includes("GeneratedSecret") && c.name === `dynoform-${name}`)!,
        routerToken: await value(platform.routerToken),
        agentTokens: await value(platform.agentTokens),
    };
}

const control = (r: Rendered) => JSON.parse(r.file("edge-1", "/etc/dynoform/control.json"));
const routerJson = (r: Rendered, edge = "edge-1") => JSON.parse(r.file(edge, "/etc/dynoform/router.json"));
const logplexJson = (r: Rendered) => JSON.parse(r.file("edge-1", "/etc/dynoform/logplex.json"));

describe("router-token", () => {
    test("accept: every router accepts the old and the new token; the control role still sends the old", async () => {
        const r = await render({ routerToken: 1 }, { routerToken: "accept" });
        expect(r.secret("router-token").inputs).toMatchObject({ rotation: 1, keepPrevious: true });
        for (const edge of ["edge-1", "edge-2"]) expect(r.file(edge, "/etc/dynoform/router-control.token")).toBe(`${current("router-token")}\n${previous("router-token")}`);
        expect(control(r).routerToken).toBe(previous("router-token"));
        expect(r.routerToken).toBe(previous("router-token"));
    });
    test("switch: the routers still accept both; the control role sends the new", async () => {
        const r = await render({ routerToken: 1 }, { routerToken: "switch" });
        expect(r.file("edge-2", "/etc/dynoform/router-control.token")).toBe(`${current("router-token")}\n${previous("router-token")}`);
        expect(control(r).routerToken).toBe(current("router-token"));
        expect(r.routerToken).toBe(current("router-token"));
    });
    test("done (no phase): the routers accept the new alone, and the secret keeps no previous value", async () => {
        const r = await render({ routerToken: 1 });
        expect(r.secret("router-token").inputs.keepPrevious).toBeUndefined();
        expect(r.file("edge-1", "/etc/dynoform/router-control.token")).toBe(current("router-token"));
        expect(control(r).routerToken).toBe(current("router-token"));
    });
    test("one kind's rotation leaves the others' holders alone", async () => {
        const r = await render({ routerToken: 1 }, { routerToken: "accept" });
        expect(r.secret("agent-token-dyno-1").inputs.keepPrevious).toBeUndefined();
        expect(r.secret("logplex-control-token").inputs.keepPrevious).toBeUndefined();
        expect(r.file("dyno-1", "/etc/dynoform/agent.token")).toBe(current("agent-token-dyno-1"));
        expect(r.file("edge-1", "/etc/dynoform/logplex-control.token")).toBe(current("logplex-control-token"));
        expect(routerJson(r).agents).toEqual([{ address: "10.213.7.21", tokenSha256: sha256(current("registration-token-dyno-1")) }]);
    });
});

describe("agent-token", () => {
    test("accept: the agent accepts the control role's old and new token, every router the host's old and new credential; senders send the old", async () => {
        const r = await render({ agentToken: 2 }, { agentToken: "accept" });
        expect(r.file("dyno-1", "/etc/dynoform/agent.token")).toBe(`${current("agent-token-dyno-1")}\n${previous("agent-token-dyno-1")}`);
        for (const edge of ["edge-1", "edge-2"]) {
            expect(routerJson(r, edge).agents).toEqual([
                { address: "10.213.7.21", tokenSha256: sha256(current("registration-token-dyno-1")) },
                { address: "10.213.7.21", tokenSha256: sha256(previous("registration-token-dyno-1")) },
            ]);
        }
        expect(r.file("dyno-1", "/etc/dynoform/registration.token")).toBe(previous("registration-token-dyno-1"));
        expect(control(r).agentTokens).toEqual({ "http://10.213.7.21:5100": previous("agent-token-dyno-1") });
        expect(Object.values(r.agentTokens)).toEqual([previous("agent-token-dyno-1")]);
    });
    test("switch: both still accepted; the control role and the agent send the new", async () => {
        const r = await render({ agentToken: 2 }, { agentToken: "switch" });
        expect(r.file("dyno-1", "/etc/dynoform/agent.token")).toBe(`${current("agent-token-dyno-1")}\n${previous("agent-token-dyno-1")}`);
        expect(routerJson(r).agents).toHaveLength(2);
        expect(r.file("dyno-1", "/etc/dynoform/registration.token")).toBe(current("registration-token-dyno-1"));
        expect(control(r).agentTokens).toEqual({ "http://10.213.7.21:5100": current("agent-token-dyno-1") });
    });
    test("done: the new alone", async () => {
        const r = await render({ agentToken: 2 });
        expect(r.file("dyno-1", "/etc/dynoform/agent.token")).toBe(current("agent-token-dyno-1"));
        expect(routerJson(r).agents).toEqual([{ address: "10.213.7.21", tokenSha256: sha256(current("registration-token-dyno-1")) }]);
    });
});

describe("log-token", () => {
    const senders = (kind: "current" | "both") =>
        ["agent.dyno-1", "router.edge-1", "router.edge-2"].flatMap((name) => {
            const secret = name.startsWith("agent.") ? `agent-log-token-${name.slice(6)}` : `router-log-token-${name.slice(7)}`;
            return [{ name, tokenSha256: sha256(current(secret)) }, ...(kind === "both" ? [{ name, tokenSha256: sha256(previous(secret)) }] : [])];
        });
    test("accept: the log router accepts every old and new token; agents, routers and the control role send the old", async () => {
        const r = await render({ logToken: 1 }, { logToken: "accept" });
        expect(r.file("edge-1", "/etc/dynoform/logplex-control.token")).toBe(`${current("logplex-control-token")}\n${previous("logplex-control-token")}`);
        expect(logplexJson(r).senders).toEqual(senders("both"));
        expect(r.file("dyno-1", "/etc/dynoform/agent-log.token")).toBe(previous("agent-log-token-dyno-1"));
        expect(r.file("edge-2", "/etc/dynoform/router-log.token")).toBe(previous("router-log-token-edge-2"));
        expect(control(r).logRouterToken).toBe(previous("logplex-control-token"));
    });
    test("switch: both accepted; every sender sends the new", async () => {
        const r = await render({ logToken: 1 }, { logToken: "switch" });
        expect(logplexJson(r).senders).toEqual(senders("both"));
        expect(r.file("dyno-1", "/etc/dynoform/agent-log.token")).toBe(current("agent-log-token-dyno-1"));
        expect(r.file("edge-1", "/etc/dynoform/router-log.token")).toBe(current("router-log-token-edge-1"));
        expect(control(r).logRouterToken).toBe(current("logplex-control-token"));
    });
    test("done: the new alone", async () => {
        const r = await render({ logToken: 1 });
        expect(r.file("edge-1", "/etc/dynoform/logplex-control.token")).toBe(current("logplex-control-token"));
        expect(logplexJson(r).senders).toEqual(senders("current"));
    });
});
