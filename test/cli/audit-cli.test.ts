/**
 * `warden audit verify|export` through the built binary, on a real database file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { sampleJob } from '../conformance/store.js';
import { warden } from '../support/cli.js';

async function databaseWithEvents(count: number): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'warden-audit-cli-')), 'w.db');
  const store = new SqliteStore({ path });
  for (let i = 0; i < count; i++) {
    const job = sampleJob();
    await store.insertJob(job, [
      {
        at: `2026-11-2${String(i % 2)}T10:00:00.000Z`,
        type: 'job.decided',
        tenant_id: 'default',
        trace_id: job.trace_id,
        job_id: job.job_id,
        actor: 'dev',
        data: { i },
      },
    ]);
  }
  await store.close();
  return path;
}

describe('warden audit', () => {
  it('verify prints OK with the count, and the first bad seq after tampering (exit 1)', async () => {
    const path = await databaseWithEvents(6);
    const ok = warden('audit', 'verify', '--db', `sqlite:${path}`);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /^OK: 6 events, 0 signed checkpoints, chain intact$/m);
    const raw = new Database(path);
    raw.exec('DROP TRIGGER audit_no_delete');
    raw.prepare('DELETE FROM audit WHERE seq = 3').run();
    raw.close();
    const bad = warden('audit', 'verify', '--db', `sqlite:${path}`);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^BROKEN at seq 4: events 3\.\.3 are missing/m);
  });

  it('export writes every event as one JSON line, optionally since a time', async () => {
    const path = await databaseWithEvents(4);
    const out = join(mkdtempSync(join(tmpdir(), 'warden-export-')), 'audit.jsonl');
    const all = warden('audit', 'export', '--db', `sqlite:${path}`, '--to', out);
    assert.equal(all.code, 0, all.stderr);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { seq: number }).seq),
      [1, 2, 3, 4],
    );
    const since = warden(
      'audit',
      'export',
      '--db',
      `sqlite:${path}`,
      '--to',
      out,
      '--since',
      '2026-11-21T00:00:00Z',
    );
    assert.match(since.stdout, /exported 2 events/);
    assert.equal(
      warden('audit', 'export', '--db', `sqlite:${path}`, '--to', out, '--since', 'yesterday').code,
      2,
    );
  });
});
