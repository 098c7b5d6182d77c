// Every path under the control role's state root (DYNOFORM_STATE_DIR, /var/lib/dynoform): the one
// place the layout is written down and composed. Modules ask here; none joins a name to the root.
//
//   apps/<app>/app.json                   AppMetadata (app_store.ts)
//   apps/<app>/config.json                current config vars {KEY: value}
//   apps/<app>/formation.json             {type: {quantity, size}}
//   apps/<app>/domains.json               [{hostname, kind, createdAt}]
//   apps/<app>/maintenance.json           {enabled, updatedAt}: maintenance mode (absent: off)
//   apps/<app>/releases/v<N>.json         a release (immutable: created once with link(2), never rewritten)
//   apps/<app>/releases/v<N>.status.json  {status, reason?, updatedAt}: the only mutable part of a release
//   apps/.creating-<app>-<hex>/           an app being assembled; renamed to apps/<app> (AppStore.createApp)
//   trash/<app>-<ms>-<hex>/               a destroyed app's directory on its way out (emptied by AppStore.init)
//   locks/<app>.lock                      the app's lock (app_lock.ts)
//   locks/_domains.lock                   the lock domains:add takes ("_" starts no app name)
//   locks/_hosts.lock                     the lock hosts:drain and hosts:undrain take
//   slugs/<app>/<sha256>.tgz              slugs (slug.ts writes them, slug_server.ts serves them)
//   repos/<app>.git/                      the app's bare repo; hooks/pre-receive runs this binary (git_receive.ts)
//   placement/<app>.json                  {placement: {dyno: agent URL}}: where the app's dynos run (placement_store.ts)
//   hosts/drained.json                    {drained: {agent URL: since}}: dyno hosts no dyno is placed on (drained_hosts.ts)
//   tombstones/<app>.json                 {app, destroyedAt, hosts}: agents that may still run a destroyed app (tombstones.ts)
//   cache/<app>/                          the app's build cache, its build user's, 0700 (builder.ts);
//                                         cache/.discarded-<app>-<hex> while one is thrown away
//   builds/build-XXXXXX/{app,home,tmp}    one build's sandbox (build_sandbox.ts), removed when it ends
//   builds/.<build user>.lock             one build per build user at a time (builder.ts)
//   accounts/accounts.json                {users, apps}: users (keys, token hashes) and each app's owner and
//                                         collaborators (accounts/account_store.ts)
//   locks/_accounts.lock                  the lock every change to accounts.json takes
//   audit/<app>.jsonl                     the app's audit entries, one JSON line each, append-only
//   audit/_platform.jsonl                 every audit entry, the platform's and the apps' (`dynoform audit`)
//   runtimes/                             Node/npm tarballs, unpacked runtimes and cached slug layers,
//                                         shared by all apps (buildpacks/node.ts)
//   .control-backup.XXXXXX/               runbooks/control-backup.mjs's snapshot: hard links of the
//                                         state it archives, removed when it ends (never read here)
//
// The root is 0711 and so are builds/ and cache/ (build users pass through them to their own 0700
// directories); everything else is 0700, files 0600. Inside cache/, builds/ and runtimes/ the module
// named owns the names: they are handed those directories (tests hand them others).
//
// App names reach these methods checked (appNameProblem): the store, tombstones and the placement
// store refuse any other before they ask, so a bad name never touches the filesystem.
import * as path from "node:path";

/** The files of one app's directory (apps/<app>, or the one being assembled for it). */
export class AppPaths {
    readonly metadata: string;
    readonly config: string;
    readonly formation: string;
    readonly domains: string;
    readonly maintenance: string;
    /** The app's buildpacks (buildpacks:set/add): a JSON list of names, URLs or paths; absent: detection. */
    readonly buildpacks: string;
    readonly releases: string;

    constructor(readonly dir: string) {
        this.metadata = path.join(dir, "app.json");
        this.config = path.join(dir, "config.json");
        this.formation = path.join(dir, "formation.json");
        this.domains = path.join(dir, "domains.json");
        this.maintenance = path.join(dir, "maintenance.json");
        this.buildpacks = path.join(dir, "buildpacks.json");
        this.releases = path.join(dir, "releases");
    }

    release(version: number): string {
        return path.join(this.releases, `v${version}.json`);
    }
    releaseStatus(version: number): string {
        return path.join(this.releases, `v${version}.status.json`);
    }
}

