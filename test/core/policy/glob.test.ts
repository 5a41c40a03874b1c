import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileGlob, globProblem } from '../../../src/core/policy/glob.js';

/** Reference semantics as a backtracking regex: fine for the short inputs generated here. */
function reference(pattern: string, separators: string): RegExp {
  const notSep = `[^${separators.replace(/[\\\]^-]/g, '\\$&')}]*`;
  const body = pattern
    .split(/(\*\*|\*)/)
    .map((part) =>
      part === '**' ? '.*' : part === '*' ? notSep : part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${body}$`, 's');
}

describe('glob', () => {
  const cases: [string, string, boolean][] = [
    ['job.mcp-bridge.read.*', 'job.mcp-bridge.read.get', true],
    ['job.mcp-bridge.read.*', 'job.mcp-bridge.read.get.more', false],
    ['job.mcp-bridge.read.*', 'job.mcp-bridge.read.', true],
    ['job.**', 'job.a.b.c', true],
    ['job.**', 'job', false],
    ['**', '', true],
    ['*', 'a.b', false],
    ['acme-*', 'acme-eu', true],
    ['acme-*', 'acme', false],
    ['job.*.write', 'job.x.write', true],
    ['job.*.write', 'job.x.y.write', false],
    ['job.**.write', 'job.x.y.write', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'a.b.c', false],
    ['a**b*c', 'a.x.bYc', true],
    ['a**b*c', 'a.b.Xc', false],
    ['exact', 'exact', true],
    ['exact', 'exactly', false],
  ];
  for (const [pattern, input, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} "${input}"`, () => {
      assert.equal(compileGlob(pattern, '.').test(input), expected);
    });
  }

  it('agrees with the reference regex on random patterns and inputs', () => {
    const alphabet = fc.constantFrom('a', 'b', '.', '/');
    const patternArb = fc
      .array(fc.constantFrom('a', 'b', '.', '*', '**', 'ab'), { maxLength: 7 })
      .map((parts) => parts.join(''))
      .filter((p) => globProblem(p) === null);
    fc.assert(
      fc.property(
        patternArb,
        fc.array(alphabet, { maxLength: 10 }),
        fc.constantFrom('.', './'),
        (pattern, chars, seps) => {
          const input = chars.join('');
          assert.equal(
            compileGlob(pattern, seps).test(input),
            reference(pattern, seps).test(input),
            `${pattern} vs ${input}`,
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('rejects empty patterns and runs of three stars', () => {
    assert.notEqual(globProblem(''), null);
    assert.notEqual(globProblem('a.***'), null);
    assert.throws(() => compileGlob('***', '.'));
  });

  it('exposes the literal prefix used by the index', () => {
    assert.equal(compileGlob('job.mcp-*.x', '.').literalPrefix, 'job.mcp-');
    assert.equal(compileGlob('**', '.').literalPrefix, '');
  });
});
