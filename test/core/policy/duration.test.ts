import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDurationSeconds } from '../../../src/core/policy/duration.js';

describe('durations', () => {
  it('reads s, m, h, d and combinations', () => {
    assert.equal(parseDurationSeconds('30s'), 30);
    assert.equal(parseDurationSeconds('15m'), 900);
    assert.equal(parseDurationSeconds('1h30m'), 5400);
    assert.equal(parseDurationSeconds('2d'), 172800);
  });
  it('rejects other forms', () => {
    for (const bad of ['', '5', '5x', '1.5h', '-1m', '0s', 'h', '1 h'])
      assert.equal(parseDurationSeconds(bad), null, bad);
  });
});
