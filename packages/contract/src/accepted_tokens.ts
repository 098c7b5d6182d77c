// The tokens a service accepts from one kind of caller. A token file holds one token a line: the
// current one and, while a rotation switches the callers over (runbooks/rotate-secrets.mjs), the
// previous one, so a caller holding either is served and none is refused mid-rotation. Only digests
// are kept; every one is compared in constant time, whichever matches.
import { createHash, timingSafeEqual } from "node:crypto";

/** The tokens of a token file's text (or a setting's value): one a line, blank lines and surrounding spaces dropped. */
export function tokenLines(text: string): string[] {
    return text
        .split("\n")
        .map((line) => line.trim())
        .filter(Boolean);
}

export const tokenDigest = (token: string): Buffer => createHash("sha256").update(token).digest();

export class AcceptedTokens {
    private readonly digests: Buffer[];

    /** `text`: one token a line (a token file's content); none accepts nothing. */
    constructor(text: string) {
        this.digests = tokenLines(text).map(tokenDigest);
    }

    get size(): number {
        return this.digests.length;
    }

    /** True when `digest` (a presented token's SHA-256) is one of them; compares with each of them. */
    matchesDigest(digest: Buffer): boolean {
        let found = false;
        for (const d of this.digests) if (timingSafeEqual(digest, d)) found = true;
        return found;
    }

    matches(token: string): boolean {
        return this.matchesDigest(tokenDigest(token));
    }
}
