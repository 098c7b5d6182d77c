// The drained dyno hosts (hosts:drain), kept in hosts/drained.json (state_paths.ts) as
// {drained: {agent URL: since}}: placement gives them no dyno (placement.ts `placeable`), drains move
// their dynos elsewhere, and the placement loop moves any found there again. Undrain removes the mark;
// dynos come back by the next rollouts and scales (placement is sticky: none is moved back at once).
import * as fs from "node:fs";
import * as path from "node:path";
import { readJson, writeJsonAtomic } from "./atomic_file";
import { StatePaths } from "./state_paths";

interface DrainedFile {
    drained: Record<string, string>;
}

export class DrainedHosts {
    constructor(
        private readonly paths: StatePaths,
        private readonly clock: () => Date = () => new Date(),
    ) {}

    private async read(): Promise<Record<string, string>> {
        return (await readJson<DrainedFile>(this.paths.drainedHosts))?.drained ?? {};
    }

    /** The drained hosts' agent URLs. */
    async all(): Promise<Set<string>> {
        return new Set(Object.keys(await this.read()));
    }

    /** When `url` was drained (undefined: it is not). */
    async since(url: string): Promise<string | undefined> {
        return (await this.read())[url];
    }

    /** Marks the host drained; a host already drained keeps its time. Callers hold the hosts lock. */
    async drain(url: string): Promise<void> {
        const cur = await this.read();
        if (cur[url]) return;
        await this.write({ ...cur, [url]: this.clock().toISOString() });
    }

    /** Callers hold the hosts lock. */
    async undrain(url: string): Promise<void> {
        const cur = await this.read();
        if (!cur[url]) return;
        delete cur[url];
        await this.write(cur);
    }

    private async write(drained: Record<string, string>): Promise<void> {
        await fs.promises.mkdir(path.dirname(this.paths.drainedHosts), { recursive: true, mode: 0o700 });
        await writeJsonAtomic(this.paths.drainedHosts, { drained } satisfies DrainedFile);
    }
}
