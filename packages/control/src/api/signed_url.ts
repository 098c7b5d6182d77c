// The URLs the API hands out for streams (log sessions, build output): the caller opens them without
// its token (as Heroku's logplex_url and output_stream_url), so each is signed by this server and
// short-lived. The key is made per process: a restart ends every URL, which their lifetime allows.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export class UrlSigner {
    constructor(
        private readonly key: Buffer = randomBytes(32),
        private readonly now: () => number = Date.now,
    ) {}

    /** `path` (with its query) plus `expires` and `sig`, valid for `ttlMs`. */
    sign(path: string, ttlMs: number): string {
        const expires = Math.floor((this.now() + ttlMs) / 1000);
        const withExpiry = `${path}${path.includes("?") ? "&" : "?"}expires=${expires}`;
        return `${withExpiry}&sig=${this.mac(withExpiry)}`;
    }

    /** Whether `pathAndQuery` is one this signer made and has not expired. */
    verify(pathAndQuery: string): boolean {
        const m = /^(.*[?&]expires=(\d+))&sig=([0-9a-f]{64})$/.exec(pathAndQuery);
        if (!m) return false;
        if (Number(m[2]) * 1000 < this.now()) return false;
        return timingSafeEqual(Buffer.from(m[3], "hex"), Buffer.from(this.mac(m[1]), "hex"));
    }

    private mac(text: string): string {
        return createHmac("sha256", this.key).update(`dynoform-api-url-v1\n${text}`).digest("hex");
    }
}
