import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandomIds } from '../../src/adapters/system/random-ids.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const decodeTime = (id: string): number =>
  [...id.slice(0, 10)].reduce((ms, char) => ms * 32 + CROCKFORD.indexOf(char), 0);

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
    for (let i = 0; i < 2000; i++) for (const char of ids.jobId().slice(10)) seen.add(char);
    assert.equal(seen.size, 32);
  });

  it('makes 128-bit hex trace ids and wdn_ secrets, all distinct', () => {
    const ids = createRandomIds();
    const traces = Array.from({ length: 5000 }, () => ids.traceId());
    for (const trace of traces) assert.match(trace, /^[0-9a-f]{32}$/);
    assert.equal(new Set(traces).size, traces.length);
    assert.match(ids.apiKeySecret(), /^wdn_[A-Za-z0-9_-]{43}$/);
  });
});
