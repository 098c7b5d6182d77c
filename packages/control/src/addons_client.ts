// Each app's add-ons, made on the data host: its own Memcached and its PostgreSQL database, by the
// data host's `dynoform-addons` forced command, reached over SSH with the add-ons key (its
// authorized_keys line there runs that command and nothing else). Passwords are made here and sent
// on stdin, never in an argv.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { BackupRef, Databases, parseBackupList, PgBackup, pitrTimeWord } from "./databases";
import { ADDON_KINDS, AddonKind, FleetError } from "./fleet";

export interface AddonsSshConfig {
    /** The data host's private address. */
    host: string;
    port?: number;
    /** root: the key's authorized_keys line there forces dynoform-addons and nothing else. */
    user?: string;
    /** The add-ons private key (root-only file). */
    keyFile: string;
    /** The data host's pinned host key; any other key is refused. */
    knownHostsFile: string;
}

/** The ssh arguments for one dynoform-addons call: key file, pinned host key, no prompts, no user config. */
export function addonsSshArgs(a: AddonsSshConfig, words: string[]): string[] {
    return [
        "-F", "/dev/null",
        "-i", a.keyFile,
        "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes",
        "-o", `UserKnownHostsFile=${a.knownHostsFile}`,
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "ConnectTimeout=10",
        "-p", String(a.port ?? 22),
        "-l", a.user ?? "root",
        a.host,
        ...words,
    ];
}

/** The config vars a dynoform-addons call printed (KEY=value lines); other lines are ignored. */
export function parseAddonVars(stdout: string, keys: string[]): Record<string, string> {
    const vars: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
        const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
        if (m && keys.includes(m[1])) vars[m[1]] = m[2];
    }
    return vars;
}

/** Runs `file args` with `stdin`; resolves stdout, rejects with `what: <stderr>` on failure. */
function runChild(what: string, file: string, args: string[], stdin: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", (e) => reject(new FleetError(`${what}: ${e.message}`)));
        child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new FleetError(`${what}: ${stderr.trim() || `${file} exited with ${code}`}`))));
        child.stdin.on("error", () => undefined); // a child that exits early: its exit code tells
        child.stdin.end(stdin);
    });
}

const MEMCACHE = "Memcached add-on";
const POSTGRESQL = "PostgreSQL add-on";
const BACKUPS = "PostgreSQL backups";

export class AddonsClient implements Databases {
    /** `cfg` undefined: no data host configured; apps get no add-ons. `ssh`: the ssh client (default: ssh on PATH). */
    constructor(
        private readonly cfg: AddonsSshConfig | undefined,
        private readonly ssh = "ssh",
    ) {}

    /** A dynoform-addons verb on the data host; secrets go on stdin. */
    private call(what: string, words: string[], stdin = ""): Promise<string> {
        const a = this.cfg;
        if (!a) return Promise.reject(new FleetError("no add-ons host configured"));
        return runChild(`${what} (data host ${a.host})`, this.ssh, addonsSshArgs(a, words), stdin);
    }

    /** The app's own Memcached and PostgreSQL database (or only `kinds`): their config vars. A failure undoes what was made. */
    async provision(app: string, kinds: readonly AddonKind[] = ADDON_KINDS): Promise<Record<string, string>> {
        if (!this.cfg) return {};
        const vars: Record<string, string> = {};
        const undo: (() => Promise<unknown>)[] = [];
        try {
            if (kinds.includes("memcache")) {
                const memcachePassword = randomBytes(24).toString("hex");
                const memcache = parseAddonVars(await this.call(MEMCACHE, ["memcache-create", app], `${memcachePassword}\n`), ["MEMCACHE_SERVERS", "MEMCACHE_USERNAME"]);
                undo.push(() => this.call(MEMCACHE, ["memcache-destroy", app]));
                if (!memcache.MEMCACHE_SERVERS || !memcache.MEMCACHE_USERNAME) throw new FleetError(`${MEMCACHE}: no MEMCACHE_SERVERS/MEMCACHE_USERNAME from the data host`);
                Object.assign(vars, memcache, { MEMCACHE_PASSWORD: memcachePassword });
            }
            if (kinds.includes("postgresql")) {
                const pg = parseAddonVars(await this.call(POSTGRESQL, ["pg-create", app], `${randomBytes(18).toString("hex")}\n`), ["DATABASE_URL"]);
                undo.push(() => this.call(POSTGRESQL, ["pg-destroy", app]));
                if (!pg.DATABASE_URL) throw new FleetError(`${POSTGRESQL}: no DATABASE_URL from the data host`);
                vars.DATABASE_URL = pg.DATABASE_URL;
            }
            return vars;
        } catch (err) {
            for (const u of undo.reverse()) await u().catch(() => undefined);
            throw err;
        }
    }

    async deprovision(app: string): Promise<void> {
        if (!this.cfg) return;
        await this.call(MEMCACHE, ["memcache-destroy", app]);
        await this.call(POSTGRESQL, ["pg-destroy", app]);
    }

    async capture(app: string): Promise<string> {
        const id = (await this.call(BACKUPS, ["pg-backup-capture", app])).trim();
        if (!/^b\d{3,6}$/.test(id)) throw new FleetError(`${BACKUPS}: no backup id from the data host (got "${id.slice(0, 40)}")`);
        return id;
    }

    async backups(app: string): Promise<PgBackup[]> {
        return parseBackupList(await this.call(BACKUPS, ["pg-backups", app]));
    }

    async restore(app: string, from: BackupRef): Promise<void> {
        await this.call(BACKUPS, ["pg-backup-restore", app, from.app, from.id]);
    }

    async restoreToTime(app: string, at: Date): Promise<void> {
        await this.call(BACKUPS, ["pg-backup-pitr", app, pitrTimeWord(at)]);
    }

    async schedule(app: string, at?: string): Promise<string> {
        return (await this.call(BACKUPS, ["pg-backup-schedule", app, ...(at ? [at] : [])])).trim();
    }

    async rotatePassword(app: string, password = randomBytes(18).toString("hex")): Promise<string> {
        const vars = parseAddonVars(await this.call(POSTGRESQL, ["pg-password", app], `${password}\n`), ["DATABASE_URL"]);
        if (!vars.DATABASE_URL) throw new FleetError(`${POSTGRESQL}: no DATABASE_URL from the data host`);
        return vars.DATABASE_URL;
    }
}
