/**
 * Signed checkpoints against a real SQLite file, tampered with the way someone with access to
 * the file would: open it with better-sqlite3, drop the append-only triggers, and edit, delete,
 * reorder or rewrite rows (recomputing hashes when that helps them), with or without the
 * checkpoint rows. Each case names the first bad seq verification must report. Also retention
 * pruning: the trail verifies from its anchor, and not once the anchor is gone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { AuditRow } from '../../src/adapters/sqlite/rows.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { ephemeralSigningKey } from '../../src/adapters/system/ed25519-key.js';
import { nativeSha256 } from '../../src/adapters/system/native-sha256.js';
import { witnessFile } from '../../src/adapters/system/witness-file.js';
import { AuditService } from '../../src/app/audit.js';
import type { AuditVerification } from '../../src/app/audit.js';
import { AuditCheckpointer } from '../../src/app/audit-checkpoints.js';
import { eventHash, GENESIS_HASH } from '../../src/core/audit/chain.js';
import type { UnsealedEvent } from '../../src/core/audit/chain.js';
import { checkpointPayload } from '../../src/core/audit/checkpoint.js';
import type { AuditCheckpoint } from '../../src/core/audit/checkpoint.js';
import { WardenError } from '../../src/core/errors.js';
import type { Principal } from '../../src/core/model/principal.js';
import { openAuditTrust } from '../../src/main/audit-key-location.js';
import { parseStoreLocation } from '../../src/main/store-location.js';
import type { AuditSigner } from '../../src/ports/audit-signer.js';

const AUDITOR: Principal = { id: 'auditor', tenant: '*', roles: ['auditor'] };
const DAY_MS = 86_400_000;
const T0 = Date.parse('2025-01-01T00:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

interface Trail {
  readonly path: string;
  readonly witnessPath: string;
  readonly signer: AuditSigner;
}

function event(i: number, at: string): UnsealedEvent {
  return {
    at,
    type: 'job.decided',
    tenant_id: 'default',
    trace_id: `trace-${String(i)}`,
    job_id: `job-${String(i)}`,
    actor: 'dev',
    data: { i },
  };
}

/**
 * 55 events, appended 10 at a time, with a checkpoint after each ten (at 10, 20, 30, 40, 50)
 * through the gateway's default key and witness beside the file; 51..55 are not checkpointed.
 * Checkpoints up to `oldThrough` are signed at T0, later ones 500 days on.
 */
async function buildTrail(oldThrough = 0): Promise<Trail> {
  const path = join(mkdtempSync(join(tmpdir(), 'warden-cp-')), 'warden.db');
  const { signer, witness } = openAuditTrust(parseStoreLocation(`sqlite:${path}`));
  assert.ok(witness);
  let now = T0;
  const store = new SqliteStore({ path });
  const checkpointer = new AuditCheckpointer({
    store,
    clock: { now: () => iso(now) },
    signer,
    witness,
    settings: { everyEvents: 10, everyMs: 3_650 * DAY_MS },
  });
  try {
    for (let batch = 0; batch < 6; batch++) {
      const size = batch === 5 ? 5 : 10;
      now = (batch + 1) * 10 <= oldThrough || batch === 0 ? T0 : T0 + 500 * DAY_MS;
      await store.appendAudit(
        Array.from({ length: size }, (_, i) => event(batch * 10 + i + 1, iso(now))),
      );
      await checkpointer.checkpointIfDue();
    }
    assert.deepEqual(
      (await store.listCheckpoints({ limit: 100 })).map((c) => c.seq),
      [10, 20, 30, 40, 50],
    );
  } finally {
    await store.close();
  }
  return { path, witnessPath: witness.location, signer };
}

async function verify(
  trail: Trail,
  options: { witness?: boolean; skipCheckpoints?: boolean } = {},
): Promise<AuditVerification> {
  const store = new SqliteStore({ path: trail.path });
  try {
    return await new AuditService(store, nativeSha256, {
      publicKeys: [trail.signer.publicKey],
      witness: options.witness === false ? null : witnessFile(trail.witnessPath),
    }).verify(AUDITOR, { skipCheckpoints: options.skipCheckpoints === true });
  } finally {
    await store.close();
  }
}

/** Opens the file as an attacker would: the append-only triggers dropped first. */
function tamper(trail: Trail, edit: (db: Database.Database) => void): void {
  const db = new Database(trail.path);
  try {
    db.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;');
    edit(db);
  } finally {
    db.close();
  }
}

