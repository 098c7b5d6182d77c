// dynoform:rotation and dynoform:rotationPhase (components/config/rotation.ts) and what they do to a
// GeneratedSecret: a raised counter gives it a new value, kept beside the old one while a rotation
// in phases runs; a stack made before rotation existed sees no change at all.
import { parseStackConfig, RawStackConfig } from "../../components/config/stack_config";
import { parseRotation, parseRotationPhases, phaseRoles } from "../../components/config/rotation";
import { generatedSecretProvider } from "../../components/secrets/generated_secret";

const LAB: RawStackConfig = {
    target: "lab",
    domain: "dynoform.test",
    lab: { network: "local", subnet: "10.213.1.0/24" },
    hosts: [
        { name: "edge-1", address: "10.213.1.10", roles: ["edge", "control"] },
        { name: "dyno-1", address: "10.213.1.21", roles: ["dyno"] },
        { name: "data-1", address: "10.213.1.30", roles: ["data"] },
    ],
};

test("counters: whole numbers (pulumi config set --path stores strings), the ones left out 0", () => {
    const problems: string[] = [];
    expect(parseRotation({ routerToken: "2", pgAdmin: 1 }, problems)).toEqual({ routerToken: 2, agentToken: 0, logToken: 0, pgAdmin: 1, sshKey: 0 });
    expect(problems).toEqual([]);
});

test("bad counters say what the counters are", () => {
    const problems: string[] = [];
    parseRotation({ varnishPurge: 1, routerToken: "-1" }, problems);
    expect(problems).toEqual([
        "dynoform:rotation.varnishPurge is not a secret the stack rotates: the counters are routerToken, agentToken, logToken, pgAdmin, sshKey",
        'dynoform:rotation.routerToken must be a whole number from 0 (got "-1"): runbooks/rotate-secrets.mjs raises it by one',
    ]);
    parseRotation([1], problems);
    expect(problems[2]).toMatch(/must be a map of counters such as \{routerToken: 1\}/);
});

test("the stack config carries it only when set", () => {
    expect(parseStackConfig(LAB).rotation).toBeUndefined();
    expect(parseStackConfig({ ...LAB, rotation: { logToken: "1" } }).rotation).toMatchObject({ logToken: 1 });
    expect(() => parseStackConfig({ ...LAB, rotation: { nope: 1 } })).toThrow(/dynoform:rotation.nope/);
});

test("phases: accept or switch, only for the kinds rotated in phases", () => {
    const problems: string[] = [];
    expect(parseRotationPhases({ routerToken: "accept", sshKey: "switch" }, problems)).toEqual({ routerToken: "accept", sshKey: "switch" });
    expect(problems).toEqual([]);
    parseRotationPhases({ pgAdmin: "accept", logToken: "done" }, problems);
    expect(problems).toEqual([
        "dynoform:rotationPhase.pgAdmin is not a secret rotated in phases: those are routerToken, agentToken, logToken, sshKey",
        'dynoform:rotationPhase.logToken must be accept or switch (got "done"): run runbooks/rotate-secrets.mjs to finish the rotation',
    ]);
    expect(parseStackConfig(LAB).rotationPhase).toBeUndefined();
    expect(parseStackConfig({ ...LAB, rotationPhase: {} }).rotationPhase).toBeUndefined();
    expect(parseStackConfig({ ...LAB, rotationPhase: { agentToken: "switch" } }).rotationPhase).toEqual({ agentToken: "switch" });
    expect(() => parseStackConfig({ ...LAB, rotationPhase: "accept" })).toThrow(/dynoform:rotationPhase must be a map/);
});

test("what each phase means: checkers accept old and new until the last phase, senders switch in the middle one", () => {
    expect(phaseRoles("accept")).toEqual({ accepted: ["current", "previous"], sent: "previous" });
    expect(phaseRoles("switch")).toEqual({ accepted: ["current", "previous"], sent: "current" });
    expect(phaseRoles(undefined)).toEqual({ accepted: ["current"], sent: "current" });
    // In every phase, and across each change of phase, what a sender sends is accepted.
    const phases = ["accept", "switch", undefined] as const;
    for (const [i, phase] of phases.entries()) {
        const { accepted, sent } = phaseRoles(phase);
        expect(accepted).toContain(sent);
        if (i > 0) expect(phaseRoles(phases[i - 1]).accepted).toContain(sent); // a checker not yet updated
        if (i + 1 < phases.length) expect(phaseRoles(phases[i + 1]).accepted).toContain(sent); // a sender not yet updated
    }
});

test("a GeneratedSecret gets a new value when its counter changes, and only then; stacks from before see no change", async () => {
    const diff = generatedSecretProvider.diff!;
    expect(await diff("id", { bytes: 32 }, { bytes: 32 })).toEqual({ changes: false, replaces: [] });
    // stacks made before rotation: no rotation input on either side, or 0
    expect(await diff("id", { bytes: 32 }, { bytes: 32, rotation: 0 } as never)).toEqual({ changes: false, replaces: [] });
    expect(await diff("id", { bytes: 32 }, { bytes: 32, rotation: 1 } as never)).toEqual({ changes: true, replaces: [] });
    expect(await diff("id", { bytes: 32, rotation: 1 } as never, { bytes: 32, rotation: 2, keepPrevious: true } as never)).toEqual({ changes: true, replaces: [] });
    expect(await diff("id", { bytes: 32, rotation: 2, keepPrevious: true } as never, { bytes: 32, rotation: 2 } as never)).toEqual({ changes: true, replaces: [] });
    expect(await diff("id", { bytes: 16 }, { bytes: 32 })).toEqual({ changes: true, replaces: ["bytes"] });
    const a = await generatedSecretProvider.create({ bytes: 16, rotation: 2 });
    expect(a.outs).toMatchObject({ bytes: 16, rotation: 2 });
    expect(a.outs.value).toMatch(/^[0-9a-f]{32}$/);
});

test("a rotation in phases keeps the old value as previous until its last phase drops it from the state", async () => {
    const update = generatedSecretProvider.update!;
    const before = { bytes: 16, rotation: 1, value: "old" };
    // accept: raised with keepPrevious
    const accept = (await update("id", before, { bytes: 16, rotation: 2, keepPrevious: true } as never)).outs!;
    expect(accept).toMatchObject({ rotation: 2, keepPrevious: true, previous: "old" });
    expect(accept.value).toMatch(/^[0-9a-f]{32}$/);
    // a plain pulumi up in the phase: no change (diff), and an update for another reason keeps both
    expect(await generatedSecretProvider.diff!("id", accept, { bytes: 16, rotation: 2, keepPrevious: true } as never)).toEqual({ changes: false, replaces: [] });
    expect((await update("id", accept, { bytes: 16, rotation: 2, keepPrevious: true } as never)).outs).toEqual(accept);
    // done: the previous value is gone, the new one stays
    const done = (await update("id", accept, { bytes: 16, rotation: 2 } as never)).outs!;
    expect(done).toEqual({ bytes: 16, rotation: 2, value: accept.value });
    // a phase set by hand without raising the counter brings back no old value
    expect((await update("id", done, { bytes: 16, rotation: 2, keepPrevious: true } as never)).outs).toEqual({ bytes: 16, rotation: 2, keepPrevious: true, value: accept.value });
    // a raise without a phase (pg-admin, or a one-step rotation): a new value, no previous
    const oneStep = (await update("id", done, { bytes: 16, rotation: 3 } as never)).outs!;
    expect(oneStep.value).not.toBe(accept.value);
    expect(oneStep.previous).toBeUndefined();
});
