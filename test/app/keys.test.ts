/**
 * API keys over the real SQLite store: secrets shown once and stored hashed, authentication,
 * revocation, tenant rules, bootstrap.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { nativeSha256 } from '../../src/adapters/system/native-sha256.js';
import { createRandomIds } from '../../src/adapters/system/random-ids.js';
import { systemClock } from '../../src/adapters/system/system-clock.js';
import { KeyService, SYSTEM_PRINCIPAL } from '../../src/app/keys.js';
import { WardenError } from '../../src/core/errors.js';
import type { Principal } from '../../src/core/model/principal.js';

const stores: SqliteStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
});

function setup(): { keys: KeyService; store: SqliteStore } {
  const store = new SqliteStore({ path: ':memory:' });
  stores.push(store);
  return {
    keys: new KeyService({
      store,
      clock: systemClock,
      ids: createRandomIds(),
      sha256: nativeSha256,
    }),
    store,
  };
}

const rejectsWith = (code: string) => (error: unknown) =>
  error instanceof WardenError && error.code === code;

describe('API keys', () => {
  it('returns the secret once, stores only its hash, and authenticates with it', async () => {
    const { keys, store } = setup();
    const created = await keys.create(SYSTEM_PRINCIPAL, {
      name: 'bot',
      tenant: 'acme',
      roles: ['agent'],
    });
    assert.match(created.key, /^wdn_[A-Za-z0-9_-]{43}$/);
    const [stored] = await store.listKeys();
    assert.equal(stored?.hash, nativeSha256(created.key));
    assert.ok(!JSON.stringify(await store.listKeys()).includes(created.key));
    assert.ok(
      !JSON.stringify(await keys.list(SYSTEM_PRINCIPAL)).includes(nativeSha256(created.key)),
    );
    assert.deepEqual(await keys.authenticate(`Bearer ${created.key}`), {
      id: created.id,
      tenant: 'acme',
      roles: ['agent'],
    });
    const events = await store.queryAudit({ type: 'key.created', limit: 10 });
    assert.equal(events.length, 1);
    assert.ok(!JSON.stringify(events).includes(created.key));
  });

  it('refuses missing, malformed, unknown and revoked keys', async () => {
    const { keys } = setup();
    const created = await keys.create(SYSTEM_PRINCIPAL, {
      name: 'bot',
      tenant: 'acme',
      roles: ['agent'],
    });
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Basic abc',
      `Bearer ${created.key}x`,
      `Bearer wdn_${'A'.repeat(43)}`,
    ]) {
      assert.equal(await keys.authenticate(header), null, String(header));
    }
    await keys.revoke(SYSTEM_PRINCIPAL, created.id);
    assert.equal(await keys.authenticate(`Bearer ${created.key}`), null);
    await assert.rejects(
      keys.revoke(SYSTEM_PRINCIPAL, created.id),
      rejectsWith('WARDEN_INVALID_STATE'),
    );
  });

  it('keeps tenant admins inside their tenant', async () => {
    const { keys } = setup();
    const acmeAdmin: Principal = { id: 'a', tenant: 'acme', roles: ['admin'] };
    const globexKey = await keys.create(SYSTEM_PRINCIPAL, {
      name: 'g',
      tenant: 'globex',
      roles: ['agent'],
    });
    await keys.create(acmeAdmin, { name: 'ok', tenant: 'acme', roles: ['agent'] });
    await assert.rejects(
      keys.create(acmeAdmin, { name: 'x', tenant: 'globex', roles: ['agent'] }),
      rejectsWith('WARDEN_FORBIDDEN'),
    );
    await assert.rejects(
      keys.create(acmeAdmin, { name: 'x', tenant: '*', roles: ['admin'] }),
      rejectsWith('WARDEN_FORBIDDEN'),
    );
    assert.deepEqual(
      (await keys.list(acmeAdmin)).map((k) => k.tenant),
      ['acme'],
    );
    await assert.rejects(keys.revoke(acmeAdmin, globexKey.id), rejectsWith('WARDEN_NOT_FOUND'));
    const agent: Principal = { id: 'b', tenant: 'acme', roles: ['agent'] };
    await assert.rejects(keys.list(agent), rejectsWith('WARDEN_FORBIDDEN'));
  });

  it('bootstraps one admin key on an empty store, and only then', async () => {
    const { keys } = setup();
    const first = await keys.bootstrap();
    assert.ok(first !== null);
    assert.deepEqual(first.roles, ['admin']);
    assert.equal(first.tenant, '*');
    assert.equal(await keys.bootstrap(), null);
    assert.deepEqual(await keys.authenticate(`Bearer ${first.key}`), {
      id: first.id,
      tenant: '*',
      roles: ['admin'],
    });
  });
});