/** Edits the actor of `seq` and recomputes every hash from there on, so the chain links. */
function rewriteFrom(db: Database.Database, seq: number): Map<number, string> {
  const before = db.prepare('SELECT hash FROM audit WHERE seq = ?').get(seq - 1) as
    { hash: string } | undefined;
  let prev = before?.hash ?? GENESIS_HASH;
  const rows = db.prepare('SELECT * FROM audit WHERE seq >= ? ORDER BY seq').all(seq) as AuditRow[];
  const update = db.prepare('UPDATE audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?');
  const hashes = new Map<number, string>();
  for (const row of rows) {
    const actor = row.seq === seq ? 'mallory' : row.actor;
    const hash = eventHash(
      { ...row, actor, prev_hash: prev, data: JSON.parse(row.data) },
      nativeSha256,
    );
    update.run(actor, prev, hash, row.seq);
    hashes.set(row.seq, hash);
    prev = hash;
  }
  return hashes;
}

function expectBroken(result: AuditVerification, seq: number, reason: RegExp): void {
  assert.equal(result.ok, false, result.reason);
  assert.equal(result.first_bad_seq, seq, result.reason);
  assert.match(result.reason, reason);
}

describe('signed checkpoints over a SQLite file', () => {
  it('verifies an untouched trail: every event, each checkpoint seq once (store and witness)', async () => {
    const trail = await buildTrail();
    assert.equal(readFileSync(trail.witnessPath, 'utf8').trim().split('\n').length, 5);
    assert.deepEqual(await verify(trail), {
      ok: true,
      count: 55,
      first_bad_seq: null,
      reason: 'chain intact',
      checkpoints: 5,
    });
  });

  it('an edited row (data changed, hash left): that row', async () => {
    const trail = await buildTrail();
    tamper(trail, (db) => db.prepare(`UPDATE audit SET data = '{"i":999}' WHERE seq = 17`).run());
    expectBroken(await verify(trail), 17, /hash of seq 17 does not match its content/);
  });

  it('an edited row with every later hash recomputed: caught by the next checkpoint', async () => {
    const trail = await buildTrail();
    tamper(trail, (db) => rewriteFrom(db, 17));
    assert.equal((await verify(trail, { skipCheckpoints: true })).ok, true, 'the chain links');
    const result = await verify(trail);
    expectBroken(result, 11, /events 11\.\.20 do not match the checkpoint signed at seq 20/);
    assert.equal(result.checkpoints, 1);
  });

  it('a deleted row in the middle: the row after it', async () => {
    const trail = await buildTrail();
    tamper(trail, (db) => db.prepare('DELETE FROM audit WHERE seq = 23').run());
    expectBroken(await verify(trail), 24, /events 23\.\.23 are missing/);
  });

  it('deleted tail rows covered by a checkpoint: truncation at the first missing seq', async () => {
    const trail = await buildTrail();
    tamper(trail, (db) => db.prepare('DELETE FROM audit WHERE seq > 40').run());
    expectBroken(
      await verify(trail, { witness: false }),
      41,
      /events 41\.\.50 are missing \(truncated\)/,
    );
  });

  it('deleted tail rows and the checkpoint rows vouching for them: caught through the witness file', async () => {
    const trail = await buildTrail();
    tamper(trail, (db) => {
      db.prepare('DELETE FROM audit WHERE seq > 40').run();
      db.prepare('DELETE FROM audit_checkpoints WHERE seq > 40').run();
    });
    expectBroken(await verify(trail), 41, /events 41\.\.50 are missing \(truncated\)/);
    // The database alone agrees with itself: only the copy outside it tells.
    assert.equal((await verify(trail, { witness: false })).ok, true);
  });

  it('reordered rows (two seqs swapped): the first of them', async () => {
    const trail = await buildTrail();
    tamper(trail, (db) => {
      db.prepare('UPDATE audit SET seq = -5 WHERE seq = 5').run();
      db.prepare('UPDATE audit SET seq = 5 WHERE seq = 6').run();
      db.prepare('UPDATE audit SET seq = 6 WHERE seq = -5').run();
    });
    expectBroken(await verify(trail), 5, /seq 5/);
  });

  it('the whole table truncated: seq 1, through the checkpoint rows or else the witness', async () => {
    const trail = await buildTrail();
    tamper(trail, (db) => db.prepare('DELETE FROM audit').run());
    expectBroken(await verify(trail, { witness: false }), 1, /events 1\.\.50 are missing/);
    tamper(trail, (db) => db.prepare('DELETE FROM audit_checkpoints').run());
    expectBroken(await verify(trail), 1, /events 1\.\.50 are missing/);
  });

  it('a forged checkpoint signature over a rewritten chain: that checkpoint', async () => {
    const trail = await buildTrail();
    tamper(trail, (db) => {
      const hashes = rewriteFrom(db, 13);
      const update = db.prepare(
        'UPDATE audit_checkpoints SET hash = ?, signature = ? WHERE seq = ?',
      );
      for (const seq of [20, 30, 40, 50]) update.run(hashes.get(seq), 'Zm9yZ2Vk', seq);
    });
    const result = await verify(trail, { witness: false });
    expectBroken(result, 20, /checkpoint at seq 20 has a signature that does not verify/);
    assert.equal(result.checkpoints, 1);
  });

  it('checkpoints re-signed with another key, in the store and the witness: the first of them', async () => {
    const trail = await buildTrail();
    const mallory = ephemeralSigningKey();
    const resign = (c: AuditCheckpoint, hash: string): AuditCheckpoint => {
      const claim = { seq: c.seq, hash, at: c.at };
      return { ...claim, key_id: mallory.keyId, signature: mallory.sign(checkpointPayload(claim)) };
    };
    tamper(trail, (db) => {
      const hashes = rewriteFrom(db, 13);
      const rows = db
        .prepare('SELECT * FROM audit_checkpoints WHERE seq >= 20')
        .all() as AuditCheckpoint[];
      const update = db.prepare(
        'UPDATE audit_checkpoints SET hash = @hash, key_id = @key_id, signature = @signature WHERE seq = @seq',
      );
      const forged = rows.map((c) => resign(c, hashes.get(c.seq) ?? ''));
      for (const c of forged) update.run(c);
      const witnessed = readFileSync(trail.witnessPath, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as AuditCheckpoint)
        .map((c) => forged.find((f) => f.seq === c.seq) ?? c);
      writeFileSync(trail.witnessPath, witnessed.map((c) => `${JSON.stringify(c)}\n`).join(''));
    });
    expectBroken(await verify(trail), 20, new RegExp(`signed by unknown key ${mallory.keyId}`));
  });

  it('a head deleted without an anchor (not at a checkpoint): seq 1', async () => {
    const trail = await buildTrail();
    tamper(trail, (db) => db.prepare('DELETE FROM audit WHERE seq <= 12').run());
    expectBroken(await verify(trail), 1, /starts at seq 13 with no signed checkpoint at seq 12/);
  });
});

