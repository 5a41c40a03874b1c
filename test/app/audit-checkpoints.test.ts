/**
 * The checkpointer (app/audit-checkpoints.ts): when it signs, what it signs, the witness before
 * the store, retention as a background task; and verification (app/audit.ts) while a live
 * gateway keeps appending, checkpointing and pruning underneath it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { ephemeralSigningKey } from '../../src/adapters/system/ed25519-key.js';
import { nativeSha256 } from '../../src/adapters/system/native-sha256.js';
import { AuditService } from '../../src/app/audit.js';
import { AuditCheckpointer } from '../../src/app/audit-checkpoints.js';
import type { CheckpointSettings } from '../../src/app/audit-checkpoints.js';
import type { UnsealedEvent } from '../../src/core/audit/chain.js';
import { checkpointPayload } from '../../src/core/audit/checkpoint.js';
import type { AuditCheckpoint } from '../../src/core/audit/checkpoint.js';
import { WardenError } from '../../src/core/errors.js';
import type { Principal } from '../../src/core/model/principal.js';
import type { CheckpointWitness } from '../../src/ports/checkpoint-witness.js';
import type { Store } from '../../src/ports/store.js';

const AUDITOR: Principal = { id: 'auditor', tenant: '*', roles: ['auditor'] };
const AGENT: Principal = { id: 'bot', tenant: 'acme', roles: ['agent'] };
const DAY_MS = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

const stores: SqliteStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
});

class MemoryWitness implements CheckpointWitness {
  readonly location = 'memory';
  readonly lines: AuditCheckpoint[] = [];
  failing = false;

  append(checkpoint: AuditCheckpoint): Promise<void> {
    if (this.failing) return Promise.reject(new Error('disk full'));
    this.lines.push(checkpoint);
    return Promise.resolve();
  }

  read(): Promise<readonly AuditCheckpoint[]> {
    return Promise.resolve([...this.lines]);
  }
}

function events(n: number, at: string): UnsealedEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    at,
    type: 'job.decided',
    tenant_id: 'default',
    trace_id: `trace-${String(i)}`,
    job_id: null,
    actor: 'dev',
    data: { i },
  }));
}

function setup(settings: CheckpointSettings = {}) {
  const store = new SqliteStore({ path: ':memory:' });
  stores.push(store);
  const clock = { ms: T0, now: () => new Date(clock.ms).toISOString() };
  const signer = ephemeralSigningKey();
  const witness = new MemoryWitness();
  const checkpointer = new AuditCheckpointer({ store, clock, signer, witness, settings });
  const audit = new AuditService(store, nativeSha256, { publicKeys: [signer.publicKey], witness });
  const append = (n: number): Promise<unknown> => store.appendAudit(events(n, clock.now()));
  return { store, clock, signer, witness, checkpointer, audit, append };
}

/** `store` with `method` replaced; every other call goes to the store itself. */
function intercept<K extends keyof Store>(store: Store, method: K, replacement: Store[K]): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === method) return replacement;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

