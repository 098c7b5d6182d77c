// Tombstones: which dyno hosts may still run a destroyed app. `apps:destroy` reaches only the
// agents that answer; a host that was down keeps the app in its state file and starts its dynos
// again when it comes back (they re-register with the routers under the app's name). So destroying
// an app leaves tombstones/<app>.json (state_paths.ts) = {app, destroyedAt, hosts}: the agents that
// have not confirmed the app is gone there. The placement loop DELETEs the app on each of them once
// it answers, and a same-named new app clears such a host before the routers hear of it and before
// anything is PUT there (destroyed_apps.ts), so the old incarnation's dynos are stopped, never
// adopted. A host leaves the list when its DELETE succeeds (404 included) or when it is no longer a
// configured agent; the last one removes the file.
//
// apps:destroy, rollouts and the placement loop write under the app's lock; domains changes and
// one-offs only strike hosts off, without it, so `clear` reads the file again just before it writes.
import * as fs from "node:fs";
import { readJson, writeJsonAtomic } from "./atomic_file";
import { appNameProblem } from "./app_store";
import { appOfJsonFile, StatePaths } from "./state_paths";

export interface Tombstone {
    app: string;
    /** When the newest destroy of this name happened. */
    destroyedAt: string;
    /** Agent base URLs that may still run a destroyed incarnation of the app. */
    hosts: string[];
}

export class Tombstones {
    constructor(
        private readonly paths: StatePaths,
        private readonly clock: () => Date = () => new Date(),
    ) {}

    private file(app: string): string {
        if (appNameProblem(app)) throw new Error(`not an app name: ${app}`);
        return this.paths.tombstone(app);
    }

    async get(app: string): Promise<Tombstone | undefined> {
        if (appNameProblem(app)) return undefined;
        return readJson<Tombstone>(this.file(app));
    }

    /** Hosts that may still run a destroyed incarnation of `app` (none without a tombstone). */
    async pending(app: string): Promise<Set<string>> {
        return new Set((await this.get(app))?.hosts ?? []);
    }

    /** Apps with a tombstone, sorted. */
    async list(): Promise<string[]> {
        const names = await fs.promises.readdir(this.paths.tombstones).catch(() => [] as string[]);
        return names
            .map(appOfJsonFile)
            .filter((n): n is string => n !== undefined && !appNameProblem(n))
            .sort();
    }

    /** Every tombstone, each read once: the placement loop's view for one pass. */
    async all(): Promise<Map<string, Tombstone>> {
        const out = new Map<string, Tombstone>();
        for (const app of await this.list()) {
            const t = await this.get(app);
            if (t) out.set(app, t);
        }
        return out;
    }

    /**
     * `hosts` may still run `app`: added to those an earlier destroy of the same name left (a host
     * down through two destroys still holds the first incarnation).
     */
    async record(app: string, hosts: string[]): Promise<void> {
        const old = await this.get(app);
        const all = [...new Set([...(old?.hosts ?? []), ...hosts])].sort();
        await fs.promises.mkdir(this.paths.tombstones, { recursive: true, mode: 0o700 });
        await writeJsonAtomic(this.file(app), { app, destroyedAt: this.clock().toISOString(), hosts: all } satisfies Tombstone);
    }

    /**
     * `hosts` no longer run `app` (or can never be asked again): off the list; the file goes with the
     * last one. Read again here, not taken from the caller: a caller's DELETEs take seconds and not
     * every caller holds the app's lock (domains, one-offs), so the file may have changed meanwhile.
     */
    async clear(app: string, hosts: string[]): Promise<void> {
        const old = await this.get(app);
        if (!old) return;
        const left = old.hosts.filter((h) => !hosts.includes(h));
        if (left.length === old.hosts.length) return;
        if (left.length === 0) await fs.promises.rm(this.file(app), { force: true });
        else await writeJsonAtomic(this.file(app), { ...old, hosts: left });
    }
}
