// dynoform:rotation (components/config/rotation.ts) and what it does to a GeneratedSecret: a raised
// counter replaces the secret; a stack made before rotation existed sees no change at all.
import { parseStackConfig, RawStackConfig } from "../../components/config/stack_config";
import { parseRotation } from "../../components/config/rotation";
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
    expect(parseRotation({ routerToken: "2", pgAdmin: 1 }, problems)).toEqual({ routerToken: 2, agentToken: 0, logToken: 0, pgAdmin: 1 });
    expect(problems).toEqual([]);
});

test("bad counters say what the counters are", () => {
    const problems: string[] = [];
    parseRotation({ sshKey: 1, routerToken: "-1" }, problems);
    expect(problems).toEqual([
        "dynoform:rotation.sshKey is not a secret the stack rotates: the counters are routerToken, agentToken, logToken, pgAdmin",
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

test("a GeneratedSecret is replaced when its counter changes, and only then", async () => {
    const diff = generatedSecretProvider.diff!;
    expect(await diff("id", { bytes: 32 }, { bytes: 32 })).toEqual({ changes: false, replaces: [] });
    // stacks made before rotation: no rotation input on either side, or 0
    expect(await diff("id", { bytes: 32 }, { bytes: 32, rotation: 0 } as never)).toEqual({ changes: false, replaces: [] });
    expect(await diff("id", { bytes: 32 }, { bytes: 32, rotation: 1 } as never)).toEqual({ changes: true, replaces: ["rotation"] });
    expect(await diff("id", { bytes: 32, rotation: 1 } as never, { bytes: 32, rotation: 2 } as never)).toEqual({ changes: true, replaces: ["rotation"] });
    const a = await generatedSecretProvider.create({ bytes: 16, rotation: 2 });
    expect(a.outs).toMatchObject({ bytes: 16, rotation: 2 });
    expect(a.outs.value).toMatch(/^[0-9a-f]{32}$/);
});
