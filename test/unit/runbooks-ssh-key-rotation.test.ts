// rotate-secrets --what ssh-key at the plan level: the runbook's phases (runbooks/lib/rotation_plan.mjs)
// carried out on a model of the stack whose hosts apply the keys the component gives each phase
// (rootKeyUse, components/hosts/stack_root_key.ts), cut short after every single step of every
// `pulumi up`. Whatever is cut, no host is ever left without a key the stack holds, a plain
// `pulumi up` afterwards connects everywhere, and running the runbook again finishes the rotation.
import { rootKeyUse } from "../../components/hosts/stack_root_key";
import type { RotationPhase } from "../../components/config/rotation";
import { callEsm } from "../support/esm";

interface Step {
    phase?: RotationPhase;
    config: { set?: Record<string, string>; rm?: string } | null;
}
interface Plan {
    to: number;
    steps: Step[];
}

const plans = new Map<string, Plan>();
/** rotationPlan for ssh-key (memoized: each call is a node process). */
function plan(configured: object, applied: object, configuredPhase: object, appliedPhase: object): Plan {
    const key = JSON.stringify([configured, applied, configuredPhase, appliedPhase]);
    if (!plans.has(key)) {
        const got = callEsm<Plan>("runbooks/lib/rotation_plan.mjs", "rotationPlan", { what: "ssh-key" }, configured, applied, configuredPhase, appliedPhase);
        if (got.error) throw new Error(got.error);
        plans.set(key, got.value!);
    }
    return plans.get(key)!;
}

class Cut extends Error {}
class Refused extends Error {}

/** The stack: its config, what its last whole `pulumi up` applied, the root key's state and every host's authorized keys. */
class Stack {
    config: { counter: number; phase?: RotationPhase } = { counter: 0 };
    applied: { counter: number; phase?: RotationPhase } = { counter: 0 };
    key: { gen: number; previous?: number } = { gen: 0 };
    hosts = new Map<string, Set<string>>();
    bootstrapped = new Set<string>();
    /** Steps of `pulumi up` left before the cut (Infinity: none). */
    budget = Infinity;

    constructor(names: string[]) {
        for (const n of names) this.addHost(n);
    }
    addHost(name: string): void {
        this.hosts.set(name, new Set([`source:${name}`])); // a machine made by its host source
    }
    private tick(): void {
        if (this.budget-- <= 0) throw new Cut();
    }
    /** The keys the state still holds for `host`: a host authorizing none of them is locked out. */
    held(host: string): string[] {
        return [`gen${this.key.gen}`, ...(this.key.previous ? [`gen${this.key.previous}`] : []), `source:${host}`];
    }
    use(host: string) {
        const old = this.key.previous ? `gen${this.key.previous}` : `source:${host}`;
        return this.key.gen === 0 ? { connect: `source:${host}`, authorize: [], remove: [] } : rootKeyUse(this.config.phase, { current: `gen${this.key.gen}`, old, source: `source:${host}` });
    }
    private connect(host: string, key: string): void {
        if (!this.hosts.get(host)!.has(key)) throw new Refused(`${host} refuses ${key}`);
    }
    /** One `pulumi up` of the config: the root key first, then each host's resources. */
    up(): void {
        const layer = this.config.counter > 0 || this.config.phase !== undefined;
        if (layer && this.config.counter !== this.key.gen) {
            this.tick();
            this.key = { gen: this.config.counter, previous: this.key.gen || undefined };
        }
        for (const [host, keys] of this.hosts) {
            if (!layer) {
                this.tick();
                this.connect(host, `source:${host}`);
                continue;
            }
            const use = this.use(host);
            if (!this.bootstrapped.has(host)) {
                this.tick();
                this.connect(host, `source:${host}`);
                for (const k of use.authorize) keys.add(k);
                this.bootstrapped.add(host);
            }
            this.tick();
            this.connect(host, use.connect);
            for (const k of use.authorize) keys.add(k);
            for (const k of use.remove) keys.delete(k);
            this.tick(); // every other resource on the host
            this.connect(host, use.connect);
        }
        this.applied = { ...this.config };
    }
    /** rotate-secrets.mjs --what ssh-key: its plan, each step's config change, `pulumi up` and check. */
    runbook(): void {
        const p = plan({ sshKey: this.config.counter }, { sshKey: this.applied.counter }, this.config.phase ? { sshKey: this.config.phase } : {}, this.applied.phase ? { sshKey: this.applied.phase } : {});
        for (const step of p.steps) {
            if (step.config?.set) {
                this.tick();
                const set = step.config.set;
                if (set["dynoform:rotation.sshKey"]) this.config.counter = Number(set["dynoform:rotation.sshKey"]);
                if (set["dynoform:rotationPhase.sshKey"]) this.config.phase = set["dynoform:rotationPhase.sshKey"] as RotationPhase;
            }
            if (step.config?.rm) {
                this.tick();
                this.config.phase = undefined;
            }
            this.up();
            expect(this.applied).toEqual({ counter: p.to, phase: step.phase });
        }
    }
    /** Runs `fn`, stopping quietly where the budget ends or a host refuses the connection. */
    attempt(fn: () => void, budget = Infinity): "done" | "cut" | "refused" {
        this.budget = budget;
        try {
            fn();
            return "done";
        } catch (err) {
            if (err instanceof Cut) return "cut";
            if (err instanceof Refused) return "refused";
            throw err;
        } finally {
            this.budget = Infinity;
        }
    }
    expectNoLockout(): void {
        for (const [host, keys] of this.hosts) expect([host, this.held(host).some((k) => keys.has(k))]).toEqual([host, true]);
    }
}

