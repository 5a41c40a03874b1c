import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  as,
  seedPolicy,
  seedSource,
  testGateway,
  tokenAuthenticator,
} from '../support/http-server.js';

const ALLOW_ALL = 'version: v1\ndefault_decision: allow\nrules: []\n';
const BROKEN = `version: v1
rules:
  - id: r1
    match: {topics: ["job.*"]}
    decision: maybe
    reason: x
`;

interface PolicyBody {
  seq: number;
  snapshot: string;
  source: string;
  origin: string;
  author: string;
  message: string;
}

const submitRead = { topic: 'job.mcp-bridge.write.update_ticket', risk_tags: ['prod'] };

describe('policy lifecycle over HTTP', () => {
  it('serves the starting policy with its snapshot and author', async () => {
    const { app } = await testGateway({ authenticator: tokenAuthenticator });
    const response = await app.inject({ url: '/api/v1/policy', headers: as('admin-all') });
    assert.equal(response.statusCode, 200);
    const body = response.json<PolicyBody>();
    assert.equal(body.snapshot, seedPolicy.snapshot);
    assert.equal(body.source, seedSource);
    assert.equal(body.origin, 'start');
    assert.equal(body.author, 'system');
    for (const id of ['agent-acme', 'approver-acme', 'auditor-acme']) {
      const denied = await app.inject({ url: '/api/v1/policy', headers: as(id) });
      assert.equal(denied.statusCode, 403, id);
    }
  });

  it('replaces the policy, decides with it at once, and audits the change with its author', async () => {
    const { app } = await testGateway({ authenticator: tokenAuthenticator });
    const before = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('agent-acme'),
      payload: submitRead,
    });
    assert.equal(before.json<{ state: string }>().state, 'APPROVAL_REQUIRED');

    const put = await app.inject({
      method: 'PUT',
      url: '/api/v1/policy',
      headers: as('admin-all'),
      payload: { source: ALLOW_ALL, message: 'open everything for the demo' },
    });
    assert.equal(put.statusCode, 200);
    const { changed, policy } = put.json<{ changed: boolean; policy: PolicyBody }>();
    assert.equal(changed, true);
    assert.equal(policy.origin, 'api');
    assert.equal(policy.author, 'admin-all');
    assert.equal(policy.message, 'open everything for the demo');

    const after = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('agent-acme'),
      payload: submitRead,
    });
    const decided = after.json<{ state: string; decision: { policy_snapshot: string } }>();
    assert.equal(decided.state, 'QUEUED');
    assert.equal(decided.decision.policy_snapshot, policy.snapshot);

    const events = await app.inject({
      url: '/api/v1/audit?type=policy.activated',
      headers: as('auditor-all'),
    });
    const activated = events.json<{
      items: { actor: string; data: { snapshot: string; previous: string } }[];
    }>();
    assert.deepEqual(
      activated.items.map((e) => [e.actor, e.data.snapshot, e.data.previous]),
      [
        ['system', seedPolicy.snapshot, null],
        ['admin-all', policy.snapshot, seedPolicy.snapshot],
      ],
    );

    // The same text again changes nothing and records nothing.
    const again = await app.inject({
      method: 'PUT',
      url: '/api/v1/policy',
      headers: as('admin-all'),
      payload: { source: ALLOW_ALL },
    });
    assert.equal(again.json<{ changed: boolean }>().changed, false);
  });

  it('accepts a raw YAML body with the message in the query', async () => {
    const { app } = await testGateway({ authenticator: tokenAuthenticator });
    const put = await app.inject({
      method: 'PUT',
      url: '/api/v1/policy?message=from%20curl',
      headers: { ...as('admin-all'), 'content-type': 'application/yaml' },
      payload: ALLOW_ALL,
    });
    assert.equal(put.statusCode, 200);
    assert.equal(put.json<{ policy: PolicyBody }>().policy.message, 'from curl');
  });

  it('refuses a policy that does not load, with locations, and keeps the active one serving', async () => {
    const { app } = await testGateway({ authenticator: tokenAuthenticator });
    const put = await app.inject({
      method: 'PUT',
      url: '/api/v1/policy',
      headers: as('admin-all'),
      payload: { source: BROKEN },
    });
    assert.equal(put.statusCode, 422);
    const error = put.json<{
      error: { code: string; details: { problems: { line: number; col: number; code: string }[] } };
    }>().error;
    assert.equal(error.code, 'WARDEN_POLICY_INVALID');
    assert.deepEqual(
      error.details.problems.map((p) => [p.code, p.line, p.col]),
      [['bad_value', 5, 15]],
    );
    const active = await app.inject({ url: '/api/v1/policy', headers: as('admin-all') });
    assert.equal(active.json<PolicyBody>().snapshot, seedPolicy.snapshot);
    const rejected = await app.inject({
      url: '/api/v1/audit?type=policy.rejected',
      headers: as('auditor-all'),
    });
    const items = rejected.json<{ items: { actor: string }[] }>().items;
    assert.deepEqual(
      items.map((e) => e.actor),
      ['admin-all'],
    );
  });

  it('lets only an all-tenant admin change the policy', async () => {
    const { app } = await testGateway({ authenticator: tokenAuthenticator });
    const put = await app.inject({
      method: 'PUT',
      url: '/api/v1/policy',
      headers: as('admin-acme'),
      payload: { source: ALLOW_ALL },
    });
    assert.equal(put.statusCode, 403);
    assert.equal(put.json<{ error: { code: string } }>().error.code, 'WARDEN_FORBIDDEN');
  });

  it('lists snapshots newest first and rolls back to an earlier one', async () => {
    const { app } = await testGateway({ authenticator: tokenAuthenticator });
    await app.inject({
      method: 'PUT',
      url: '/api/v1/policy',
      headers: as('admin-all'),
      payload: { source: ALLOW_ALL },
    });
    const history = await app.inject({
      url: '/api/v1/policy/snapshots?limit=1',
      headers: as('admin-all'),
    });
    const page1 = history.json<{
      items: { snapshot: string; active: boolean }[];
      next_cursor: string;
    }>();
    assert.equal(page1.items.length, 1);
    assert.equal(page1.items[0]?.active, true);
    const page2 = (
      await app.inject({
        url: `/api/v1/policy/snapshots?cursor=${page1.next_cursor}`,
        headers: as('admin-all'),
      })
    ).json<{ items: { snapshot: string; active: boolean }[]; next_cursor: string | null }>();
    assert.deepEqual(
      page2.items.map((i) => [i.snapshot, i.active]),
      [[seedPolicy.snapshot, false]],
    );
    assert.equal(page2.next_cursor, null);

    const rollback = await app.inject({
      method: 'POST',
      url: '/api/v1/policy/rollback',
      headers: as('admin-all'),
      payload: { snapshot: seedPolicy.snapshot, message: 'demo over' },
    });
    assert.equal(rollback.statusCode, 200);
    const restored = rollback.json<{ changed: boolean; policy: PolicyBody }>();
    assert.equal(restored.changed, true);
    assert.equal(restored.policy.origin, 'rollback');
    assert.equal(restored.policy.snapshot, seedPolicy.snapshot);
    const decided = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('agent-acme'),
      payload: submitRead,
    });
    assert.equal(decided.json<{ state: string }>().state, 'APPROVAL_REQUIRED');

    const unknown = await app.inject({
      method: 'POST',
      url: '/api/v1/policy/rollback',
      headers: as('admin-all'),
      payload: { snapshot: 'f'.repeat(64) },
    });
    assert.equal(unknown.statusCode, 404);
  });

  it('evaluates without recording, and explains every rule on request', async () => {
    const { app } = await testGateway({ authenticator: tokenAuthenticator });
    const plain = await app.inject({
      method: 'POST',
      url: '/api/v1/policy/evaluate',
      headers: as('agent-acme'),
      payload: { ...submitRead, labels: { 'mcp.action': 'write' } },
    });
    assert.equal(plain.statusCode, 200);
    const body = plain.json<{ decision: { type: string; rule_id: string }; rules?: unknown }>();
    assert.equal(body.decision.type, 'REQUIRE_APPROVAL');
    assert.equal(body.decision.rule_id, 'require-approval-prod-write');
    assert.equal(body.rules, undefined);

    const explained = await app.inject({
      method: 'POST',
      url: '/api/v1/policy/evaluate?explain=true',
      headers: as('admin-all'),
      payload: { topic: 'job.mcp-bridge.read.list' },
    });
    const { rules } = explained.json<{
      rules: { rule_id: string; matched: boolean; detail: string }[];
    }>();
    assert.deepEqual(
      rules.map((r) => r.rule_id),
      seedPolicy.spec.rules.map((r) => r.id),
    );
    assert.ok(rules.some((r) => r.matched));
    assert.ok(rules.filter((r) => !r.matched).every((r) => r.detail.length > 0));

    const jobs = await app.inject({ url: '/api/v1/jobs', headers: as('auditor-all') });
    assert.deepEqual(jobs.json<{ items: unknown[] }>().items, []);
    const approver = await app.inject({
      method: 'POST',
      url: '/api/v1/policy/evaluate',
      headers: as('approver-acme'),
      payload: submitRead,
    });
    assert.equal(approver.statusCode, 403);
  });
});
