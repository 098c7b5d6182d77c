// Per-app build users: every app's builds run as their own unprivileged system user
// (`build-<app>`), made by root with useradd on the app's first push. One uid per app keeps one
// app's build from reading another's build environment (/proc/<pid>/environ), writing into its
// cache, or outliving its build (every process of the uid is killed when a build step ends).
import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";

export interface BuildUser {
    name: string;
    uid: number;
    gid: number;
}

export const DEFAULT_BUILD_USER_PREFIX = "build-";
/** useradd's comment: a user of that name without it is someone else's, and never used. */
export const BUILD_USER_COMMENT = "dynoform build user";
const MAX_USER_NAME = 32;

/** `<prefix><app>`, shortened with a hash of the app name to fit Linux's 32 characters. */
export function buildUserName(app: string, prefix = DEFAULT_BUILD_USER_PREFIX): string {
    const name = prefix + app;
    if (name.length <= MAX_USER_NAME) return name;
    const h = crypto.createHash("sha256").update(app).digest("hex").slice(0, 6);
    return `${name.slice(0, MAX_USER_NAME - 7)}-${h}`;
}

/**
 * Build users' uids and gids: a block of their own, far from system users, dyno users and the
 * uids of other machines' services. A build ends by killing every process of its uid, so that uid
 * must name nothing else — not even a process of a container or lab machine that shares this
 * kernel's uid space (their /etc/passwd is not ours to consult). The block also lets a firewall
 * tell builds apart by uid.
 */
export const BUILD_UID_RANGE: readonly [number, number] = [2_000_000, 2_099_999];

/**
 * The block in use: BUILD_UID_RANGE, or `DYNOFORM_BUILD_UID_RANGE` ("MIN-MAX") where a host's uids
 * there are taken (a directory service), or where builds on this kernel must not meet another
 * machine's (the unit tests run theirs beside the lab's control host: jest.config.js).
 */
export function buildUidRange(env: NodeJS.ProcessEnv = process.env): readonly [number, number] {
    const m = /^(\d+)-(\d+)$/.exec(env.DYNOFORM_BUILD_UID_RANGE ?? "");
    if (!m) return BUILD_UID_RANGE;
    const [min, max] = [Number(m[1]), Number(m[2])];
    if (min < 1000 || max <= min) throw new Error(`DYNOFORM_BUILD_UID_RANGE=${env.DYNOFORM_BUILD_UID_RANGE}: give MIN-MAX with 1000 <= MIN < MAX`);
    return [min, max];
}

export function buildUseraddArgs(name: string, [min, max]: readonly [number, number] = buildUidRange()): string[] {
    const range = [`SYS_UID_MIN=${min}`, `SYS_UID_MAX=${max}`, `SYS_GID_MIN=${min}`, `SYS_GID_MAX=${max}`].flatMap((k) => ["-K", k]);
    return ["--system", "--user-group", ...range, "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", BUILD_USER_COMMENT, name];
}

interface PasswdEntry extends BuildUser {
    comment: string;
}

function lookup(name: string, passwd: string): PasswdEntry | undefined {
    let text: string;
    try {
        text = fs.readFileSync(passwd, "utf8");
    } catch {
        return undefined;
    }
    for (const line of text.split("\n")) {
        const f = line.split(":");
        if (f[0] === name && f.length >= 5) return { name, uid: Number(f[2]), gid: Number(f[3]), comment: f[4] };
    }
    return undefined;
}

export class BuildUsers {
    private readonly pending = new Map<string, Promise<BuildUser>>();

    constructor(
        readonly prefix = DEFAULT_BUILD_USER_PREFIX,
        private readonly passwd = "/etc/passwd",
    ) {}

    /** The app's build user, created when missing. Throws when the name belongs to someone else. */
    forApp(app: string): Promise<BuildUser> {
        const name = buildUserName(app, this.prefix);
        const existing = lookup(name, this.passwd);
        if (existing) return Promise.resolve(existing).then(checked);
        let p = this.pending.get(name);
        if (!p) {
            p = new Promise<BuildUser>((resolve, reject) => {
                execFile("useradd", buildUseraddArgs(name), (err, _out, stderr) => {
                    const made = lookup(name, this.passwd);
                    if (made) resolve(checked(made));
                    else reject(new Error(`could not create the build user ${name} (useradd: ${(stderr || err?.message || "").trim()})`));
                });
            }).finally(() => this.pending.delete(name));
            this.pending.set(name, p);
        }
        return p;
    }

    /** The app's build user if it exists and is ours (a same-named user of someone else is never touched). */
    existing(app: string): BuildUser | undefined {
        const u = lookup(buildUserName(app, this.prefix), this.passwd);
        if (!u) return undefined;
        try {
            return checked(u);
        } catch {
            return undefined;
        }
    }

    /** userdel (its group goes with it). Callers kill the user's processes first: userdel refuses a user that runs any. */
    remove(user: BuildUser): Promise<void> {
        return new Promise((resolve, reject) => {
            execFile("userdel", [user.name], (err, _out, stderr) => {
                if (!lookup(user.name, this.passwd)) resolve();
                else reject(new Error(`could not remove the build user ${user.name} (userdel: ${(stderr || err?.message || "").trim()})`));
            });
        });
    }
}

function checked(u: PasswdEntry): BuildUser {
    if (u.comment !== BUILD_USER_COMMENT || u.uid === 0 || u.gid === 0) {
        throw new Error(`the user ${u.name} exists but is not a dynoform build user (comment "${u.comment}", uid ${u.uid}): remove it or pick another buildUserPrefix`);
    }
    return { name: u.name, uid: u.uid, gid: u.gid };
}
