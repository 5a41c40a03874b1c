import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandomIds } from '../../src/adapters/system/random-ids.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
function decodeTime(id: string): number {
  let ms = 0;
  for (let i = 0; i < 10; i++) ms = ms * 32 + CROCKFORD.indexOf(id.charAt(i));
  return ms;
}

describe('random ids', () => {
  it('makes ULID job ids that carry their millisecond and sort in creation order', () => {
    let ms = 1_700_000_000_000;
    const ids = createRandomIds(() => ms);
    const made: string[] = [];
    for (let i = 0; i < 3000; i++) {
      if (i % 1000 === 999) ms += 1;
      made.push(ids.jobId());
    }
    for (const id of made) assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(decodeTime(made[0] ?? ''), 1_700_000_000_000);
    assert.equal(decodeTime(made.at(-1) ?? ''), 1_700_000_000_003);
    assert.deepEqual([...made].sort(), made);
    assert.equal(new Set(made).size, made.length);
  });

  it('spreads the random part over the whole alphabet', () => {
    const ids = createRandomIds();
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = ids.jobId();
      for (let at = 10; at < id.length; at++) seen.add(id.charAt(at));
    }
    assert.equal(seen.size, 32);
  });

  it('makes trace ids that start with their millisecond, so they index in creation order', () => {
    let ms = 1_700_000_000_000;
    const ids = createRandomIds(() => ms);
    const first = ids.traceId();
    ms += 1;
    const second = ids.traceId();
    assert.equal(parseInt(first.slice(0, 12), 16), 1_700_000_000_000);
    assert.equal(parseInt(second.slice(0, 12), 16), 1_700_000_000_001);
    assert.ok(first < second);
    // The other 80 bits are random: two ids of the same millisecond differ there.
    ms -= 1;
    assert.notEqual(ids.traceId().slice(12), first.slice(12));
  });

  it('makes 128-bit hex trace ids and wdn_ secrets, all distinct', () => {
    const ids = createRandomIds();
    const traces = Array.from({ length: 5000 }, () => ids.traceId());
    for (const trace of traces) assert.match(trace, /^[0-9a-f]{32}$/);
    assert.equal(new Set(traces).size, traces.length);
    assert.match(ids.apiKeySecret(), /^wdn_[A-Za-z0-9_-]{43}$/);
    const leases = Array.from({ length: 100 }, () => ids.leaseId());
    for (const lease of leases) assert.match(lease, /^lease_[A-Za-z0-9_-]{22}$/);
    assert.equal(new Set(leases).size, leases.length);
  });
});
