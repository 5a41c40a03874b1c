/**
 * `warden keys create|list|revoke` through the built binary, and a created key used against the
 * store's authenticator.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { nativeSha256 } from '../../src/adapters/system/native-sha256.js';
import { createRandomIds } from '../../src/adapters/system/random-ids.js';
import { systemClock } from '../../src/adapters/system/system-clock.js';
import { KeyService } from '../../src/app/keys.js';
import { warden } from '../support/cli.js';

describe('warden keys', () => {
  it('creates (secret printed once), lists without secrets, and revokes', async () => {
    const db = `sqlite:${join(mkdtempSync(join(tmpdir(), 'warden-keys-')), 'w.db')}`;
    const created = warden(
      'keys',
      'create',
      '--name',
      'ci',
      '--tenant',
      'acme',
      '--roles',
      'agent,auditor',
      '--db',
      db,
    );
    assert.equal(created.code, 0, created.stderr);
    const [summary, secret] = created.stdout.trim().split('\n');
    const id = /^created (key_\S+) \(tenant acme, roles agent,auditor\)/.exec(summary ?? '')?.[1];
    assert.ok(id !== undefined, summary);
    assert.match(secret ?? '', /^wdn_[A-Za-z0-9_-]{43}$/);

    const store = new SqliteStore({ path: db.slice('sqlite:'.length) });
    const keys = new KeyService({
      store,
      clock: systemClock,
      ids: createRandomIds(),
      sha256: nativeSha256,
    });
    assert.deepEqual(await keys.authenticate(`Bearer ${secret ?? ''}`), {
      id,
      tenant: 'acme',
      roles: ['agent', 'auditor'],
    });

    const listed = warden('keys', 'list', '--db', db);
    assert.match(listed.stdout, new RegExp(`^${id}  acme  agent,auditor  ci  active$`, 'm'));
    assert.ok(!listed.stdout.includes(secret ?? '?'));
    assert.equal(warden('keys', 'revoke', id, '--db', db).code, 0);
    assert.match(warden('keys', 'list', '--db', db).stdout, new RegExp(`^${id} .* revoked `, 'm'));
    assert.equal(await keys.authenticate(`Bearer ${secret ?? ''}`), null);
    assert.equal(warden('keys', 'revoke', id, '--db', db).code, 1);
    await store.close();
  });

  it('refuses unknown roles with a clear message (exit 2)', () => {
    const db = `sqlite:${join(mkdtempSync(join(tmpdir(), 'warden-keys-')), 'w.db')}`;
    const result = warden(
      'keys',
      'create',
      '--name',
      'x',
      '--tenant',
      'acme',
      '--roles',
      'agent,root',
      '--db',
      db,
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown: root/);
  });
});
