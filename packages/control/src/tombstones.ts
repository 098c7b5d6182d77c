// Tombstones: which dyno hosts may still run a destroyed app. `apps:destroy` reaches only the
// agents that answer; a host that was down keeps the app in its state file and starts its dynos
// again when it comes back (they re-register with the routers under the app's name). So destroying
// an app leaves `<state>/tombstones/<app>.json` = {app, destroyedAt, hosts}: the agents that have
// not confirmed the app is gone there. The placement loop DELETEs the app on each of them once it
// answers, and a rollout of a same-named new app clears such a host before it PUTs anything there,
// so the old incarnation's dynos are stopped, never adopted. A host leaves the list when its DELETE
// succeeds (404 included) or when it is no longer a configured agent; the last one removes the file.
//
// Writers hold the app's lock (apps:destroy, rollouts, the placement loop), so a tombstone is never
// read-modified-written by two of them at once.
import * as fs from "node:fs";
import * as path from "node:path";
import { readJson, writeJsonAtomic } from "./atomic_file";
import { appNameProblem } from "./app_store";

export interface Tombstone {
    app: string;
    /** When the newest destroy of this name happened. */
    destroyedAt: string;
    /** Agent base URLs that may still run a destroyed incarnation of the app. */
    hosts: string[];
}

export class Tombstones {
    constructor(
        readonly dir: string,
        private readonly clock: () => Date = () => new Date(),
    ) {}

    private file(app: string): string {
        if (appNameProblem(app)) throw new Error(`not an app name: ${app}`);
        return path.join(this.dir, `${app}.json`);
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
        const names = await fs.promises.readdir(this.dir).catch(() => [] as string[]);
        return names
            .filter((n) => n.endsWith(".json"))
            .map((n) => n.slice(0, -".json".length))
            .filter((n) => !appNameProblem(n))
            .sort();
    }

    /**
     * `hosts` may still run `app`: added to those an earlier destroy of the same name left (a host
     * down through two destroys still holds the first incarnation).
     */
    async record(app: string, hosts: string[]): Promise<void> {
        const old = await this.get(app);
        const all = [...new Set([...(old?.hosts ?? []), ...hosts])].sort();
        await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 });
        await writeJsonAtomic(this.file(app), { app, destroyedAt: this.clock().toISOString(), hosts: all } satisfies Tombstone);
    }

    /** `hosts` no longer run `app` (or can never be asked again): off the list; the file goes with the last one. */
    async clear(app: string, hosts: string[]): Promise<void> {
        const old = await this.get(app);
        if (!old) return;
        const left = old.hosts.filter((h) => !hosts.includes(h));
        if (left.length === old.hosts.length) return;
        if (left.length === 0) await fs.promises.rm(this.file(app), { force: true });
        else await writeJsonAtomic(this.file(app), { ...old, hosts: left });
    }
}