const HOSTS = ["edge-1", "dyno-1", "dyno-2", "data-1"];

/** A stack whose hosts are brought up, then `prepare` run on it whole. */
function stack(prepare: (s: Stack) => void = () => {}): Stack {
    const s = new Stack(HOSTS);
    s.up();
    prepare(s);
    return s;
}

/** How many steps a whole run of the runbook takes on a stack `prepare` made. */
function stepsOfARun(prepare: (s: Stack) => void): number {
    const s = stack(prepare);
    let n = 0;
    s.budget = Infinity;
    const tick = (s as unknown as { tick: () => void }).tick.bind(s);
    (s as unknown as { tick: () => void }).tick = () => {
        n++;
        tick();
    };
    s.runbook();
    return n;
}

describe.each([
    ["the first rotation (from the host source's keys)", (_: Stack) => {}, 1],
    ["a second rotation, with a host added after the first", (s: Stack) => {
        s.runbook();
        s.addHost("dyno-3");
        s.up();
    }, 2],
])("%s", (_name, prepare, to) => {
    test("runs whole: every host authorizes the new key alone among the stack's, and is reached with it", () => {
        const s = stack(prepare);
        expect(s.attempt(() => s.runbook())).toBe("done");
        for (const [host, keys] of s.hosts) expect([host, [...keys].sort()]).toEqual([host, [`gen${to}`]]);
        for (const host of s.hosts.keys()) expect(s.use(host).connect).toBe(`gen${to}`);
    });

    test("cut short after any step: no host is locked out, a plain pulumi up reaches every host, and the runbook run again finishes", () => {
        const total = stepsOfARun(prepare);
        expect(total).toBeGreaterThan(10);
        for (let cut = 0; cut < total; cut++) {
            const s = stack(prepare);
            expect([cut, s.attempt(() => s.runbook(), cut)]).toEqual([cut, "cut"]);
            s.expectNoLockout();
            // Someone runs a plain `pulumi up`, itself cut short at every point, then the runbook again.
            for (let upCut = 0; upCut <= s.hosts.size * 3 + 1; upCut++) {
                const again = stack(prepare);
                again.attempt(() => again.runbook(), cut);
                expect([cut, upCut, again.attempt(() => again.up(), upCut)]).not.toContainEqual("refused");
                again.expectNoLockout();
                // (A plain pulumi up that applied the last phase whole finished the rotation: run again, the runbook would start another.)
                const finished = again.config.phase === undefined && again.applied.phase === undefined && again.applied.counter === to;
                if (!finished) expect([cut, upCut, again.attempt(() => again.runbook())]).toEqual([cut, upCut, "done"]);
                for (const [host, keys] of again.hosts) expect([cut, upCut, host, [...keys].sort()]).toEqual([cut, upCut, host, [`gen${to}`]]);
            }
        }
    });
});

test("a counter raised by hand without a phase: the hosts refuse the new key (never a lockout), and the runbook finishes through the phases", () => {
    const s = stack((st) => st.runbook());
    s.config.counter = 2;
    expect(s.attempt(() => s.up())).toBe("refused");
    s.expectNoLockout();
    expect(s.attempt(() => s.runbook())).toBe("done");
    for (const keys of s.hosts.values()) expect([...keys]).toEqual(["gen2"]);
});

test("the first rotation raised by hand is safe too: each host gets the stack's key with its host source's before it is reached with it", () => {
    const s = stack();
    s.config.counter = 1;
    expect(s.attempt(() => s.up())).toBe("done");
    for (const keys of s.hosts.values()) expect([...keys]).toEqual(["gen1"]);
});

test("what each phase gives a host: authorize the new key, connect with the old; then with the new; then drop the old and the host source's", () => {
    const keys = { current: "new", old: "old", source: "source" };
    expect(rootKeyUse("accept", keys)).toEqual({ connect: "old", authorize: ["new", "old"], remove: [] });
    expect(rootKeyUse("switch", keys)).toEqual({ connect: "new", authorize: ["new", "old"], remove: [] });
    expect(rootKeyUse(undefined, keys)).toEqual({ connect: "new", authorize: ["new"], remove: ["old", "source"] });
    // The first rotation: the old key is the host source's.
    expect(rootKeyUse(undefined, { current: "new", old: "source", source: "source" })).toEqual({ connect: "new", authorize: ["new"], remove: ["source"] });
});
