// Per-app Unix users, created on demand (useradd --system), or one fixed existing user.
import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import type { DynoUser } from "./supervisor";

export function lookupUser(name: string, passwd = "/etc/passwd"): DynoUser | undefined {
  let text: string;
  try {
    text = fs.readFileSync(passwd, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f.length >= 4) return { name, uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/** User name for an app: prefix + app, shortened with a hash to fit useradd's 32 characters. */
export function appUserName(app: string, prefix = "dyno-"): string {
  const name = prefix + app;
  if (name.length <= 32) return name;
  const h = crypto.createHash("sha256").update(app).digest("hex").slice(0, 6);
  return `${name.slice(0, 25)}-${h}`;
}

/**
 * Dyno users' uids and gids: a block of their own (build users have 2000000+), so the dyno hosts'
 * firewall (templates/firewall/tenant.nft, `meta skuid`) tells dynos' traffic from the agent's and
 * the system's by uid alone. Users made by an older agent keep their uid outside the block, and
 * with it no network policy: remove them (`userdel dyno-<app>`, the agent makes them again).
 */
export const DYNO_UID_RANGE = [3_000_000, 3_099_999] as const;

export function useraddArgs(name: string): string[] {
  const [min, max] = DYNO_UID_RANGE;
  const range = [`SYS_UID_MIN=${min}`, `SYS_UID_MAX=${max}`, `SYS_GID_MIN=${min}`, `SYS_GID_MAX=${max}`].flatMap((k) => ["-K", k]);
  return ["--system", "--user-group", ...range, "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", "dynoform app user", name];
}

export class UserManager {
  private readonly pending = new Map<string, Promise<DynoUser>>();

  constructor(
    private readonly opts: { appUsers: boolean; dynoUser?: string; prefix: string },
    private readonly passwd = "/etc/passwd",
  ) {}

  /** The user an app's dynos run as; undefined = the agent's own user. */
  async forApp(app: string): Promise<DynoUser | undefined> {
    if (this.opts.dynoUser) {
      const u = lookupUser(this.opts.dynoUser, this.passwd);
      if (!u) throw new Error(`dyno user ${this.opts.dynoUser} does not exist`);
      return u;
    }
    if (!this.opts.appUsers) return undefined;
    const name = appUserName(app, this.opts.prefix);
    const existing = lookupUser(name, this.passwd);
    if (existing) return existing;
    let p = this.pending.get(name);
    if (!p) {
      p = new Promise<DynoUser>((resolve, reject) => {
        execFile("useradd", useraddArgs(name), (err, _o, stderr) => {
          const u = lookupUser(name, this.passwd);
          if (u) resolve(u);
          else reject(new Error(`useradd ${name} failed: ${stderr || err?.message}`));
        });
      }).finally(() => this.pending.delete(name));
      this.pending.set(name, p);
    }
    return p;
  }
}
