// The LabHost dynamic provider's implementation. Not serialized into the state: the state holds
// only the small loader in ./provider.ts, which requires this file from the checkout at run time,
// so fixes here reach existing resources (delete included) without a provider-version input.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import * as fs from "fs";
import * as path from "path";
import { LabHostInputs, LabHostOutputs, hostDir, labNetwork, validateHost } from "./config";
import { bridgeUp, createMachine, labDir, machineAlive, stopMachine } from "./machine";

/** The engine's placeholder for a value not known yet (preview). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const REPLACE_KEYS = ["network", "name", "address", "image", "memoryMax"] as const;

/** Inputs as they arrive from the engine (defaults applied here, not in the program). */
export function normalizeInputs(raw: Record<string, unknown>): LabHostInputs {
    const n = (raw.network ?? {}) as Record<string, string | undefined>;
    const inputs: LabHostInputs = {
        network: labNetwork({ name: String(n.name ?? ""), subnet: String(n.subnet ?? ""), bridge: n.bridge, gateway: n.gateway }),
        name: String(raw.name ?? ""),
        address: String(raw.address ?? ""),
        image: (raw.image ?? "base") as LabHostInputs["image"],
    };
    if (raw.memoryMax !== undefined && raw.memoryMax !== null && raw.memoryMax !== "") inputs.memoryMax = String(raw.memoryMax);
    validateHost(inputs);
    return inputs;
}

/** Keys whose change replaces the machine (all of them: a machine is rebuilt, never edited). */
export function replacedKeys(oldInputs: object, newInputs: object): string[] {
    const olds = oldInputs as Record<string, unknown>;
    const news = newInputs as Record<string, unknown>;
    const norm = (v: unknown) => JSON.stringify(v ?? null, (_k, x) => (x && typeof x === "object" && !Array.isArray(x) ? sortKeys(x) : x));
    return REPLACE_KEYS.filter((k) => {
        if (k === "network") {
            const pick = (v: unknown) => {
                const o = (v ?? {}) as Record<string, unknown>;
                return { name: o.name, bridge: o.bridge, subnet: o.subnet, gateway: o.gateway };
            };
            return norm(pick(olds.network)) !== norm(pick(news.network));
        }
        return norm(olds[k]) !== norm(news[k]);
    });
}

function sortKeys(o: object): Record<string, unknown> {
    return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/** The machine's dir: where it was created, or (a moved checkout) the same place in this one. */
function dirOf(props: Partial<LabHostOutputs>): string | undefined {
    const here = props.network?.name && props.name ? hostDir(path.dirname(labDir()), props.network.name, props.name) : undefined;
    if (props.dir && (fs.existsSync(props.dir) || !here || !fs.existsSync(here))) return props.dir;
    return here;
}

/** The machine of a created LabHost is no longer running, or its network's bridge is gone. */
export function vanished(props: Partial<LabHostOutputs>): boolean {
    const dir = dirOf(props);
    if (!dir) return false;
    return !machineAlive(dir) || (props.network?.bridge !== undefined && !bridgeUp(props.network.bridge));
}

export const labHostProvider = {
    async check(_olds: unknown, news: object): Promise<dynamic.CheckResult> {
        if (JSON.stringify(news).includes(UNKNOWN)) return { inputs: news };
        try {
            return { inputs: { ...news, ...normalizeInputs(news as Record<string, unknown>) } };
        } catch (err) {
            return { failures: [{ property: "", reason: (err as Error).message }] };
        }
    },

    /**
     * A machine that is gone, or cut off because its bridge is gone, is replaced on a plain
     * `pulumi up` too: nothing then tries SSH to an address no lab bridge routes to.
     */
    async diff(_id: string, olds: object, news: object): Promise<dynamic.DiffResult> {
        const replaces = replacedKeys(olds, news);
        if (replaces.length === 0 && vanished(olds as Partial<LabHostOutputs>)) replaces.push("machineName");
        return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
    },

    async create(raw: object): Promise<dynamic.CreateResult> {
        const outs = await createMachine(normalizeInputs(raw as Record<string, unknown>));
        return { id: outs.machineName, outs };
    },

    /** A machine that vanished (see vanished()) is reported missing, so `up --refresh` recreates it. */
    async read(id: string, props: object): Promise<dynamic.ReadResult> {
        if (!dirOf(props as Partial<LabHostOutputs>) || vanished(props as Partial<LabHostOutputs>)) return { id: "", props: {} };
        return { id, props };
    },

    async delete(_id: string, props: object): Promise<void> {
        const dir = dirOf(props as Partial<LabHostOutputs>);
        if (dir) await stopMachine(dir);
    },
} satisfies dynamic.ResourceProvider;
