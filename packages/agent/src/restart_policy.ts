// Heroku-style crash restarts: the first crash restarts at once, later consecutive crashes wait
// base * 2^(n-2), capped (Heroku caps the cool-off at 20 minutes). A dyno that stays up for
// resetAfterMs, a new release, or an explicit restart clears the count.
export interface RestartPolicyOptions {
  baseMs: number;
  maxMs: number;
  resetAfterMs: number;
}

export class RestartPolicy {
  constructor(readonly opts: RestartPolicyOptions) {}

  /** Delay before restarting after the `crashes`-th consecutive crash (1-based). */
  delayMs(crashes: number): number {
    if (crashes <= 1) return 0;
    const d = this.opts.baseMs * Math.pow(2, Math.min(crashes - 2, 40));
    return Math.min(d, this.opts.maxMs);
  }

  /** Consecutive-crash count to carry after a crash, given how long the dyno had been up. */
  nextCount(previous: number, upForMs: number | null): number {
    if (upForMs !== null && upForMs >= this.opts.resetAfterMs) return 1;
    return previous + 1;
  }
}
