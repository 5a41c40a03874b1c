/**
 * Token buckets: the per-API-key request rate limit of the HTTP layer. Separate from the policy
 * throttles (windows.ts), which count actions a rule names; this bounds how fast one key may
 * call the gateway at all.
 *
 * Pure: time arrives as an argument (milliseconds on any monotonic scale), nothing is read from
 * the platform. A bucket holds up to `capacity` tokens, gains `refillPerSec` tokens a second, and
 * each request takes one.
 */

export interface BucketSettings {
  /** Tokens a full bucket holds: requests a key may send at once (the burst). */
  readonly capacity: number;
  /** Tokens added per second: the sustained rate. */
  readonly refillPerSec: number;
}

/** The answer to a request: go ahead, or retry after this many milliseconds (at least 1). */
export type Take = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

const OK: Take = Object.freeze({ ok: true });

function checkSettings(settings: BucketSettings): void {
  if (!(Number.isFinite(settings.capacity) && settings.capacity >= 1)) {
    throw new RangeError(`bucket capacity must be a number >= 1, got ${settings.capacity}`);
  }
  if (!(Number.isFinite(settings.refillPerSec) && settings.refillPerSec > 0)) {
    throw new RangeError(`bucket refill must be a number > 0, got ${settings.refillPerSec}`);
  }
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly settings: BucketSettings,
    nowMs: number,
  ) {
    checkSettings(settings);
    this.tokens = settings.capacity;
    this.last = nowMs;
  }

  /** Takes one token if there is one; otherwise says when the next one arrives. */
  take(nowMs: number): Take {
    this.refill(nowMs);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return OK;
    }
    const rate = this.settings.refillPerSec;
    let retryAfterMs = Math.max(1, Math.ceil(((1 - this.tokens) / rate) * 1000));
    // Float rounding can leave the refill after exactly that long a hair short of one token;
    // INVARIANT: a request sent `retryAfterMs` later is admitted.
    while (this.tokens + (retryAfterMs / 1000) * rate < 1) retryAfterMs++;
    return { ok: false, retryAfterMs };
  }

  /** A full bucket behaves exactly like a fresh one, so it can be forgotten without effect. */
  isFull(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens >= this.settings.capacity;
  }

  private refill(nowMs: number): void {
    // INVARIANT: time never runs backwards for a bucket; an earlier `nowMs` adds nothing.
    if (!(nowMs > this.last)) return;
    const gained = ((nowMs - this.last) / 1000) * this.settings.refillPerSec;
    this.tokens = Math.min(this.settings.capacity, this.tokens + gained);
    this.last = nowMs;
  }
}

export interface KeyedBucketSettings extends BucketSettings {
  /** Most keys tracked at once; the least recently used bucket is dropped beyond it. */
  readonly maxKeys: number;
}

/** Idle buckets examined (oldest first) on each take; each full one is dropped. */
const SWEEP_PER_TAKE = 2;

/**
 * One bucket per key, memory bounded: a bucket that has refilled is dropped (it equals a fresh
 * one), and beyond `maxKeys` the least recently used is dropped, which at worst gives that key
 * a fresh burst.
 */
export class TokenBuckets {
  /** In least-recently-used order: a key is re-inserted on each take. */
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly settings: KeyedBucketSettings) {
    checkSettings(settings);
    if (!(Number.isInteger(settings.maxKeys) && settings.maxKeys >= 1)) {
      throw new RangeError(`maxKeys must be an integer >= 1, got ${settings.maxKeys}`);
    }
  }

  take(key: string, nowMs: number): Take {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.settings, nowMs);
    } else {
      this.buckets.delete(key);
    }
    this.sweep(nowMs);
    this.buckets.set(key, bucket);
    return bucket.take(nowMs);
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(nowMs: number): void {
    let examined = 0;
    for (const [key, bucket] of this.buckets) {
      if (this.buckets.size >= this.settings.maxKeys || bucket.isFull(nowMs)) {
        this.buckets.delete(key);
      } else if (++examined >= SWEEP_PER_TAKE) {
        break;
      }
    }
  }
}
