import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Constraints } from '../../../src/core/model/decision.js';
import {
  mergeAll,
  mergeConstraints,
  normalizeConstraints,
} from '../../../src/core/policy/constraints.js';

const globs = ['/tmp/**', '/srv/*', '/var/log/**', '*.example.com', 'api.test'];
const constraintsArb: fc.Arbitrary<Constraints> = fc.record(
  {
    max_runtime_sec: fc.integer({ min: 1, max: 1000 }),
    max_retries: fc.integer({ min: 0, max: 10 }),
    max_output_bytes: fc.integer({ min: 1, max: 1 << 20 }),
    allowed_paths: fc.subarray(globs),
    denied_paths: fc.subarray(globs),
    allowed_hosts: fc.subarray(globs),
    denied_hosts: fc.subarray(globs),
    redact_output: fc.boolean(),
  },
  { requiredKeys: [] },
);

describe('constraint merge', () => {
  it('takes the minimum of numbers, intersects allow-lists, unites deny-lists, ORs redaction', () => {
    const merged = mergeConstraints(
      {
        max_runtime_sec: 45,
        max_retries: 3,
        allowed_paths: ['/tmp/**', '/srv/*'],
        denied_hosts: ['a'],
        redact_output: false,
      },
      {
        max_runtime_sec: 60,
        max_retries: 1,
        allowed_paths: ['/srv/*'],
        denied_hosts: ['b'],
        redact_output: true,
      },
    );
    assert.deepEqual(merged, {
      max_runtime_sec: 45,
      max_retries: 1,
      allowed_paths: ['/srv/*'],
      denied_hosts: ['a', 'b'],
      redact_output: true,
    });
  });

  it('keeps a constraint only one side sets, and an empty intersection allows nothing', () => {
    assert.deepEqual(mergeConstraints({ max_retries: 2 }, {}), { max_retries: 2 });
    assert.deepEqual(mergeConstraints({ allowed_hosts: ['a'] }, { allowed_hosts: ['b'] }), {
      allowed_hosts: [],
    });
  });

  it('is commutative and associative, with {} as identity', () => {
    fc.assert(
      fc.property(constraintsArb, constraintsArb, constraintsArb, (a, b, c) => {
        assert.deepEqual(mergeConstraints(a, b), mergeConstraints(b, a));
        assert.deepEqual(
          mergeConstraints(mergeConstraints(a, b), c),
          mergeConstraints(a, mergeConstraints(b, c)),
        );
        assert.deepEqual(mergeConstraints(a, {}), normalizeConstraints(a));
      }),
    );
  });

  it('never loosens either input', () => {
    fc.assert(
      fc.property(fc.array(constraintsArb, { minLength: 1, maxLength: 5 }), (sets) => {
        const merged = mergeAll(sets);
        for (const set of sets) {
          for (const key of ['max_runtime_sec', 'max_retries', 'max_output_bytes'] as const) {
            const limit = set[key];
            if (limit !== undefined) assert.ok((merged[key] ?? Infinity) <= limit);
          }
          for (const key of ['allowed_paths', 'allowed_hosts'] as const) {
            const allowed = set[key];
            if (allowed !== undefined)
              assert.ok((merged[key] ?? []).every((g) => allowed.includes(g)));
          }
          for (const key of ['denied_paths', 'denied_hosts'] as const) {
            for (const g of set[key] ?? []) assert.ok(merged[key]?.includes(g));
          }
          if (set.redact_output === true) assert.equal(merged.redact_output, true);
        }
      }),
    );
  });
});
