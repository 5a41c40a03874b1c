import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  GENESIS_HASH,
  encodeEvent,
  eventHash,
  sealEncoded,
  sealEvents,
  verifyChain,
} from '../../../src/core/audit/chain.js';
import type { AuditEvent, UnsealedEvent } from '../../../src/core/audit/chain.js';
import { sha256Hex } from '../../../src/core/hash/sha256.js';

const nodeSha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

function events(n: number): UnsealedEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    at: `2026-11-21T00:00:${String(i % 60).padStart(2, '0')}.000Z`,
    type: i % 2 === 0 ? 'job.decided' : 'job.state_changed',
    tenant_id: 'default',
    trace_id: `trace-${i % 3}`,
    job_id: `job-${i}`,
    actor: 'dev',
    data: { i, note: 'é ✓' },
  }));
}

describe('audit hash chain', () => {
  const chain = sealEvents(null, events(20), nodeSha256);

  it('links each event to the previous one from the genesis hash', () => {
    assert.equal(chain[0]?.prev_hash, GENESIS_HASH);
    assert.deepEqual(
      chain.map((e) => e.seq),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    for (let i = 1; i < chain.length; i++) assert.equal(chain[i]?.prev_hash, chain[i - 1]?.hash);
    assert.deepEqual(verifyChain(chain, nodeSha256), {
      ok: true,
      count: 20,
      first_bad_seq: null,
      reason: 'chain intact',
    });
  });

  it('gives the same hashes with the pure-JS and the native SHA-256', () => {
    assert.deepEqual(
      sealEvents(null, events(5), sha256Hex),
      sealEvents(null, events(5), nodeSha256),
    );
  });

  it('continues a stored chain from its head', () => {
    const more = sealEvents(chain.at(-1) ?? null, events(3), nodeSha256);
    assert.equal(more[0]?.seq, 21);
    assert.equal(verifyChain([...chain, ...more], nodeSha256).count, 23);
  });

  const tampered: [string, (c: AuditEvent[]) => AuditEvent[], number, RegExp][] = [
    [
      'an edited field',
      (c) => c.map((e) => (e.seq === 7 ? { ...e, actor: 'mallory' } : e)),
      7,
      /does not match its content/,
    ],
    [
      'edited data',
      (c) => c.map((e) => (e.seq === 3 ? { ...e, data: { i: 99 } } : e)),
      3,
      /does not match/,
    ],
    ['a deleted event', (c) => c.filter((e) => e.seq !== 10), 11, /events 10\.\.10 are missing/],
    [
      'swapped events',
      (c) => [...c.slice(0, 4), c[5] as AuditEvent, c[4] as AuditEvent, ...c.slice(6)],
      6,
      /out of order|missing/,
    ],
    [
      'a re-hashed edit (hash recomputed, next link broken)',
      (c) =>
        c.map((e) => {
          if (e.seq !== 5) return e;
          const edited = { ...e, actor: 'mallory' };
          return {
            ...edited,
            hash: sealEvents({ seq: 4, hash: e.prev_hash }, [edited], nodeSha256)[0]?.hash ?? '',
          };
        }),
      6,
      /does not link/,
    ],
  ];
  for (const [label, tamper, badSeq, reason] of tampered) {
    it(`detects ${label} and names the first bad seq`, () => {
      const result = verifyChain(tamper([...chain]), nodeSha256);
      assert.equal(result.ok, false);
      assert.equal(result.first_bad_seq, badSeq);
      assert.match(result.reason, reason);
    });
  }

  it('detects any single-field edit anywhere (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom('type', 'actor', 'trace_id', 'at'),
        (seq, field) => {
          const edited = chain.map((e) =>
            e.seq === seq ? { ...e, [field]: `${e[field as keyof AuditEvent] as string}x` } : e,
          );
          const result = verifyChain(edited, nodeSha256);
          assert.equal(result.ok, false);
          assert.equal(result.first_bad_seq, seq);
        },
      ),
    );
  });

  it('seals encoded events to exactly the hash of the canonical JSON of the whole event', () => {
    // The sealing writes the envelope out by hand; any event must hash as eventHash defines it.
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const event = fc.record({
      at: text,
      type: text,
      tenant_id: text,
      trace_id: text,
      job_id: fc.option(text, { nil: null }),
      actor: text,
      data: fc.jsonValue(),
    });
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 4 }),
        fc.option(
          fc.record({ seq: fc.nat({ max: 1e9 }), hash: fc.stringMatching(/^[0-9a-f]{64}$/) }),
          { nil: null },
        ),
        (unsealed, head) => {
          const sealed = sealEncoded(head, unsealed.map(encodeEvent), nodeSha256);
          sealed.forEach((row, i) => {
            const original = { ...row, data: unsealed[i]?.data };
            assert.equal(row.hash, eventHash(original, nodeSha256));
            assert.deepEqual(JSON.parse(row.data), JSON.parse(JSON.stringify(original.data)));
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