describe('retention pruning over a SQLite file', () => {
  async function pruned(): Promise<Trail> {
    const trail = await buildTrail(30);
    const store = new SqliteStore({ path: trail.path });
    try {
      const checkpointer = new AuditCheckpointer({
        store,
        clock: { now: () => iso(T0 + 501 * DAY_MS) },
        signer: trail.signer,
        witness: witnessFile(trail.witnessPath),
      });
      const calls: number[] = [];
      const prune = store.pruneAudit.bind(store);
      store.pruneAudit = (through: number) => {
        calls.push(through);
        return prune(through);
      };
      const outcome = await checkpointer.pruneExpired();
      assert.deepEqual(outcome, { through_seq: 30, events: 30 });
      assert.deepEqual(calls, [10, 20, 30], 'one checkpoint per transaction');
      const last = (await store.queryAudit({ after_seq: 55, limit: 10 }))[0];
      assert.equal(last?.type, 'audit.pruned');
      assert.deepEqual(last.data, { through_seq: 30, events: 30 });
      assert.equal(await checkpointer.pruneExpired(), null, 'nothing more is due');
    } finally {
      await store.close();
    }
    return trail;
  }

  it('keeps the trail verifiable from the anchor checkpoint', async () => {
    const trail = await pruned();
    const raw = new Database(trail.path, { readonly: true });
    assert.deepEqual(raw.prepare('SELECT min(seq) AS seq FROM audit').get(), { seq: 31 });
    assert.deepEqual(raw.prepare('SELECT min(seq) AS seq FROM audit_checkpoints').get(), {
      seq: 30,
    });
    raw.close();
    assert.deepEqual(await verify(trail), {
      ok: true,
      count: 26,
      first_bad_seq: null,
      reason: 'chain intact',
      checkpoints: 3,
    });
  });

  it('still refuses deleting rows above the pruned boundary, and pruning anywhere but a checkpoint below the head', async () => {
    const trail = await pruned();
    const raw = new Database(trail.path);
    assert.throws(() => raw.prepare('DELETE FROM audit WHERE seq = 31').run(), /append-only/);
    raw.close();
    const store = new SqliteStore({ path: trail.path });
    try {
      await assert.rejects(
        store.pruneAudit(35),
        (error: unknown) => error instanceof WardenError && error.code === 'WARDEN_INVALID_STATE',
      );
      await store.addCheckpoint({
        ...((await store.latestCheckpoint()) as AuditCheckpoint),
        seq: 56,
      });
      await assert.rejects(store.pruneAudit(56), /keeps the newest event/);
    } finally {
      await store.close();
    }
  });

  it('fails at seq 1 once the anchor checkpoint is deleted, even with the witness at hand', async () => {
    const trail = await pruned();
    tamper(trail, (db) => db.prepare('DELETE FROM audit_checkpoints WHERE seq = 30').run());
    expectBroken(await verify(trail), 1, /starts at seq 31 with no signed checkpoint at seq 30/);
  });
});
