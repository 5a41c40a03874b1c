/**
 * The SQLite adapter: the store conformance suite, plus what only SQLite has (a file, migrations,
 * triggers that keep the audit table append-only).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/adapters/sqlite/migrations.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { WardenError } from '../../src/core/errors.js';
import { describeStoreConformance, sampleJob } from '../conformance/store.js';

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

  it('checkpoints the WAL back into the database file as it grows', async () => {
    const path = tempDb();
    const store = new SqliteStore({ path });
    const initial = statSync(path).size;
    // About 6 MB of jobs: past SQLite's automatic checkpoint threshold of 1000 pages (4 MB).
    const payload = { text: 'x'.repeat(4000) };
    for (let round = 0; round < 6; round++) {
      await Promise.all(
        Array.from({ length: 250 }, () => store.insertJob({ ...sampleJob(), payload }, [])),
      );
    }
    assert.ok(statSync(path).size > initial, 'the database file never received the WAL pages');
    assert.ok(statSync(`${path}-wal`).size < 8 * 1024 * 1024, 'the WAL kept growing');
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
