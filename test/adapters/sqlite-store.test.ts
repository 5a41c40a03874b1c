/**
 * The SQLite adapter: the store conformance suite, plus what only SQLite has (a file, migrations,
 * triggers that keep the audit table append-only).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/adapters/sqlite/migrations.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { WardenError } from '../../src/core/errors.js';
import { describeStoreConformance, newApproval, sampleJob } from '../conformance/store.js';

const tempDb = (): string => join(mkdtempSync(join(tmpdir(), 'warden-sqlite-')), 'warden.db');

describeStoreConformance('sqlite', () => Promise.resolve(new SqliteStore({ path: tempDb() })));

describe('sqlite store', () => {
  it('keeps the audit table append-only at the storage level', async () => {
    const path = tempDb();
    const store = new SqliteStore({ path });
    const job = sampleJob();
    await store.insertJob(job, [
      {
        at: job.created_at,
        type: 'job.decided',
        tenant_id: 'default',
        trace_id: job.trace_id,
        job_id: job.job_id,
        actor: 'dev',
        data: {},
      },
    ]);
    await store.close();
    const raw = new Database(path);
    assert.throws(() => raw.prepare("UPDATE audit SET actor = 'mallory'").run(), /append-only/);
    assert.throws(() => raw.prepare('DELETE FROM audit').run(), /append-only/);
    raw.close();
  });

  it('keeps data and schema version across a reopen', async () => {
    const path = tempDb();
    const job = sampleJob();
    const first = new SqliteStore({ path });
    await first.insertJob(job, []);
    await first.close();
    const second = new SqliteStore({ path });
    assert.deepEqual(await second.getJob(job.job_id), job);
    await second.close();
    const raw = new Database(path, { readonly: true });
    assert.deepEqual(
      raw.prepare('SELECT version FROM schema_migrations ORDER BY version').all(),
      MIGRATIONS.map((m) => ({ version: m.version })),
    );
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();
  });

  it('counts pending approvals per tenant in the schema, back-filled when migrating', async () => {
    const path = tempDb();
    const store = new SqliteStore({ path });
    const jobs = [sampleJob({ tenant_id: 'acme' }), sampleJob({ tenant_id: 'acme' })];
    for (const job of [...jobs, sampleJob({ tenant_id: 'globex' })]) {
      await store.insertJob(job, [], newApproval(job, 10_000));
    }
    await store.close();
    // Turn the file back into a version-5 database: no counts table, no triggers.
    const raw = new Database(path);
    raw.exec(`
      DROP TRIGGER approvals_pending_insert;
      DROP TRIGGER approvals_pending_update;
      DROP TRIGGER approvals_pending_delete;
      DROP TABLE approvals_pending;
      DROP INDEX approvals_age;
      DELETE FROM schema_migrations WHERE version = 6;
    `);
    raw.close();
    const reopened = new SqliteStore({ path });
    assert.equal((await reopened.approvalQueue()).pending, 3);
    const counts = (): unknown => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare('SELECT tenant_id, pending FROM approvals_pending ORDER BY 1').all();
      } finally {
        db.close();
      }
    };
    assert.deepEqual(counts(), [
      { tenant_id: 'acme', pending: 2 },
      { tenant_id: 'globex', pending: 1 },
    ]);
    // Whoever changes a status, the triggers follow it: out of PENDING and back.
    const writer = new Database(path);
    writer.prepare("UPDATE approvals SET status = 'EXPIRED' WHERE job_id = ?").run(jobs[0]?.job_id);
    assert.deepEqual(counts(), [
      { tenant_id: 'acme', pending: 1 },
      { tenant_id: 'globex', pending: 1 },
    ]);
    writer.prepare("UPDATE approvals SET status = 'PENDING' WHERE job_id = ?").run(jobs[0]?.job_id);
    writer.close();
    assert.equal((await reopened.approvalQueue()).pending, 3);
    // The bound reads the counts: acme is at 2, so a bound of 2 turns the next one away.
    const third = sampleJob({ tenant_id: 'acme' });
    const outcome = await reopened.insertJob(third, [], newApproval(third, 2));
    assert.equal(outcome.kind === 'inserted' && outcome.job.state, 'DENIED');
    await reopened.close();
  });

  it('groups concurrent writes into few transactions', async () => {
    const store = new SqliteStore({ path: tempDb() });
    const jobs = Array.from({ length: 300 }, () => sampleJob());
    await Promise.all(jobs.map((job) => store.insertJob(job, [])));
    assert.equal((await store.listJobs({ limit: 1000 })).length, 300);
    assert.ok(
      store.transactionsCommitted <= 2,
      `${store.transactionsCommitted} transactions for 300 writes`,
    );
    await store.insertJob(sampleJob(), []);
    assert.equal(store.transactionsCommitted, 2);
    await store.close();
  });

  it('checkpoints the WAL back into the database file off the writer, keeping the WAL short', async () => {
    const path = tempDb();
    const store = new SqliteStore({ path });
    const initial = statSync(path).size;
    // About 1 MB of jobs: far below the writer's own automatic checkpoint (8,000 pages, 32 MB),
    // so only the checkpointer thread can bring these pages into the database file.
    const payload = { text: 'x'.repeat(4000) };
    const writeMegabyte = (): Promise<unknown> =>
      Promise.all(
        Array.from({ length: 250 }, () => store.insertJob({ ...sampleJob(), payload }, [])),
      );
    await writeMegabyte();
    const deadline = Date.now() + 5000;
    while (statSync(path).size <= initial && Date.now() < deadline) await delay(20);
    assert.ok(statSync(path).size > initial, 'the database file never received the WAL pages');
    // Once checkpointed, the WAL starts over instead of growing with every write.
    for (let round = 0; round < 10; round++) {
      await writeMegabyte();
      await delay(30);
    }
    const wal = statSync(`${path}-wal`).size;
    assert.ok(wal < 8 * 1024 * 1024, `the WAL grew to ${String(wal)} bytes for 11 MB written`);
    await store.close();
  });

  it('keeps the other writes of a batch when one of them fails', async () => {
    const store = new SqliteStore({ path: tempDb() });
    const key = {
      id: 'key_1',
      hash: 'c'.repeat(64),
      name: 'ci',
      tenant: 'acme',
      roles: ['agent' as const],
      created_at: '2026-11-21T10:00:00.000Z',
      created_by: 'system',
      revoked_at: null,
    };
    await store.insertKey(key, []);
    const before = store.transactionsCommitted;
    const [first, duplicate, second] = await Promise.allSettled([
      store.insertJob(sampleJob(), []),
      store.insertKey({ ...key, id: 'key_2' }, []),
      store.insertJob(sampleJob(), []),
    ]);
    assert.equal(first.status, 'fulfilled');
    assert.equal(duplicate.status, 'rejected');
    assert.equal(second.status, 'fulfilled');
    assert.equal(store.transactionsCommitted, before + 1);
    assert.equal((await store.listJobs({ limit: 10 })).length, 2);
    assert.equal((await store.listKeys()).length, 1);
    await store.close();
  });

  it('rejects writes with WARDEN_STORE_UNAVAILABLE when the database cannot be written', async () => {
    const path = tempDb();
    const store = new SqliteStore({ path });
    const blocker = new Database(path);
    blocker.pragma('busy_timeout = 0');
    blocker.exec('BEGIN EXCLUSIVE');
    const fastFail = new SqliteStore({ path, busyTimeoutMs: 0 });
    await assert.rejects(fastFail.insertJob(sampleJob(), []), (error: unknown) => {
      assert.ok(error instanceof WardenError);
      assert.equal(error.code, 'WARDEN_STORE_UNAVAILABLE');
      return true;
    });
    blocker.exec('ROLLBACK');
    blocker.close();
    assert.equal((await fastFail.insertJob(sampleJob(), [])).kind, 'inserted');
    await fastFail.close();
    await store.close();
  });
});