describe('audit checkpointer', () => {
  it('signs the head at once, then every N events or after the interval if the chain grew', async () => {
    const { store, clock, signer, witness, checkpointer, append } = setup({
      everyEvents: 10,
      everyMs: 60_000,
    });
    assert.equal(await checkpointer.checkpointIfDue(), null, 'nothing to sign yet');
    await append(1);
    const first = await checkpointer.checkpointIfDue();
    assert.equal(first?.seq, 1);

    await append(5);
    clock.ms += 59_999;
    assert.equal(await checkpointer.checkpointIfDue(), null, '5 events, under a minute');
    await append(5);
    const byCount = await checkpointer.checkpointIfDue();
    assert.equal(byCount?.seq, 11);

    clock.ms += 120_000;
    assert.equal(await checkpointer.checkpointIfDue(), null, 'the interval passed, but no growth');
    await append(1);
    const byTime = await checkpointer.checkpointIfDue();
    assert.equal(byTime?.seq, 12);
    assert.equal(byTime.at, clock.now(), 'at is the checkpoint time');

    const head = await store.auditHead();
    assert.equal(byTime.hash, head?.hash);
    assert.equal(byTime.key_id, signer.keyId);
    assert.ok(signer.publicKey.verify(checkpointPayload(byTime), byTime.signature));
    const stored = await store.listCheckpoints({ limit: 10 });
    assert.deepEqual(stored, [first, byCount, byTime]);
    assert.deepEqual(witness.lines, stored, 'the witness holds each checkpoint');
  });

  it('signs the head at shutdown whenever the chain grew, whatever the cadence', async () => {
    const { checkpointer, append } = setup({ everyEvents: 1000 });
    await append(1);
    await checkpointer.checkpointIfDue();
    await append(2);
    assert.equal(await checkpointer.checkpointIfDue(), null);
    assert.equal((await checkpointer.checkpointHead())?.seq, 3);
    assert.equal(await checkpointer.checkpointHead(), null, 'nothing new to cover');
  });

  it('writes the witness first: a failed witness leaves no checkpoint in the store', async () => {
    const { store, witness, checkpointer, append } = setup();
    await append(3);
    witness.failing = true;
    await assert.rejects(checkpointer.checkpointIfDue(), /disk full/);
    assert.equal(await store.latestCheckpoint(), null);
    witness.failing = false;
    assert.equal((await checkpointer.checkpointIfDue())?.seq, 3);
  });

  it('runs as a background task: a checkpoint, then retention; neither when nothing is due', async () => {
    const { store, clock, checkpointer, append, audit } = setup({ everyEvents: 10 });
    await append(10);
    await checkpointer.run(new AbortController().signal);
    await append(10);
    await checkpointer.run(new AbortController().signal);
    assert.deepEqual(
      (await store.listCheckpoints({ limit: 10 })).map((c) => c.seq),
      [10, 20],
    );
    clock.ms += 401 * DAY_MS;
    await append(1);
    const stopping = new AbortController();
    stopping.abort();
    await checkpointer.run(stopping.signal);
    assert.equal(
      (await store.queryAudit({ limit: 1 }))[0]?.seq,
      1,
      'a stopping loop prunes nothing',
    );
    assert.equal((await store.latestCheckpoint())?.seq, 21, 'the interval passed: signed');
    await checkpointer.run(new AbortController().signal);
    // Pruned through 20 (21 is the head): the trail now starts at 21, anchored at 20.
    assert.equal((await store.queryAudit({ limit: 1 }))[0]?.seq, 21);
    const verdict = await audit.verify(AUDITOR);
    assert.equal(verdict.ok, true, verdict.reason);
    assert.equal(verdict.count, 2, 'seq 21 and the audit.pruned record');
  });

  it('keeps everything when retention is off, and never prunes through the head', async () => {
    const off = setup({ everyEvents: 5, retentionDays: null });
    await off.append(5);
    await off.checkpointer.run(new AbortController().signal);
    off.clock.ms += 1000 * DAY_MS;
    await off.append(5);
    await off.checkpointer.run(new AbortController().signal);
    assert.equal((await off.store.queryAudit({ limit: 1 }))[0]?.seq, 1);

    const { checkpointer, clock, append } = setup({ everyEvents: 5 });
    await append(5);
    await checkpointer.checkpointIfDue();
    clock.ms += 1000 * DAY_MS;
    assert.equal(await checkpointer.pruneExpired(), null, 'the only checkpoint is the head');
  });
});

describe('verification on a live trail', () => {
  it('ignores checkpoints signed after it began, so they never pass for truncation', async () => {
    const { store, checkpointer, append, signer, witness } = setup({ everyEvents: 1 });
    await append(20);
    await checkpointer.checkpointIfDue();
    let grown = false;
    const live = intercept(store, 'queryAudit', async (query) => {
      const page = await store.queryAudit(query);
      if (!grown && query.after_seq === 0 && query.limit > 1) {
        grown = true;
        // The gateway appends and checkpoints after this page was read.
        await append(5);
        assert.equal((await checkpointer.checkpointIfDue())?.seq, 25);
      }
      return page;
    });
    const verdict = await new AuditService(live, nativeSha256, {
      publicKeys: [signer.publicKey],
      witness,
    }).verify(AUDITOR);
    assert.ok(grown);
    assert.deepEqual(verdict, {
      ok: true,
      count: 20,
      first_bad_seq: null,
      reason: 'chain intact',
      checkpoints: 1,
    });
  });

  it('reads again when retention pruned the start of the trail while it was read', async () => {
    const { store, clock, checkpointer, signer, witness } = setup({ everyEvents: 1000 });
    for (let i = 0; i < 12; i++) {
      await store.appendAudit(events(1000, clock.now()));
      await checkpointer.checkpointIfDue();
    }
    clock.ms += 401 * DAY_MS;
    let pruned = false;
    const live = intercept(store, 'queryAudit', async (query) => {
      const page = await store.queryAudit(query);
      if (!pruned && query.after_seq === 0 && query.limit > 1) {
        pruned = true;
        // Through 11000: the next page would start after a gap.
        assert.equal((await checkpointer.pruneExpired())?.through_seq, 11_000);
      }
      return page;
    });
    const verdict = await new AuditService(live, nativeSha256, {
      publicKeys: [signer.publicKey],
      witness,
    }).verify(AUDITOR);
    assert.ok(pruned);
    assert.equal(verdict.ok, true, verdict.reason);
    assert.equal(verdict.count, 1001, 'seqs 11001..12000 and the audit.pruned record');
  });
});

describe('audit public key', () => {
  it('is served to auditors and admins, and is not found without a key', () => {
    const { audit, signer, store } = setup();
    assert.deepEqual(audit.publicKey(AUDITOR), {
      key_id: signer.keyId,
      public_key_pem: signer.publicKey.pem,
    });
    assert.throws(
      () => audit.publicKey(AGENT),
      (error: unknown) => error instanceof WardenError && error.code === 'WARDEN_FORBIDDEN',
    );
    assert.throws(
      () => new AuditService(store, nativeSha256).publicKey(AUDITOR),
      (error: unknown) => error instanceof WardenError && error.code === 'WARDEN_NOT_FOUND',
    );
  });
});
