// An in-memory Fleet: dynos appear on two fake hosts as rollouts and scales ask; failures can be
// scripted. Records every call for assertions.
import type { EdgeCaches } from "../../src/cache_purge";
import { Formation, Release } from "../../src/app_store";
import { AppRouteState } from "../../src/app_route";
import { BuildLog } from "../../src/build_log";
import { BackupRef, Databases, PgBackup } from "../../src/databases";
import { AddonKind, DynoStatus, HostStatus, LogsOptions, OneOffIo, Fleet, FleetError } from "../../src/fleet";
import { UserError } from "../../src/errors";

/** The data host's backups in memory: dumps per app, calls recorded; failures can be scripted. */
export class FakeDatabases implements Databases {
    dumps = new Map<string, PgBackup[]>();
    scheduleAt = "02:00";
    passwords = 0;
    /** Set to make the next call fail with this reason. */
    fail?: string;
    constructor(
        private readonly calls: string[],
        private readonly now: () => Date,
    ) {}
    private check() {
        const reason = this.fail;
        this.fail = undefined;
        if (reason) throw new FleetError(reason);
    }
    async capture(app: string) {
        this.calls.push(`pg capture ${app}`);
        this.check();
        const list = this.dumps.get(app) ?? [];
        const id = `b${String(list.length + 1).padStart(3, "0")}`;
        list.push({ id, createdAt: this.now(), finishedAt: new Date(this.now().getTime() + 2000), size: 2048 * (list.length + 1) });
        this.dumps.set(app, list);
        return id;
    }
    async backups(app: string) {
        this.check();
        return this.dumps.get(app) ?? [];
    }
    async restore(app: string, from: BackupRef) {
        this.calls.push(`pg restore ${app} ${from.app}::${from.id}`);
        this.check();
        if (!(this.dumps.get(from.app) ?? []).some((b) => b.id === from.id)) throw new FleetError(`PostgreSQL backups (data host 10.99.0.4): dynoform-backup-store: no backup ${from.id} of ${from.app}`);
    }
    async restoreToTime(app: string, at: Date) {
        this.calls.push(`pg pitr ${app} ${at.toISOString()}`);
        this.check();
    }
    async schedule(app: string, at?: string) {
        this.calls.push(`pg schedule ${app} ${at ?? "-"}`);
        this.check();
        if (at) this.scheduleAt = at;
        return `${this.scheduleAt} UTC`;
    }
    async rotatePassword(app: string, password?: string) {
        this.calls.push(`pg rotate ${app}${password ? ` back to ${password}` : ""}`);
        this.check();
        return `postgres://${app}:${password ?? `rotated${++this.passwords}`}@10.99.0.4:5432/${app}`;
    }
}

export class FakeFleet implements Fleet {
    calls: string[] = [];
    dynoStates = new Map<string, DynoStatus[]>();
    routes = new Map<string, string[]>();
    /** The fake dyno hosts (their dynos: every app's dynos with that host). */
    hostList: HostStatus[] = [
        { host: "dyno1", state: "up", dynos: 0 },
        { host: "dyno2", state: "up", dynos: 0 },
    ];
    /** app → "off", "on", or "on <page URL>" as the routers were last told. */
    maintenance = new Map<string, string>();
    /** Set to make the next rollout fail with this reason. */
    failRollout?: string;
    failScale?: string;
    /** Exit code and output of the next one-off (run or release phase). */
    oneOff = { exitCode: 0, stdout: "", stderr: "" };
    logLines = ["2026-11-21T19:53:46+00:00 app[web.1]: listening on 5000"];
    private runCounter = 4820;
    databases: FakeDatabases;
    /** The edges' caches (cache_purge.ts); none unless a test gives some. */
    edgeCaches?: EdgeCaches;
    constructor(readonly now: () => Date = () => new Date("2026-11-21T18:00:00Z")) {
        this.databases = new FakeDatabases(this.calls, now);
    }

    private place(release: Release, formation: Formation): DynoStatus[] {
        const out: DynoStatus[] = [];
        let i = 0;
        for (const [type, f] of Object.entries(formation)) {
            for (let n = 1; n <= f.quantity; n++) {
                out.push({ name: `${type}.${n}`, type, state: "up", command: release.processTypes[type], release: release.version, since: this.now(), size: f.size, host: `dyno${(i++ % 2) + 1}` });
            }
        }
        return out;
    }

