// API tokens (authorizations:create): made from 32 random bytes, shown once, stored only as their
// SHA-256 (a leaked accounts.json gives no token away; a token has too much entropy to need a slow hash).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Tokens start with this, so a secret scanner (and a reader) can tell one. */
export const TOKEN_PREFIX = "dfo_";

export function newToken(): string {
    return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

export function tokenHash(token: string): string {
    return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Constant-time comparison of two hex hashes. */
export function sameHash(a: string, b: string): boolean {
    const x = Buffer.from(a, "hex");
    const y = Buffer.from(b, "hex");
    return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
