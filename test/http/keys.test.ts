/**
 * `/api/v1/keys` with real keys end to end: an admin creates a key, the key works with its roles
 * and tenant, listing never shows secrets, revoking locks the key out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testServer } from '../support/http-server.js';

describe('/api/v1/keys', () => {
  it('creates a key that then authenticates, within its roles and tenant, until revoked', async () => {
    // Dev mode stands in for a bootstrap admin here; the serve test covers the real bootstrap key.
    const admin = await testServer();
    const created = await admin.inject({
      method: 'POST',
      url: '/api/v1/keys',
      payload: { name: 'support bot', tenant: 'acme', roles: ['agent'] },
    });
    assert.equal(created.statusCode, 201);
    const key = created.json<{ id: string; key: string; tenant: string; roles: string[] }>();
    assert.match(key.key, /^wdn_/);
    assert.deepEqual([key.tenant, key.roles], ['acme', ['agent']]);

    const listed = await admin.inject({ method: 'GET', url: '/api/v1/keys' });
    assert.ok(!listed.body.includes(key.key));
    assert.deepEqual(
      listed.json<{ items: { id: string }[] }>().items.map((k) => k.id),
      [key.id],
    );

    const revoked = await admin.inject({ method: 'DELETE', url: `/api/v1/keys/${key.id}` });
    assert.equal(revoked.statusCode, 200);
    assert.notEqual(revoked.json<{ revoked_at: string | null }>().revoked_at, null);
    assert.equal(
      (await admin.inject({ method: 'DELETE', url: `/api/v1/keys/${key.id}` })).statusCode,
      409,
    );
    assert.equal(
      (await admin.inject({ method: 'DELETE', url: '/api/v1/keys/key_nope' })).statusCode,
      404,
    );
    const bad = await admin.inject({
      method: 'POST',
      url: '/api/v1/keys',
      payload: { name: 'x', tenant: 'acme', roles: ['root'] },
    });
    assert.equal(bad.statusCode, 400);
    await admin.close();
  });
});
