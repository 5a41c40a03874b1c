/**
 * Verification against signed checkpoints (core/audit/signed-chain.ts), in memory: what a
 * checkpoint adds to the hash chain (a rewrite with recomputed hashes, truncation, a pruned
 * head without an anchor, a forged or foreign signature), and what it cannot (events after the
 * newest checkpoint).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ephemeralSigningKey } from '../../../src/adapters/system/ed25519-key.js';
import { nativeSha256 } from '../../../src/adapters/system/native-sha256.js';
import { sealEvents } from '../../../src/core/audit/chain.js';
import type { AuditEvent, UnsealedEvent } from '../../../src/core/audit/chain.js';
import { checkpointPayload } from '../../../src/core/audit/checkpoint.js';
import type { AuditCheckpoint } from '../../../src/core/audit/checkpoint.js';
import { SignedChainVerifier } from '../../../src/core/audit/signed-chain.js';
import type {
  CheckpointKey,
  SignedChainVerification,
} from '../../../src/core/audit/signed-chain.js';
import type { AuditSigner } from '../../../src/ports/audit-signer.js';

const signer = ephemeralSigningKey();
const stranger = ephemeralSigningKey();
const KEYS: readonly CheckpointKey[] = [signer.publicKey];

function unsealed(n: number, from = 0): UnsealedEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    at: `2026-11-21T00:00:${String((from + i) % 60).padStart(2, '0')}.000Z`,
    type: 'job.decided',
    tenant_id: 'default',
    trace_id: `trace-${String(from + i)}`,
    job_id: `job-${String(from + i)}`,
    actor: 'dev',
    data: { i: from + i },
  }));
}

const chain = sealEvents(null, unsealed(25), nativeSha256);

function eventAt(events: readonly AuditEvent[], seq: number): AuditEvent {
  const event = events.find((e) => e.seq === seq);
  assert.ok(event, `event ${String(seq)}`);
  return event;
}

function checkpoint(event: AuditEvent, by: AuditSigner = signer): AuditCheckpoint {
  const claim = { seq: event.seq, hash: event.hash, at: `2026-11-21T01:00:00.000Z` };
  return { ...claim, key_id: by.keyId, signature: by.sign(checkpointPayload(claim)) };
}

/** Checkpoints of `chain` at these seqs, as the gateway signed them. */
const signedAt = (...seqs: number[]): AuditCheckpoint[] =>
  seqs.map((seq) => checkpoint(eventAt(chain, seq)));

function verify(
  events: readonly AuditEvent[],
  checkpoints: readonly AuditCheckpoint[],
  options: { keys?: readonly CheckpointKey[] | null; anchor?: AuditCheckpoint | null } = {},
): SignedChainVerification {
  const verifier = new SignedChainVerifier({
    sha256: nativeSha256,
    keys: options.keys === undefined ? KEYS : options.keys,
    anchor: options.anchor ?? null,
  });
  verifier.expect(checkpoints);
  for (const event of events) if (!verifier.push(event)) break;
  return verifier.result();
}

/** The chain with event `seq` edited and every hash from there on recomputed. */
function rewrittenFrom(seq: number): AuditEvent[] {
  const kept = chain.filter((e) => e.seq < seq);
  const edited = chain
    .filter((e) => e.seq >= seq)
    .map(({ at, type, tenant_id, trace_id, job_id, actor, data }, i) => ({
      at,
      type,
      tenant_id,
      trace_id,
      job_id,
      actor: i === 0 ? 'mallory' : actor,
      data,
    }));
  return [...kept, ...sealEvents(kept.at(-1) ?? null, edited, nativeSha256)];
}

