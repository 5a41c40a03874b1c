/**
 * `warden audit verify` with signed checkpoints and `warden audit public-key`, through the built
 * binary on a real database file whose key and witness sit where the gateway puts them.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { nativeSha256 } from '../../src/adapters/system/native-sha256.js';
import { AuditCheckpointer } from '../../src/app/audit-checkpoints.js';
import { eventHash } from '../../src/core/audit/chain.js';
import type { AuditEvent } from '../../src/core/audit/chain.js';
import { defaultAuditKeyLocation, openAuditTrust } from '../../src/main/audit-key-location.js';
import { parseStoreLocation } from '../../src/main/store-location.js';
import { warden } from '../support/cli.js';

interface Fixture {
  readonly db: string;
  readonly keyFile: string;
  readonly witnessFile: string;
}

/** 30 events, checkpointed at 10, 20 and 30 with the default key and witness beside the file. */
async function checkpointedDatabase(): Promise<Fixture> {
  const path = join(mkdtempSync(join(tmpdir(), 'warden-verify-cli-')), 'warden.db');
  const location = parseStoreLocation(`sqlite:${path}`);
  const { signer, witness } = openAuditTrust(location);
  const store = new SqliteStore({ path });
  const checkpointer = new AuditCheckpointer({
    store,
    clock: { now: () => '2026-11-21T10:00:00.000Z' },
    signer,
    witness,
    settings: { everyEvents: 10 },
  });
  for (let batch = 0; batch < 3; batch++) {
    await store.appendAudit(
      Array.from({ length: 10 }, (_, i) => ({
        at: '2026-11-21T10:00:00.000Z',
        type: 'job.decided',
        tenant_id: 'default',
        trace_id: `trace-${String(batch)}-${String(i)}`,
        job_id: null,
        actor: 'dev',
        data: { batch, i },
      })),
    );
    await checkpointer.checkpointIfDue();
  }
  await store.close();
  const defaults = defaultAuditKeyLocation(location);
  assert.ok(defaults);
  return { db: `sqlite:${path}`, ...defaults };
}

function tamper(fixture: Fixture, sql: (db: Database.Database) => void): void {
  const db = new Database(fixture.db.slice('sqlite:'.length));
  db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
  sql(db);
  db.close();
}

describe('warden audit verify with signed checkpoints', () => {
  it('prints OK with the events and checkpoints, using the key and witness beside the database', async () => {
    const { db } = await checkpointedDatabase();
    const ok = warden('audit', 'verify', '--db', db);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^OK: 30 events, 3 signed checkpoints, chain intact$/m);
  });

  it('catches a rewrite with recomputed hashes (exit 1), which --skip-checkpoints cannot', async () => {
    const fixture = await checkpointedDatabase();
    tamper(fixture, (db) => {
      const rows = db.prepare('SELECT * FROM audit WHERE seq >= 13 ORDER BY seq').all() as (Omit<
        AuditEvent,
        'data'
      > & { data: string })[];
      let prev = rows[0]?.prev_hash ?? '';
      const update = db.prepare(
        'UPDATE audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?',
      );
      for (const row of rows) {
        const actor = row.seq === 13 ? 'mallory' : row.actor;
        const hash = eventHash(
          { ...row, actor, prev_hash: prev, data: JSON.parse(row.data) as unknown },
          nativeSha256,
        );
        update.run(actor, prev, hash, row.seq);
        prev = hash;
      }
    });
    const bad = warden('audit', 'verify', '--db', fixture.db);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stdout,
      /^BROKEN at seq 11: events 11\.\.20 do not match the checkpoint signed at seq 20 .*\(10 events verified before it\)$/m,
    );
    const chainOnly = warden('audit', 'verify', '--db', fixture.db, '--skip-checkpoints');
    assert.equal(chainOnly.code, 0);
    assert.match(chainOnly.stdout, /^OK: 30 events, checkpoints skipped, chain intact$/m);
  });

  it('catches a deleted tail and its checkpoint rows through the witness file', async () => {
    const fixture = await checkpointedDatabase();
    tamper(fixture, (db) => {
      db.prepare('DELETE FROM audit WHERE seq > 20').run();
      db.prepare('DELETE FROM audit_checkpoints WHERE seq > 20').run();
    });
    const bad = warden('audit', 'verify', '--db', fixture.db);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^BROKEN at seq 21: .*events 21\.\.30 are missing \(truncated\)/m);
    const empty = join(dirname(fixture.keyFile), 'other.jsonl');
    writeFileSync(empty, '');
    const elsewhere = warden('audit', 'verify', '--db', fixture.db, '--checkpoints', empty);
    assert.equal(elsewhere.code, 0, 'another witness file, given explicitly, is the one read');
    const missing = warden('audit', 'verify', '--db', fixture.db, '--checkpoints', `${empty}.x`);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read checkpoint file .*: no such file/);
  });

  it('without a public key does not pass checkpoints silently: exit 1 unless --skip-checkpoints', async () => {
    const fixture = await checkpointedDatabase();
    const printed = warden('audit', 'public-key', '--db', fixture.db);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(
      printed.stdout,
      /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/,
    );
    assert.match(printed.stderr, /^key_id [0-9a-f]{16} /m);
    const publicKey = join(mkdtempSync(join(tmpdir(), 'warden-auditor-')), 'audit.pub');
    writeFileSync(publicKey, printed.stdout);

    // The auditor has the database and the public key, not the private key.
    const moved = join(dirname(publicKey), 'audit-signing.key');
    renameSync(fixture.keyFile, moved);
    const unverified = warden('audit', 'verify', '--db', fixture.db);
    assert.equal(unverified.code, 1);
    assert.match(
      unverified.stdout,
      /^UNVERIFIED: chain intact, but 3 checkpoint\(s\) could not be checked: no public key.*--public-key FILE.*--skip-checkpoints/m,
    );
    const withPublic = warden('audit', 'verify', '--db', fixture.db, '--public-key', publicKey);
    assert.equal(withPublic.code, 0, withPublic.stdout);
    assert.match(withPublic.stdout, /^OK: 30 events, 3 signed checkpoints, chain intact$/m);
    const skipped = warden('audit', 'verify', '--db', fixture.db, '--skip-checkpoints');
    assert.equal(skipped.code, 0);
    assert.match(skipped.stdout, /^OK: 30 events, checkpoints skipped, chain intact$/m);

    // The private key, given explicitly wherever it is, checks them too.
    const withKey = warden('audit', 'verify', '--db', fixture.db, '--key', moved);
    assert.equal(withKey.code, 0, withKey.stdout);
    assert.match(withKey.stdout, /^OK: 30 events, 3 signed checkpoints, chain intact$/m);
    const both = warden(
      'audit',
      'verify',
      '--db',
      fixture.db,
      '--key',
      moved,
      '--public-key',
      publicKey,
    );
    assert.equal(both.code, 2);
  });

  it('refuses a key file others can read (exit 2, saying to chmod 600), and a missing one', async () => {
    const fixture = await checkpointedDatabase();
    chmodSync(fixture.keyFile, 0o644);
    const verify = warden('audit', 'verify', '--db', fixture.db);
    assert.equal(verify.code, 2);
    assert.match(
      verify.stderr,
      new RegExp(`readable by group or others.*chmod 600 ${fixture.keyFile}`),
    );
    const publicKey = warden('audit', 'public-key', '--db', fixture.db);
    assert.equal(publicKey.code, 2);
    assert.match(publicKey.stderr, /chmod 600/);
    const none = warden('audit', 'public-key', '--key', `${fixture.keyFile}.missing`);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no audit signing key at /);
  });
});
