import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TokenBucket, TokenBuckets } from '../../../src/core/throttle/token-bucket.js';

describe('token bucket', () => {
  it('lets a full burst through, then refuses with the time to the next token', () => {
    const bucket = new TokenBucket({ capacity: 3, refillPerSec: 2 }, 0);
    for (let i = 0; i < 3; i++) assert.deepEqual(bucket.take(0), { ok: true });
    // One token every 500 ms.
    assert.deepEqual(bucket.take(0), { ok: false, retryAfterMs: 500 });
    assert.deepEqual(bucket.take(200), { ok: false, retryAfterMs: 300 });
    assert.deepEqual(bucket.take(500), { ok: true });
    assert.deepEqual(bucket.take(500), { ok: false, retryAfterMs: 500 });
  });

  it('refills at the rate, never above the capacity', () => {
    const bucket = new TokenBucket({ capacity: 2, refillPerSec: 10 }, 0);
    assert.ok(bucket.take(0).ok);
    assert.ok(bucket.take(0).ok);
    assert.ok(!bucket.take(0).ok);
    // An hour idle refills to the capacity only.
    assert.ok(bucket.isFull(3_600_000));
    assert.ok(bucket.take(3_600_000).ok);
    assert.ok(bucket.take(3_600_000).ok);
    assert.ok(!bucket.take(3_600_000).ok);
  });

  it('gains nothing when time runs backwards', () => {
    const bucket = new TokenBucket({ capacity: 1, refillPerSec: 1 }, 10_000);
    assert.ok(bucket.take(10_000).ok);
    assert.ok(!bucket.take(0).ok);
    assert.ok(!bucket.take(10_500).ok);
    assert.ok(bucket.take(11_000).ok);
  });

  it('says retry after at least 1 ms, even at very high rates', () => {
    const bucket = new TokenBucket({ capacity: 1, refillPerSec: 1e9 }, 0);
    assert.ok(bucket.take(0).ok);
    assert.deepEqual(bucket.take(0), { ok: false, retryAfterMs: 1 });
  });

  it('rounds the retry time up past float error (found by the property below)', () => {
    // 1 / 999.9999999999999 s is 1 ms in floats, but 1 ms refills only 0.9999999999999999.
    const bucket = new TokenBucket({ capacity: 1, refillPerSec: 999.9999999999999 }, 0);
    assert.ok(bucket.take(0).ok);
    const refused = bucket.take(0);
    assert.deepEqual(refused, { ok: false, retryAfterMs: 2 });
    assert.ok(bucket.take(2).ok);
  });

  it('refuses settings that cannot work', () => {
    assert.throws(() => new TokenBucket({ capacity: 0, refillPerSec: 1 }, 0), RangeError);
    assert.throws(() => new TokenBucket({ capacity: 1, refillPerSec: 0 }, 0), RangeError);
    assert.throws(() => new TokenBucket({ capacity: NaN, refillPerSec: 1 }, 0), RangeError);
    assert.throws(() => new TokenBuckets({ capacity: 1, refillPerSec: 1, maxKeys: 0 }), RangeError);
  });

  it('never admits more than capacity + rate × elapsed (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 300 }),
        (capacity, rate, gaps) => {
          const bucket = new TokenBucket({ capacity, refillPerSec: rate }, 0);
          let now = 0;
          let admitted = 0;
          for (const gap of gaps) {
            now += gap;
            const take = bucket.take(now);
            if (take.ok) admitted++;
            else assert.ok(take.retryAfterMs >= 1);
          }
          assert.ok(admitted <= capacity + (rate * now) / 1000 + 1e-9);
        },
      ),
    );
  });

  it('waiting the retry time is always enough (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0.1, max: 1000, noNaN: true }),
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 200 }),
        (capacity, rate, gaps) => {
          const bucket = new TokenBucket({ capacity, refillPerSec: rate }, 0);
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            const take = bucket.take(now);
            if (take.ok) continue;
            now += take.retryAfterMs;
            assert.ok(bucket.take(now).ok, `refused again ${take.retryAfterMs} ms later`);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('token buckets per key', () => {
  const settings = { capacity: 2, refillPerSec: 1, maxKeys: 3 };

  it('keeps keys apart', () => {
    const buckets = new TokenBuckets(settings);
    assert.ok(buckets.take('a', 0).ok);
    assert.ok(buckets.take('a', 0).ok);
    assert.ok(!buckets.take('a', 0).ok);
    assert.ok(buckets.take('b', 0).ok);
  });

  it('drops the least recently used key beyond the cap', () => {
    const buckets = new TokenBuckets(settings);
    for (const key of ['a', 'a', 'b', 'c']) buckets.take(key, 0);
    assert.equal(buckets.size, 3);
    // `a` is the least recently used (b and c came later): a fourth key drops it.
    buckets.take('d', 0);
    assert.equal(buckets.size, 3);
    assert.ok(buckets.take('a', 0).ok, 'a dropped key starts with a fresh burst');
  });

  it('forgets buckets that have refilled, so idle keys cost no memory', () => {
    const buckets = new TokenBuckets({ ...settings, maxKeys: 1000 });
    for (let i = 0; i < 500; i++) buckets.take(`key-${i}`, 0);
    const before: number = buckets.size;
    assert.equal(before, 500);
    // Two seconds later every bucket is full again; each take sweeps the oldest ones.
    for (let i = 0; i < 300; i++) buckets.take('active', 2000 + i);
    const after: number = buckets.size;
    assert.ok(after <= 1, `size ${after}`);
  });

  it('a busy key keeps its state while others come and go', () => {
    const buckets = new TokenBuckets(settings);
    assert.ok(buckets.take('busy', 0).ok);
    assert.ok(buckets.take('busy', 0).ok);
    for (let i = 0; i < 10; i++) {
      buckets.take(`other-${i}`, 0);
      assert.ok(!buckets.take('busy', 0).ok, 'still exhausted');
    }
  });
});
