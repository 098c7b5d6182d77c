// Heroku's rate limit: each token has 4500 requests an hour, refilled continuously; every answer
// says what is left (RateLimit-Remaining), and a token with none left gets 429 until it refills.
export const REQUESTS_PER_HOUR = 4500;

interface Bucket {
    tokens: number;
    at: number;
}

export class RateLimiter {
    private readonly buckets = new Map<string, Bucket>();

    constructor(
        private readonly perHour = REQUESTS_PER_HOUR,
        private readonly now: () => number = Date.now,
    ) {}

    /** Takes one request from `key`'s allowance; `allowed` false when none is left. */
    take(key: string): { allowed: boolean; remaining: number } {
        const t = this.now();
        const b = this.buckets.get(key) ?? { tokens: this.perHour, at: t };
        b.tokens = Math.min(this.perHour, b.tokens + ((t - b.at) * this.perHour) / 3_600_000);
        b.at = t;
        this.buckets.set(key, b);
        if (b.tokens < 1) return { allowed: false, remaining: 0 };
        b.tokens -= 1;
        if (this.buckets.size > 100_000) this.forgetFull(t);
        return { allowed: true, remaining: Math.floor(b.tokens) };
    }

    /** Buckets refilled to the top are the same as none: a flood of distinct keys cannot grow the map forever. */
    private forgetFull(t: number): void {
        for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) * this.perHour) / 3_600_000 >= this.perHour) this.buckets.delete(k);
    }
}
