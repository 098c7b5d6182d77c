// The runbooks' pure parts: the restore command line pg-restore runs, rotate-secrets' plan (its
// phases cut short for the SSH key: runbooks-ssh-key-rotation.test.ts), which
// host replace-host may remove (and the diff it shows), upgrade's order and drains.
import { callEsm } from "../support/esm";

const HOSTS = [
    { name: "edge-1", address: "10.213.1.10", roles: ["edge", "control"] },
    { name: "edge-2", address: "10.213.1.11", roles: ["edge"] },
    { name: "dyno-1", address: "10.213.1.21", roles: ["dyno"] },
    { name: "dyno-2", address: "10.213.1.22", roles: ["dyno"] },
    { name: "data-1", address: "10.213.1.30", roles: ["data"] },
];

describe("pg-restore: the pg:backups:restore command line", () => {
    const words = (w: object) => callEsm<string[]>("runbooks/lib/pg_restore_words.mjs", "restoreWords", w);
    test("a backup, the latest, another app's, a time", () => {
        expect(words({ app: "shop", backup: "b003" }).value).toEqual(["pg:backups:restore", "b003", "DATABASE_URL", "-a", "shop", "--confirm", "shop"]);
        expect(words({ app: "shop" }).value).toEqual(["pg:backups:restore", "DATABASE_URL", "-a", "shop", "--confirm", "shop"]);
        expect(words({ app: "shop", backup: "old-shop::b001" }).value).toContain("old-shop::b001");
        expect(words({ app: "shop", to: " 2026-11-30 01:41:12 UTC " }).value).toEqual(["pg:backups:restore", "DATABASE_URL", "--to", "2026-11-30 01:41:12 UTC", "-a", "shop", "--confirm", "shop"]);
        expect(words({ app: "shop", to: "2026-11-30T01:41:12+01:00" }).value).toContain("2026-11-30T01:41:12+01:00");
    });
    test("bad input says what to pass", () => {
        expect(words({ app: "shop", backup: "b003", to: "2026-11-30T01:41:12Z" }).error).toMatch(/either a backup or --to TIME/);
        expect(words({ app: "shop", backup: "latest" }).error).toMatch(/not a backup id: use b001/);
        expect(words({ app: "shop", to: "2026-11-30 01:41:12" }).error).toMatch(/not a time with its zone/);
        expect(words({ app: "shop", to: "yesterday" }).error).toMatch(/--to '2026-11-30 01:41:12 UTC'/);
    });
});

describe("rotate-secrets: the plan", () => {
    const plan = (w: object, configured?: object, applied?: object, configuredPhase?: object, appliedPhase?: object) =>
        callEsm<Record<string, any>>("runbooks/lib/rotation_plan.mjs", "rotationPlan", w, configured ?? {}, applied ?? {}, configuredPhase ?? {}, appliedPhase ?? {});
    const phases = (p: { value?: Record<string, any> }) => p.value!.steps.map((s: { name?: string; config: unknown }) => [s.name ?? "done", s.config]);
    test("a token: the counter goes up by one with phase accept in one config write, then switch, then the phase removed; one pulumi up each", () => {
        const p = plan({ what: "router-token" }, { routerToken: "2" }, { routerToken: 2 });
        expect(p.value).toMatchObject({ kind: "stack", counter: "routerToken", to: 3, pending: false });
        expect(phases(p)).toEqual([
            ["accept", { set: { "dynoform:rotation.routerToken": "3", "dynoform:rotationPhase.routerToken": "accept" } }],
            ["switch", { set: { "dynoform:rotationPhase.routerToken": "switch" } }],
            ["done", { rm: "dynoform:rotationPhase.routerToken" }],
        ]);
        expect(p.value!.steps.map((s: { phase?: string }) => s.phase)).toEqual(["accept", "switch", undefined]);
        for (const what of ["agent-token", "log-token", "ssh-key"]) expect(plan({ what }).value!.steps).toHaveLength(3);
    });
    test("a rotation cut short is finished from its phase, never raised again", () => {
        // the counter and phase written, the accept pulumi up cut short (or not yet run)
        expect(phases(plan({ what: "log-token" }, { logToken: "3" }, { logToken: 2 }, { logToken: "accept" }))).toEqual([
            ["accept", null],
            ["switch", { set: { "dynoform:rotationPhase.logToken": "switch" } }],
            ["done", { rm: "dynoform:rotationPhase.logToken" }],
        ]);
        expect(plan({ what: "log-token" }, { logToken: "3" }, { logToken: 3 }, { logToken: "accept" }, { logToken: "accept" }).value).toMatchObject({ to: 3, pending: true });
        expect(phases(plan({ what: "agent-token" }, { agentToken: 1 }, { agentToken: 1 }, { agentToken: "switch" }, { agentToken: "accept" }))).toEqual([
            ["switch", null],
            ["done", { rm: "dynoform:rotationPhase.agentToken" }],
        ]);
        // the phase removed, its pulumi up cut short: the stack's outputs still say switch
        expect(phases(plan({ what: "ssh-key" }, { sshKey: 1 }, { sshKey: 1 }, {}, { sshKey: "switch" }))).toEqual([["done", null]]);
        // raised without a phase (by hand, or before phases existed): through the phases from accept
        expect(phases(plan({ what: "router-token" }, { routerToken: 1 }, {}))).toEqual([
            ["accept", { set: { "dynoform:rotationPhase.routerToken": "accept" } }],
            ["switch", { set: { "dynoform:rotationPhase.routerToken": "switch" } }],
            ["done", { rm: "dynoform:rotationPhase.routerToken" }],
        ]);
    });
    test("the PostgreSQL admin password is one step: the counter, one pulumi up", () => {
        expect(plan({ what: "pg-admin" }, { pgAdmin: "2" }, { pgAdmin: 2 }).value).toMatchObject({ counter: "pgAdmin", to: 3, pending: false, steps: [{ config: { set: { "dynoform:rotation.pgAdmin": "3" } } }] });
        expect(plan({ what: "pg-admin" }, { pgAdmin: 3 }, { pgAdmin: 2 }).value).toMatchObject({ to: 3, pending: true, steps: [{ config: null }] });
    });
    test("an app's database password goes through its verb", () => {
        expect(plan({ what: "app-db", app: "shop" }).value).toMatchObject({ kind: "app", app: "shop" });
    });
    test("bad input says what to pass", () => {
        expect(plan({ what: "varnish-token" }).error).toMatch(/rotate one of router-token, agent-token, log-token, ssh-key, pg-admin, app-db/);
        expect(plan({ what: "app-db" }).error).toMatch(/pass -a APP/);
        expect(plan({ what: "router-token", app: "shop" }).error).toMatch(/drop -a shop/);
        expect(plan({ what: "router-token" }, { routerToken: 1 }, { routerToken: 1 }, { routerToken: "halfway" }).error).toMatch(/is "halfway", not accept or switch: set it to the phase the rotation reached/);
    });
});

