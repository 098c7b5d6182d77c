// Destroyed apps still on dyno hosts (tombstones.ts): where an app's tombstone names a host, the
// app is DELETEd there before anything of a same-named app is sent there or announced to the
// routers for it, and until then the host is left out of what the app shows (ps, logs, restart).
import { AgentClient } from "./agent_client";
import { FleetError } from "./fleet";
import { Tombstones } from "./tombstones";

export class DestroyedApps {
    constructor(
        readonly tombstones: Tombstones,
        private readonly agents: AgentClient,
    ) {}

    /** apps:destroy: every configured agent may run the app until it says otherwise. */
    record(app: string): Promise<void> {
        return this.tombstones.record(app, this.agents.urls);
    }

    /**
     * DELETE the app on those of `hosts` its tombstone names (read now, not earlier: another writer
     * may have struck a host off, which may run the new app by now) and strike off the ones that
     * did, and `strikeOff` (hosts that can never be asked again). Returns the failures, one message per host.
     */
    async clear(app: string, hosts: string[], strikeOff: string[] = []): Promise<string[]> {
        const tombstone = await this.tombstones.get(app);
        if (!tombstone) return [];
        const due = hosts.filter((h) => tombstone.hosts.includes(h));
        const done: string[] = [];
        const failed: string[] = [];
        await Promise.all(
            due.map(async (h) => {
                try {
                    await this.agents.remove(h, app);
                    done.push(h);
                } catch (err) {
                    failed.push((err as Error).message);
                }
            }),
        );
        if (done.length || strikeOff.length) await this.tombstones.clear(app, [...strikeOff, ...done]);
        return failed;
    }

    /** `clear`, where a failure is an error: nothing of the app may reach, or be announced for, a host that still runs a destroyed one. */
    async clearOrThrow(app: string, hosts: string[]): Promise<void> {
        const stale = await this.clear(app, hosts);
        if (stale.length) throw new FleetError(`a destroyed app named ${app} could not be removed first: ${stale.join("; ")}`);
    }

    /** `alive` without the hosts that may still run a destroyed app of this name (their dynos are not this app's). */
    async serving(app: string, alive: string[]): Promise<string[]> {
        const pending = await this.tombstones.pending(app);
        return alive.filter((h) => !pending.has(h));
    }
}
