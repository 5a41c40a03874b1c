/**
 * The profiles decisions see: registered profiles at once, another writer's changes after the
 * cache's time to live, and a bounded number of remembered lookups.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { AgentService } from '../../src/app/agents.js';
import type { AgentServiceDeps } from '../../src/app/agents.js';
import type { Principal } from '../../src/core/model/principal.js';
import type { AgentProfile } from '../../src/core/model/request.js';

const admin: Principal = { id: 'admin', tenant: 'acme', roles: ['admin'] };
const NOW = '2026-11-21T10:00:00.000Z';
const stores: SqliteStore[] = [];

after(async () => {
  await Promise.all(stores.map((store) => store.close()));
});

function setup(options: Partial<AgentServiceDeps> = {}): {
  agents: AgentService;
  store: SqliteStore;
  advance: (ms: number) => void;
} {
  const store = new SqliteStore({ path: ':memory:' });
  stores.push(store);
  let ms = 0;
  const agents = new AgentService({
    store,
    clock: { now: () => NOW },
    monotonicMs: () => ms,
    ...options,
  });
  return {
    agents,
    store,
    advance: (by) => {
      ms += by;
    },
  };
}

/** A profile written by someone else sharing the store (another gateway). */
async function writeBehindTheService(
  store: SqliteStore,
  agentId: string,
  risk: AgentProfile['risk_level'],
) {
  await store.putAgent(
    {
      tenant_id: 'acme',
      agent_id: agentId,
      profile: { risk_level: risk },
      updated_at: NOW,
      updated_by: 'elsewhere',
    },
    [],
  );
}

describe('agent profiles for decisions', () => {
  it('an unregistered agent has unknown risk; a registration applies to the next decision', async () => {
    const { agents } = setup();
    assert.deepEqual(await agents.profile('acme', 'bot'), { risk_level: 'unknown' });
    await agents.put(admin, 'bot', { risk_level: 'high' });
    assert.deepEqual(await agents.profile('acme', 'bot'), { risk_level: 'high' });
    // Profiles are per tenant.
    assert.deepEqual(await agents.profile('globex', 'bot'), { risk_level: 'unknown' });
  });

  it("another writer's change is seen once the time to live has passed", async () => {
    const { agents, store, advance } = setup({ profileTtlMs: 1000 });
    await agents.put(admin, 'bot', { risk_level: 'low' });
    await writeBehindTheService(store, 'bot', 'high');
    advance(999);
    assert.equal((await agents.profile('acme', 'bot')).risk_level, 'low');
    advance(1);
    assert.equal((await agents.profile('acme', 'bot')).risk_level, 'high');
  });

  it('remembers at most the configured number of lookups, dropping the oldest', async () => {
    const { agents, store } = setup({ profileCacheSize: 2, profileTtlMs: 60_000 });
    await agents.profile('acme', 'a');
    await agents.profile('acme', 'b');
    await agents.profile('acme', 'c'); // drops a
    await writeBehindTheService(store, 'a', 'high');
    await writeBehindTheService(store, 'c', 'high');
    assert.equal(
      (await agents.profile('acme', 'a')).risk_level,
      'high',
      'a was dropped, so re-read',
    );
    assert.equal((await agents.profile('acme', 'c')).risk_level, 'unknown', 'c is still cached');
  });
});