describe('signed checkpoints', () => {
  it('reports OK with the count and the checkpoints verified; copies at one seq count once', () => {
    assert.deepEqual(verify(chain, signedAt(10, 20)), {
      ok: true,
      count: 25,
      first_bad_seq: null,
      reason: 'chain intact',
      checkpoints: 2,
    });
    assert.equal(verify(chain, [...signedAt(10, 20), ...signedAt(20, 10)]).checkpoints, 2);
    assert.deepEqual(verify([], []), {
      ok: true,
      count: 0,
      first_bad_seq: null,
      reason: 'chain intact',
      checkpoints: 0,
    });
  });

  it('catches a rewrite with recomputed hashes, naming the range since the last matching checkpoint', () => {
    const forged = rewrittenFrom(13);
    assert.equal(verify(forged, []).ok, true, 'the chain alone cannot tell');
    const result = verify(forged, signedAt(10, 20));
    assert.equal(result.ok, false);
    assert.equal(result.first_bad_seq, 11);
    assert.equal(result.count, 10);
    assert.equal(result.checkpoints, 1);
    assert.match(result.reason, /events 11\.\.20 do not match the checkpoint signed at seq 20/);
  });

  it('cannot see a rewrite after the newest checkpoint: the documented bound', () => {
    assert.equal(verify(rewrittenFrom(22), signedAt(10, 20)).ok, true);
  });

  it('detects truncation: a checkpoint beyond the last event', () => {
    const result = verify(chain.slice(0, 15), signedAt(10, 20));
    assert.equal(result.ok, false);
    assert.equal(result.first_bad_seq, 16);
    assert.equal(result.count, 15);
    assert.match(result.reason, /events 16\.\.20 are missing \(truncated\)/);
    const emptied = verify([], signedAt(10, 20));
    assert.equal(emptied.first_bad_seq, 1);
    assert.match(emptied.reason, /events 1\.\.20 are missing/);
  });

  it('fails at the seq of a checkpoint whose signature does not verify or whose key is unknown', () => {
    const [good] = signedAt(20);
    assert.ok(good);
    const flipped = good.signature.startsWith('A')
      ? `B${good.signature.slice(1)}`
      : `A${good.signature.slice(1)}`;
    const forged = verify(chain, [...signedAt(10), { ...good, signature: flipped }]);
    assert.equal(forged.first_bad_seq, 20);
    assert.match(forged.reason, /checkpoint at seq 20 has a signature that does not verify/);
    const garbage = verify(chain, [{ ...good, signature: 'not base64 at all!' }]);
    assert.equal(garbage.first_bad_seq, 20);

    const foreign = verify(chain, [checkpoint(eventAt(chain, 20), stranger)]);
    assert.equal(foreign.first_bad_seq, 20);
    assert.match(foreign.reason, new RegExp(`signed by unknown key ${stranger.keyId}`));
    // An attacker's key claiming the gateway's key id: the signature does not verify.
    const impostor = { ...checkpoint(eventAt(chain, 20), stranger), key_id: signer.keyId };
    assert.equal(verify(chain, [impostor]).first_bad_seq, 20);
    // A forged checkpoint beyond the end is refused for its signature, not taken as truncation.
    const beyond = { ...good, seq: 30, signature: flipped };
    assert.equal(verify(chain, [beyond]).first_bad_seq, 30);
  });

  it('verifies a pruned trail from its signed anchor, and fails at seq 1 without one', () => {
    const [anchor] = signedAt(10);
    assert.ok(anchor);
    const kept = chain.slice(10);
    const ok = verify(kept, [...signedAt(5, 10, 20)], { anchor });
    assert.deepEqual(ok, {
      ok: true,
      count: 15,
      first_bad_seq: null,
      reason: 'chain intact',
      checkpoints: 2,
    });

    const orphan = verify(kept, signedAt(20));
    assert.equal(orphan.first_bad_seq, 1);
    assert.equal(orphan.count, 0);
    assert.match(
      orphan.reason,
      /starts at seq 11 with no signed checkpoint at seq 10.*events 1\.\.10/,
    );

    const untrusted = verify(kept, [], { anchor: { ...anchor, signature: 'AAAA' } });
    assert.equal(untrusted.first_bad_seq, 1);
    assert.match(untrusted.reason, /not trusted/);

    // An anchor for another chain: the first kept event does not link to it.
    const elsewhere = verify(kept, [], { anchor: checkpoint(eventAt(chain, 9)) });
    assert.equal(elsewhere.ok, false);
  });

  it('without a public key, checks everything but the signatures and does not report OK', () => {
    const unverified = verify(chain, signedAt(10, 20), { keys: null });
    assert.equal(unverified.ok, false);
    assert.equal(unverified.first_bad_seq, null);
    assert.equal(unverified.checkpoints, 0);
    assert.match(unverified.reason, /2 checkpoint\(s\) could not be checked: no public key/);
    assert.equal(verify(chain, [], { keys: null }).ok, true, 'nothing to check');
    assert.equal(verify(chain.slice(0, 12), signedAt(20), { keys: null }).first_bad_seq, 13);
    assert.equal(verify(rewrittenFrom(13), signedAt(20), { keys: null }).first_bad_seq, 1);
  });

  it('takes checkpoints range by range as the stream goes, and refuses one it already passed', () => {
    const verifier = new SignedChainVerifier({ sha256: nativeSha256, keys: KEYS, anchor: null });
    verifier.expect(signedAt(20));
    for (const event of chain.slice(0, 10)) verifier.push(event);
    verifier.expect(signedAt(15, 12));
    assert.throws(() => {
      verifier.expect(signedAt(5));
    }, /after the stream passed it/);
    for (const event of chain.slice(10)) verifier.push(event);
    assert.equal(verifier.result().checkpoints, 3);
  });

  it('a rewrite from any seq is caught iff a checkpoint follows it, at the start of its segment (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 25 }),
        fc.integer({ min: 2, max: 12 }),
        (from, every) => {
          const seqs = chain.map((e) => e.seq).filter((seq) => seq % every === 0);
          const result = verify(rewrittenFrom(from), signedAt(...seqs));
          const next = seqs.find((seq) => seq >= from);
          if (next === undefined) {
            assert.equal(result.ok, true);
          } else {
            assert.equal(result.ok, false);
            assert.equal(result.first_bad_seq, next - every + 1);
          }
        },
      ),
    );
  });
});
