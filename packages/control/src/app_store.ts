// Durable app state on the control host: apps, releases, config vars, formation, domains, under
// the state root as state_paths.ts lays it out.
//
// Every file is written atomically (atomic_file.ts). Readers never lock: they see whole files.
// Writers that read-modify-write must hold the app lock: `store.withAppLock(app, purpose, fn)`.
import * as fs from "node:fs";
import * as path from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { appNameProblem, type SlugLayerRange } from "@dynoform/contract";
import { createFileAtomic, fsyncDir, readJson, removeStaleTemps, writeJsonAtomic } from "./atomic_file";
import { LockOptions, LockTimeoutError, withLock } from "./app_lock";
import { UserError } from "./errors";
import { AppPaths, releaseVersionOf, StatePaths } from "./state_paths";

/** The app itself, as apps:create made it (apps/<app>/app.json). */
export interface AppMetadata {
    name: string;
    id: string;
    createdAt: string;
    stack: string;
}

/**
 * A release's slug: slugs/<app>/<sha256>.tgz under the state root. Where agents fetch it and its token
 * are made from (app, sha256) at each rollout (slug_access.ts), never stored.
 */
export interface ReleaseSlug {
    /** Only in releases made before slug URLs were made at rollout (and config/rollback releases copied from them); nothing reads it. */
    url?: string;
    sha256: string;
    size: number;
    /** Cached members in the slug (slug.ts): agents that unpacked one before link it instead. */
    layers?: SlugLayerRange[];
}

export type ReleaseStatus = "pending" | "succeeded" | "failed";

/** The immutable part of a release, as stored in v<N>.json. */
export interface ReleaseRecord {
    version: number;
    slug: ReleaseSlug;
    /** Config vars snapshot: what every dyno of this release gets in its env. */
    config: Record<string, string>;
    /** Procfile process types, including `release` if declared. */
    processTypes: Record<string, string>;
    commit: string | null;
    /** "Deploy 1a2b3c4", "Set FOO config vars", "Rollback to v3", "Initial release". */
    description: string;
    createdAt: string;
    buildpack?: string;
    user?: string;
}

export interface ReleaseStatusRecord {
    status: ReleaseStatus;
    reason?: string;
    updatedAt: string;
}

export type Release = ReleaseRecord & ReleaseStatusRecord;

export type ReleaseDraft = Omit<ReleaseRecord, "version" | "createdAt">;

export interface FormationEntry {
    quantity: number;
    size: string;
}
export type Formation = Record<string, FormationEntry>;

export interface Domain {
    hostname: string;
    /** "default" = <app>.<platform domain>, made at apps:create; "custom" = domains:add. */
    kind: "default" | "custom";
    createdAt: string;
}

/** Maintenance mode as maintenance:on/off left it (apps/<app>/maintenance.json). */
export interface MaintenanceRecord {
    enabled: boolean;
    updatedAt: string;
}

export const DEFAULT_STACK = "dynoform-24";
export const DEFAULT_SIZE = "standard-1x";

/** Heroku's app name rule, every service's (the contract's); returns an error message or undefined. */
export { appNameProblem };

export function unknownAppError(name: string): UserError {
    return new UserError(`Couldn't find that app: ${name}. Run "dynoform apps" to list apps, or "dynoform apps:create ${name}" to create it.`);
}

export class AppStore {
    readonly paths: StatePaths;

    constructor(root: string, readonly clock: () => Date = () => new Date()) {
        this.paths = new StatePaths(root);
    }

    private app(app: string): AppPaths {
        if (appNameProblem(app)) throw unknownAppError(app); // never let a bad name touch the filesystem
        return this.paths.app(app);
    }
    /** Where the app's slugs are written (slugs/<app>). */
    slugDir(app: string): string {
        this.app(app);
        return this.paths.slugDir(app);
    }
    private now(): string {
        return this.clock().toISOString();
    }

    /** Create the directory skeleton; clean up temp files of writers that crashed. Idempotent. */
    async init(): Promise<void> {
        for (const d of this.paths.skeleton) await fs.promises.mkdir(d, { recursive: true, mode: 0o700 });
        for (const app of await this.listApps()) {
            for (const d of [this.app(app).dir, this.app(app).releases]) await removeStaleTemps(d);
        }
        for (const name of await fs.promises.readdir(this.paths.apps)) {
            if (this.paths.isAppStaging(name)) await fs.promises.rm(path.join(this.paths.apps, name), { recursive: true, force: true });
        }
        for (const name of await fs.promises.readdir(this.paths.trash)) {
            await fs.promises.rm(path.join(this.paths.trash, name), { recursive: true, force: true });
        }
    }

    /** Serialize writers of one app across processes. Throws a UserError if it waits in vain. */
    async withAppLock<T>(app: string, purpose: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
        if (appNameProblem(app)) throw unknownAppError(app);
        return this.withNamedLock(app, app, purpose, fn, opts);
    }