describe("replace-host: which host may go", () => {
    const removal = (name: string, opts = {}) => callEsm<{ index: number; entry: { name: string } }>("runbooks/lib/host_removal.mjs", "removalPlan", HOSTS, name, opts);
    test("a dyno host or a second edge: its index in dynoform:hosts", () => {
        expect(removal("dyno-2").value).toEqual({ index: 3, entry: HOSTS[3] });
        expect(removal("edge-2").value?.index).toBe(1);
    });
    test("refusals say what to do first", () => {
        expect(removal("edge-1").error).toMatch(/is the control host: move its state with control-backup.mjs/);
        expect(removal("data-1").error).toMatch(/is the data host/);
        expect(removal("dyno-3").error).toMatch(/not in dynoform:hosts: its hosts are edge-1, edge-2/);
        expect(removal("dyno-2", { backupHost: "dyno-2" }).error).toMatch(/keeps the backups \(dynoform:backupHost\)/);
        expect(callEsm("runbooks/lib/host_removal.mjs", "removalPlan", HOSTS.slice(0, 3).concat(HOSTS[4]), "dyno-1").error).toMatch(/last dyno host/);
    });
    test("the diff shows the removed entry as the stack file has it", () => {
        expect(callEsm("runbooks/lib/host_removal.mjs", "entryLines", HOSTS[3]).value).toEqual(["-   - name: dyno-2", "-     address: 10.213.1.22", "-     roles: [dyno]"]);
    });
});

describe("upgrade: order and drains", () => {
    const plan = (opts: object) => callEsm<{ name: string; drain: boolean }[]>("runbooks/lib/upgrade_plan.mjs", "upgradePlan", HOSTS, opts);
    test("dyno hosts first, drained; then edges, data, the control host last", () => {
        expect(plan({}).value).toEqual([
            { name: "dyno-1", roles: ["dyno"], drain: true, handOff: false },
            { name: "dyno-2", roles: ["dyno"], drain: true, handOff: false },
            { name: "edge-2", roles: ["edge"], drain: false, handOff: false },
            { name: "data-1", roles: ["data"], drain: false, handOff: false },
            { name: "edge-1", roles: ["edge", "control"], drain: false, handOff: false },
        ]);
    });
    test("with a floating address, each edge hands it to another edge while it is upgraded", () => {
        expect(plan({ floatingAddress: "10.213.1.9" }).value?.filter((p) => (p as { handOff?: boolean }).handOff).map((p) => p.name)).toEqual(["edge-2", "edge-1"]);
        const oneEdge = HOSTS.filter((h) => h.name !== "edge-2");
        expect(callEsm<{ handOff: boolean }[]>("runbooks/lib/upgrade_plan.mjs", "upgradePlan", oneEdge, { floatingAddress: "10.213.1.9" }).value?.some((p) => p.handOff)).toBe(false);
    });
    test("a host drained before stays drained; one whose dynos have nowhere to go is not drained", () => {
        expect(plan({ only: ["dyno-1", "dyno-2"], drained: ["dyno-2"] }).value?.map((p) => [p.name, p.drain])).toEqual([
            ["dyno-1", false],
            ["dyno-2", false],
        ]);
    });
    test("--hosts: names of dynoform:hosts", () => {
        expect(callEsm("runbooks/lib/upgrade_plan.mjs", "parseHostList", "dyno-1, edge-2", HOSTS).value).toEqual(["dyno-1", "edge-2"]);
        expect(callEsm("runbooks/lib/upgrade_plan.mjs", "parseHostList", "dyno-9", HOSTS).error).toMatch(/dyno-9 is not in dynoform:hosts \(edge-1/);
        expect(callEsm("runbooks/lib/upgrade_plan.mjs", "parseHostList", ",", HOSTS).error).toMatch(/names no host/);
    });
});
