// Who is asking, and what they may do: the words the SSH forced command, the REST API and the
// dashboard share (issue 15). accounts/ implements them; api/ and the verbs only ask.

/** A signed-in caller: the user behind the SSH key that connected or the API token presented. */
export interface Principal {
    /** The user's name (accounts are named like Heroku's: an email or a plain name). */
    user: string;
    /** Administrators may do anything to any app and see the platform (hosts, services). */
    admin: boolean;
    /** How the caller proved who they are: shown in the audit log. */
    via: "ssh" | "token" | "password";
}

/**
 * What an action needs on one app, weakest first:
 * - `read`: see the app (info, config, releases, dynos, logs);
 * - `operate`: a collaborator's work (deploy, config:set, scale, restart, run, rollback, domains);
 * - `own`: the owner's or an administrator's (destroy, access:add/remove, transfer).
 */
export type Permission = "read" | "operate" | "own";

/** One recorded change: who, when, what (`dynoform audit -a APP`, `GET /apps/{app}/audit`). */
export interface AuditEntry {
    at: string;
    user: string;
    via: Principal["via"];
    app?: string;
    /** A short verb-like name: deploy, config:set, scale, run, access:add, destroy, pg:backups:capture, ... */
    action: string;
    /** What changed, in words (no secret values: config keys only). */
    detail: string;
}

/** The account store as the API and the verbs use it. */
export interface Accounts {
    /** The principal of an API token; undefined when unknown, revoked or expired. */
    principalForToken(token: string): Promise<Principal | undefined>;
    /** The principal of a user name (the forced command's argument for a key); undefined if unknown. */
    principalForUser(user: string): Promise<Principal | undefined>;
    /** True when `principal` may do what `permission` covers on `app`. */
    can(principal: Principal, app: string, permission: Permission): Promise<boolean>;
    /** `app` was just created by `owner`: theirs (an owner who is no user leaves it to administrators). */
    setOwner(app: string, owner: string): Promise<void>;
    /** `app` is destroyed: nobody keeps access to a later app of that name. */
    forgetApp(app: string): Promise<void>;
    /** The apps `principal` may read (every app for an administrator). */
    visibleApps(principal: Principal, apps: string[]): Promise<string[]>;
    /** Records `entry` (and shows it in the app's log stream as an `app[api]` line where there is one). */
    audit(entry: Omit<AuditEntry, "at">): Promise<void>;
}