    /**
     * Serialize every change that decides which app owns a hostname (domains:add): domains are
     * unique across apps, so the check and the write must not interleave between two apps. Taken
     * inside an app lock, never around one.
     */
    async withDomainsLock<T>(purpose: string, fn: () => Promise<T>): Promise<T> {
        // "_" cannot start an app name, so this never is an app's lock.
        return this.withNamedLock("_domains", "domains", purpose, fn);
    }

    /** Serialize changes of the dyno hosts' drained marks (hosts:drain, hosts:undrain). Never inside an app lock. */
    async withHostsLock<T>(purpose: string, fn: () => Promise<T>): Promise<T> {
        return this.withNamedLock("_hosts", "hosts", purpose, fn);
    }

    /** locks/<name>.lock across processes; waiting in vain is a UserError that starts with `label`. */
    private async withNamedLock<T>(name: string, label: string, purpose: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
        const lockPath = this.paths.lock(name);
        await fs.promises.mkdir(path.dirname(lockPath), { recursive: true, mode: 0o700 });
        try {
            return await withLock(lockPath, fn, { purpose, ...opts });
        } catch (err) {
            if (err instanceof LockTimeoutError) throw new UserError(`${label}: ${err.message}.`);
            throw err;
        }
    }

    // ---- apps ----

    async listApps(): Promise<string[]> {
        let names: string[];
        try {
            names = await fs.promises.readdir(this.paths.apps);
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
            throw err;
        }
        return names.filter((n) => !appNameProblem(n)).sort();
    }

    async getApp(app: string): Promise<AppMetadata | undefined> {
        if (appNameProblem(app)) return undefined;
        return readJson<AppMetadata>(this.app(app).metadata);
    }

    async requireApp(app: string): Promise<AppMetadata> {
        const rec = await this.getApp(app);
        if (!rec) throw unknownAppError(app);
        return rec;
    }

    /**
     * Create an app, all or nothing: the app directory is assembled under a temporary name and
     * renamed into place. It has no release until its first deploy, which is v1.
     */
    async createApp(app: string, opts: { config?: Record<string, string>; domains?: string[] } = {}): Promise<AppMetadata> {
        const problem = appNameProblem(app);
        if (problem) throw new UserError(problem);
        await this.init();
        const staging = this.paths.appStaging(app, randomBytes(4).toString("hex"));
        const createdAt = this.now();
        const record: AppMetadata = { name: app, id: randomUUID(), createdAt, stack: DEFAULT_STACK };
        await fs.promises.mkdir(staging.releases, { recursive: true, mode: 0o700 });
        try {
            const config = { ...(opts.config ?? {}) };
            await writeJsonAtomic(staging.metadata, record);
            await writeJsonAtomic(staging.config, config);
            await writeJsonAtomic(staging.formation, {});
            await writeJsonAtomic(
                staging.domains,
                (opts.domains ?? []).map((hostname, i): Domain => ({ hostname, kind: i === 0 ? "default" : "custom", createdAt })),
            );
            try {
                await fs.promises.rename(staging.dir, this.paths.app(app).dir);
            } catch (err) {
                const code = (err as NodeJS.ErrnoException).code;
                if (code === "ENOTEMPTY" || code === "EEXIST") throw new UserError(`Name ${app} is already taken: choose another name, or use "dynoform apps:info -a ${app}"`);
                throw err;
            }
            await fsyncDir(this.paths.apps);
        } finally {
            await fs.promises.rm(staging.dir, { recursive: true, force: true });
        }
        return record;
    }

    /** Remove an app and everything the store holds for it (releases, slugs, its git repo). */
    async destroyApp(app: string): Promise<void> {
        await this.requireApp(app);
        await fs.promises.mkdir(this.paths.trash, { recursive: true, mode: 0o700 });
        const aside = this.paths.trashEntry(app, randomBytes(3).toString("hex"));
        await fs.promises.rename(this.app(app).dir, aside); // the atomic step: from here the app is gone
        await fsyncDir(this.paths.apps);
        await fs.promises.rm(aside, { recursive: true, force: true });
        await fs.promises.rm(this.paths.slugDir(app), { recursive: true, force: true });
        await fs.promises.rm(this.paths.repo(app), { recursive: true, force: true });
    }

    // ---- config vars ----

    async getConfig(app: string): Promise<Record<string, string>> {
        await this.requireApp(app);
        return (await readJson<Record<string, string>>(this.app(app).config)) ?? {};
    }

    /** Replace the app's config vars (callers hold the app lock and make a release). */
    async setConfig(app: string, vars: Record<string, string>): Promise<void> {
        await this.requireApp(app);
        await writeJsonAtomic(this.app(app).config, vars);
    }

    // ---- buildpacks ----

    /** The app's buildpacks, in the order they run; [] when the build detects one. */
    async getBuildpacks(app: string): Promise<string[]> {
        await this.requireApp(app);
        return (await readJson<string[]>(this.app(app).buildpacks)) ?? [];
    }

