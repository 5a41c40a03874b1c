/**
 * The per-API-key rate limit: a token bucket per principal, checked right after authentication.
 * It bounds how fast one key may call the gateway at all; policy throttles (§4), which count the
 * actions a rule names, are separate and still apply. Requests without a principal (probes,
 * the API docs, and requests refused with 401) are not counted.
 */
import type { FastifyInstance } from 'fastify';
import { errorEnvelope, WardenError } from '../core/errors.js';
import { TokenBuckets } from '../core/throttle/token-bucket.js';
import { authenticatedAs } from './auth.js';

/** The rate limit per API key (the dev principal is one key). */
export interface RateLimits {
  /** Sustained requests per second a key may send: the bucket's refill rate. */
  readonly requests_per_second: number;
  /** Requests a key may send at once, above the sustained rate: the bucket's capacity. */
  readonly burst: number;
  /**
   * Keys tracked at once (default 10,000). Idle keys are forgotten once their bucket has
   * refilled; beyond this the least recently used is forgotten early, which at worst gives it
   * a fresh burst.
   */
  readonly max_keys?: number;
}

/**
 * Generous: one client under heavy test load (`test/reliability/kill.test.ts`, a dev-mode gateway
 * at over 1,000 requests a second for a few seconds) is not limited, while one runaway key still
 * cannot take more than a fraction of a gateway's capacity. Benchmarks go faster than this and
 * run with the limit off.
 */
export const DEFAULT_RATE_LIMITS: RateLimits = Object.freeze({
  requests_per_second: 1000,
  burst: 2000,
  max_keys: 10_000,
});

const DEFAULT_MAX_KEYS = 10_000;

/**
 * Installs the limiter as an `onRequest` hook; it must come after the authentication hook, whose
 * principal it keys on. `now` is a monotonic clock in milliseconds.
 */
export function installRateLimit(
  app: FastifyInstance,
  limits: RateLimits,
  now: () => number,
): void {
  const { requests_per_second: rate, burst, max_keys: maxKeys = DEFAULT_MAX_KEYS } = limits;
  if (!(Number.isFinite(rate) && rate > 0) || !(Number.isSafeInteger(burst) && burst >= 1)) {
    throw new RangeError(
      `rate limits: requests_per_second must be > 0 and burst an integer >= 1, got ${String(rate)} and ${String(burst)}`,
    );
  }
  if (!(Number.isSafeInteger(maxKeys) && maxKeys >= 1)) {
    throw new RangeError(`rate limits: max_keys must be an integer >= 1, got ${String(maxKeys)}`);
  }
  const buckets = new TokenBuckets({
    capacity: burst,
    refillPerSec: rate,
    maxKeys,
  });
  app.addHook('onRequest', async (request, reply) => {
    const principal = authenticatedAs(request);
    if (principal === undefined) return;
    const take = buckets.take(principal.id, now());
    if (take.ok) return;
    const error = new WardenError(
      'WARDEN_RATE_LIMITED',
      `this API key sent more than ${String(limits.burst)} requests at once or ` +
        `${String(limits.requests_per_second)} a second; retry after ${String(take.retryAfterMs)} ms`,
      { retry_after_ms: take.retryAfterMs },
    );
    // Retry-After is whole seconds; rounding up never invites a retry that is refused again.
    return reply
      .code(error.status)
      .header('retry-after', String(Math.max(1, Math.ceil(take.retryAfterMs / 1000))))
      .send(errorEnvelope(error));
  });
}