/** The version a name in releases/ is the release of (v3.json → 3); status files and temp files are none. */
export function releaseVersionOf(fileName: string): number | undefined {
    const m = /^v(\d+)\.json$/.exec(fileName);
    return m ? Number(m[1]) : undefined;
}

/** A slug's file name in its app's slug directory. */
export function slugFileName(sha256: string): string {
    return `${sha256}.tgz`;
}

/** The app a per-app JSON file is named after (shop.json → shop); other names give undefined. */
export function appOfJsonFile(fileName: string): string | undefined {
    return fileName.endsWith(".json") ? fileName.slice(0, -".json".length) : undefined;
}

const STAGING_PREFIX = ".creating-";

export class StatePaths {
    readonly apps: string;
    /** Destroyed apps' directories on their way out. */
    readonly trash: string;
    readonly locks: string;
    readonly slugs: string;
    readonly repos: string;
    readonly placements: string;
    readonly tombstones: string;
    /** The drained dyno hosts (drained_hosts.ts). */
    readonly drainedHosts: string;
    /** Where builds get their sandboxes and locks (build_sandbox.ts, builder.ts). */
    readonly builds: string;
    /** Downloaded and unpacked runtimes (buildpacks/node.ts). */
    readonly runtimes: string;
    /** Users and access (accounts/account_store.ts). */
    readonly accounts: string;
    readonly accountsLock: string;
    /** The audit log's directory (accounts/audit_log.ts). */
    readonly audit: string;
    /** Every audit entry, the platform's and the apps'. */
    readonly platformAudit: string;
    private readonly caches: string;

    constructor(readonly root: string) {
        const at = (name: string) => path.join(root, name);
        this.apps = at("apps");
        this.trash = at("trash");
        this.locks = at("locks");
        this.slugs = at("slugs");
        this.repos = at("repos");
        this.placements = at("placement");
        this.tombstones = at("tombstones");
        this.drainedHosts = path.join(root, "hosts", "drained.json");
        this.builds = at("builds");
        this.runtimes = at("runtimes");
        this.caches = at("cache");
        this.accounts = path.join(root, "accounts", "accounts.json");
        this.accountsLock = this.lock("_accounts");
        this.audit = at("audit");
        this.platformAudit = path.join(this.audit, "_platform.jsonl");
    }

    /** The directories AppStore.init makes. */
    get skeleton(): string[] {
        return [this.apps, this.locks, this.slugs, this.trash];
    }

    app(app: string): AppPaths {
        return new AppPaths(path.join(this.apps, app));
    }
    /** Where `app` is assembled before it is renamed into place; `nonce` tells concurrent creators apart. */
    appStaging(app: string, nonce: string): AppPaths {
        return new AppPaths(path.join(this.apps, `${STAGING_PREFIX}${app}-${nonce}`));
    }
    /** Whether a name in apps/ is an app being assembled (one a crashed creator left, when found by init). */
    isAppStaging(fileName: string): boolean {
        return fileName.startsWith(STAGING_PREFIX);
    }
    trashEntry(app: string, nonce: string): string {
        return path.join(this.trash, `${app}-${Date.now()}-${nonce}`);
    }
    /** locks/<name>.lock: an app's name, or `_domains`. */
    lock(name: string): string {
        return path.join(this.locks, `${name}.lock`);
    }
    slugDir(app: string): string {
        return path.join(this.slugs, app);
    }
    slugFile(app: string, sha256: string): string {
        return path.join(this.slugDir(app), slugFileName(sha256));
    }
    repo(app: string): string {
        return path.join(this.repos, `${app}.git`);
    }
    placement(app: string): string {
        return path.join(this.placements, `${app}.json`);
    }
    tombstone(app: string): string {
        return path.join(this.tombstones, `${app}.json`);
    }
    /** The app's audit entries ("_" starts no app name, so no app's file is the platform's). */
    appAudit(app: string): string {
        return path.join(this.audit, `${app}.jsonl`);
    }
    /** The app's build cache (builder.ts owns what is inside). */
    buildCache(app: string): string {
        return path.join(this.caches, app);
    }
    /** The app's fetched buildpacks (git URLs), its build user's like the build cache (buildpacks/buildpack_source.ts). */
    buildpackCache(app: string): string {
        return path.join(this.caches, `${app}.buildpacks`);
    }
}
