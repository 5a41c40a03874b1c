import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../../../src/core/hash/jcs.js';
import { sha256Hex } from '../../../src/core/hash/sha256.js';

describe('RFC 8785 canonical JSON', () => {
  it('sorts keys by UTF-16 code units and drops whitespace', () => {
    assert.equal(
      canonicalJson({ b: 1, a: [true, null, 'x'], A: {} }),
      '{"A":{},"a":[true,null,"x"],"b":1}',
    );
    // U+20AC (€) sorts after U+00E9 (é), and a surrogate pair (U+1F600) sorts by its first unit.
    assert.equal(
      canonicalJson({ '\u20ac': 1, '\u00e9': 2, '\ud83d\ude00': 3, z: 4 }),
      '{"z":4,"é":2,"€":1,"😀":3}',
    );
  });

  it('serialises numbers the ECMAScript way (RFC 8785 §3.2.2.3)', () => {
    assert.equal(
      // eslint-disable-next-line no-loss-of-precision -- the RFC 8785 sample literal rounds on purpose
      canonicalJson([1e21, 1e-7, -0, 0.1, 100, 333333333.33333329]),
      '[1e+21,1e-7,0,0.1,100,333333333.3333333]',
    );
  });

  it('escapes strings minimally', () => {
    assert.equal(canonicalJson('\u0007\n"\\/é'), '"\\u0007\\n\\"\\\\/é"');
  });

  it('omits undefined members and rejects non-JSON values', () => {
    assert.equal(canonicalJson({ a: undefined, b: 2 }), '{"b":2}');
    assert.throws(() => canonicalJson(Number.NaN));
    assert.throws(() => canonicalJson(() => 1));
  });

  it('is independent of key insertion order and round-trips through JSON.parse', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        assert.equal(canonicalJson(JSON.parse(text)), text);
        assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('hashes with SHA-256 (known vector)', () => {
    assert.equal(
      sha256Hex('abc'),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});
