// A token bucket per write key: `rate` events per second on average, bursts of up to `burst`. Pure
// apart from the clock it is given. The table holds one bucket per configured key (bounded).

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** rate 0: no limit. */
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  private refill(key: string): { tokens: number; at: number } {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
    b.at = t;
    this.buckets.set(key, b);
    return b;
  }

  /** Whole seconds until `n` tokens are there (0: now), without taking them. */
  waitFor(key: string, n: number): number {
    if (this.rate <= 0) return 0;
    const b = this.refill(key);
    return b.tokens >= n ? 0 : Math.max(1, Math.ceil((Math.min(n, this.burst) - b.tokens) / this.rate));
  }

  /** Takes `n` tokens and answers 0, or takes none and answers the whole seconds to wait. */
  take(key: string, n: number): number {
    const wait = this.waitFor(key, n);
    if (wait === 0 && this.rate > 0) this.buckets.get(key)!.tokens -= n;
    return wait;
  }
}
