// Signed-in browsers. The cookie holds only a random session id; the session (who, its CSRF token,
// the message for the next page) lives here, in the dashboard's memory. The API token a user signed
// in with stays here too, never in a cookie, so each request asks the account store again: a
// revoked or expired token ends its sessions at once.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Principal } from "../accounts/principal";

/** A line or a few for the next page: the verb's own words after a change, or why it was refused. */
export interface Flash {
    kind: "ok" | "error";
    lines: string[];
}

export interface Session {
    readonly id: string;
    /** Every form carries it back (hidden `_csrf` field); a POST without it changes nothing. */
    readonly csrf: string;
    readonly token: string;
    principal: Principal;
    readonly createdAt: number;
    lastSeen: number;
    flash?: Flash;
    /** Live log views open now (each holds a stream to the log router). */
    streams: number;
}

/** Idle sessions end after two hours, any session after twelve. */
export const IDLE_MS = 2 * 3600_000;
export const MAX_AGE_MS = 12 * 3600_000;

function randomId(): string {
    return randomBytes(32).toString("base64url");
}

export class Sessions {
    private readonly byId = new Map<string, Session>();

    constructor(private readonly now: () => Date) {}

    create(principal: Principal, token: string): Session {
        this.sweep();
        const at = this.now().getTime();
        const session: Session = { id: randomId(), csrf: randomId(), token, principal, createdAt: at, lastSeen: at, streams: 0 };
        this.byId.set(session.id, session);
        return session;
    }

    /** The live session of this id, touched; undefined when unknown or expired (then forgotten). */
    get(id: string | undefined): Session | undefined {
        if (!id) return undefined;
        const s = this.byId.get(id);
        if (!s) return undefined;
        const at = this.now().getTime();
        if (at - s.lastSeen > IDLE_MS || at - s.createdAt > MAX_AGE_MS) {
            this.byId.delete(id);
            return undefined;
        }
        s.lastSeen = at;
        return s;
    }

    end(id: string): void {
        this.byId.delete(id);
    }

    /** Takes the flash: it shows once. */
    takeFlash(s: Session): Flash | undefined {
        const f = s.flash;
        s.flash = undefined;
        return f;
    }

    private sweep(): void {
        const at = this.now().getTime();
        for (const [id, s] of this.byId) if (at - s.lastSeen > IDLE_MS || at - s.createdAt > MAX_AGE_MS) this.byId.delete(id);
    }
}

/** Constant-time: a wrong guess tells nothing about how close it was. */
export function csrfMatches(session: Session, presented: string | null): boolean {
    if (!presented) return false;
    const a = Buffer.from(session.csrf);
    const b = Buffer.from(presented);
    return a.length === b.length && timingSafeEqual(a, b);
}