    /** Replace the app's buildpacks (callers hold the app lock; the next push uses them). */
    async setBuildpacks(app: string, buildpacks: string[]): Promise<void> {
        await this.requireApp(app);
        await writeJsonAtomic(this.app(app).buildpacks, buildpacks);
    }

    // ---- formation ----

    async getFormation(app: string): Promise<Formation> {
        await this.requireApp(app);
        return (await readJson<Formation>(this.app(app).formation)) ?? {};
    }

    async setFormation(app: string, formation: Formation): Promise<void> {
        await this.requireApp(app);
        await writeJsonAtomic(this.app(app).formation, formation);
    }

    // ---- domains ----

    async getDomains(app: string): Promise<Domain[]> {
        await this.requireApp(app);
        return (await readJson<Domain[]>(this.app(app).domains)) ?? [];
    }

    async setDomains(app: string, domains: Domain[]): Promise<void> {
        await this.requireApp(app);
        await writeJsonAtomic(this.app(app).domains, domains);
    }

    /** Which app serves this hostname, if any (domains are unique across apps). */
    async findDomainOwner(hostname: string): Promise<string | undefined> {
        const wanted = hostname.toLowerCase();
        for (const app of await this.listApps()) {
            const domains = await this.getDomains(app).catch(() => []);
            if (domains.some((d) => d.hostname === wanted)) return app;
        }
        return undefined;
    }

    // ---- maintenance mode ----

    async getMaintenance(app: string): Promise<boolean> {
        await this.requireApp(app);
        return (await readJson<MaintenanceRecord>(this.app(app).maintenance))?.enabled === true;
    }

    async setMaintenance(app: string, enabled: boolean): Promise<void> {
        await this.requireApp(app);
        await writeJsonAtomic(this.app(app).maintenance, { enabled, updatedAt: this.now() } satisfies MaintenanceRecord);
    }

    // ---- releases ----

    private async releaseVersions(app: string): Promise<number[]> {
        await this.requireApp(app);
        const names = await fs.promises.readdir(this.app(app).releases);
        return names
            .map(releaseVersionOf)
            .filter((v): v is number => v !== undefined)
            .sort((a, b) => a - b);
    }

    async getRelease(app: string, version: number): Promise<Release | undefined> {
        await this.requireApp(app);
        const files = this.app(app);
        // Apps made by dynoform before the first deploy became v1 can hold releases of config
        // changes made before any code (slug null): nothing can run them, so they are none here.
        const rec = await readJson<Omit<ReleaseRecord, "slug"> & { slug: ReleaseSlug | null }>(files.release(version));
        if (!rec?.slug) return undefined;
        const status = (await readJson<ReleaseStatusRecord>(files.releaseStatus(version))) ?? {
            status: "pending" as const,
            updatedAt: rec.createdAt,
        };
        return { ...rec, slug: rec.slug, ...status };
    }

    /** All releases, newest first. */
    async listReleases(app: string, limit?: number): Promise<Release[]> {
        const versions = (await this.releaseVersions(app)).reverse();
        const picked = limit === undefined ? versions : versions.slice(0, limit);
        const out: Release[] = [];
        for (const v of picked) {
            const r = await this.getRelease(app, v);
            if (r) out.push(r);
        }
        return out;
    }

    /** The release serving now: the newest one that succeeded. */
    async currentRelease(app: string): Promise<Release | undefined> {
        for (const v of (await this.releaseVersions(app)).reverse()) {
            const r = await this.getRelease(app, v);
            if (r?.status === "succeeded") return r;
        }
        return undefined;
    }

    /**
     * Record a new release, numbered one above the newest. Its status starts "pending" (or as
     * given). Immutable: the file is created with link(2), so an existing version is never
     * overwritten even by a writer that forgot the app lock.
     */
    async createRelease(app: string, draft: ReleaseDraft, status: ReleaseStatus = "pending"): Promise<Release> {
        for (let attempt = 0; attempt < 100; attempt++) {
            const versions = await this.releaseVersions(app);
            const version = (versions[versions.length - 1] ?? 0) + 1;
            const rec: ReleaseRecord = { ...draft, version, createdAt: this.now() };
            try {
                await createFileAtomic(this.app(app).release(version), JSON.stringify(rec, null, 2) + "\n");
            } catch (err) {
                if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
                throw err;
            }
            await this.setReleaseStatus(app, version, status);
            return (await this.getRelease(app, version))!;
        }
        throw new Error(`could not allocate a release number for ${app}`);
    }

    async setReleaseStatus(app: string, version: number, status: ReleaseStatus, reason?: string): Promise<void> {
        if (!(await readJson<ReleaseRecord>(this.app(app).release(version)))) throw new UserError(`Release v${version} not found for ${app}. Run "dynoform releases -a ${app}" to list releases.`);
        const rec: ReleaseStatusRecord = { status, updatedAt: this.now(), ...(reason ? { reason } : {}) };
        await writeJsonAtomic(this.app(app).releaseStatus(version), rec);
    }
}