    async rollout(app: string, release: Release, formation: Formation, log: BuildLog) {
        this.calls.push(`rollout ${app} v${release.version} ${JSON.stringify(formation)}`);
        if (this.failRollout) {
            const reason = this.failRollout;
            this.failRollout = undefined;
            throw new FleetError(reason, ["Error: listen EADDRINUSE", "    at Server.listen"]);
        }
        log.info("web.1 up on dyno1");
        this.dynoStates.set(app, this.place(release, formation));
    }
    async scale(app: string, release: Release, formation: Formation) {
        this.calls.push(`scale ${app} v${release.version} ${JSON.stringify(formation)}`);
        if (this.failScale) throw new FleetError(this.failScale);
        this.dynoStates.set(app, this.place(release, formation));
    }
    async restart(app: string, target?: string) {
        this.calls.push(`restart ${app} ${target ?? "all"}`);
    }
    async dynos(app: string) {
        return this.dynoStates.get(app) ?? [];
    }
    async runOneOff(app: string, release: Release, command: string, io: OneOffIo, type: "run" | "release" = "run") {
        const dyno = `${type}.${++this.runCounter}`;
        this.calls.push(`${type} ${app} v${release.version} ${command}`);
        io.onStart?.(dyno);
        if (this.oneOff.stdout) io.stdout(this.oneOff.stdout);
        if (this.oneOff.stderr) io.stderr(this.oneOff.stderr);
        return { dyno, exitCode: this.oneOff.exitCode };
    }
    async logs(app: string, opts: LogsOptions, out: (l: string) => void) {
        this.calls.push(`logs ${app} ${JSON.stringify(opts)}`);
        this.logLines.forEach(out);
    }
    async provisionAddons(app: string, kinds?: AddonKind[]) {
        this.calls.push(kinds ? `provision ${app} ${kinds.join(",")}` : `provision ${app}`);
        const memcache = { MEMCACHE_SERVERS: "10.99.0.4:11300", MEMCACHE_USERNAME: app, MEMCACHE_PASSWORD: "mcsecret" };
        const postgresql = { DATABASE_URL: `postgres://${app}:secret@10.99.0.4:5432/${app}` };
        return { ...(!kinds || kinds.includes("postgresql") ? postgresql : {}), ...(!kinds || kinds.includes("memcache") ? memcache : {}) };
    }
    async deprovisionAddons(app: string) {
        this.calls.push(`deprovision ${app}`);
    }
    async stopAll(app: string) {
        this.calls.push(`stopAll ${app}`);
        this.dynoStates.delete(app);
    }
    async routesChanged(app: string, route: AppRouteState) {
        this.routes.set(app, route.domains.map((d) => d.hostname));
        this.maintenance.set(app, route.maintenancePageUrl ? `on ${route.maintenancePageUrl}` : route.maintenance ? "on" : "off");
    }
    private fakeHost(host: string): HostStatus {
        const h = this.hostList.find((x) => x.host === host);
        if (!h) throw new UserError(`${host} is not a dyno host of this platform: run "dynoform hosts" to list them (${this.hostList.map((x) => x.host).join(", ")})`);
        return h;
    }
    async hosts() {
        const all = [...this.dynoStates.values()].flat();
        return this.hostList.map((h) => ({ ...h, dynos: all.filter((d) => d.host === h.host).length }));
    }
    async drainHost(host: string, log: (line: string) => void) {
        const h = this.fakeHost(host);
        this.calls.push(`drain ${host}`);
        h.drainedSince ??= this.now().toISOString();
        const to = this.hostList.find((x) => !x.drainedSince && x.state === "up");
        let moved = 0;
        for (const [app, dynos] of this.dynoStates) {
            const here = dynos.filter((d) => d.host === host);
            if (!here.length || !to) continue;
            log(`${app}: moving ${here.map((d) => `${d.name} (${host} → ${to.host})`).join(", ")}`);
            here.forEach((d) => (d.host = to.host));
            moved += here.length;
        }
        return { moved, failed: [] };
    }
    async undrainHost(host: string) {
        this.calls.push(`undrain ${host}`);
        delete this.fakeHost(host).drainedSince;
    }
}
