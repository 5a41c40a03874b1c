import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { as, testGateway, tokenAuthenticator } from '../support/http-server.js';

const PROFILE_POLICY = `version: v1
default_decision: allow
rules:
  - id: high-risk-needs-review
    match: {topics: ["job.pay.*"], risk_levels: [high, critical]}
    decision: require_approval
    reason: high-risk agents need review
  - id: over-limit
    match: {topics: ["job.pay.*"], when: "payload.amount > agent.max_transaction_amount"}
    decision: deny
    reason: over the agent's limit
    severity: critical
`;

const THROTTLE_POLICY = `version: v1
default_decision: allow
rules:
  - id: burst
    match: {topics: ["job.write.*"]}
    decision: throttle
    reason: too many writes
    throttle: {limit: 2, window: 1m, key: [tenant_id, agent_id], retry_after_sec: 30}
`;

const pay = (amount: number) => ({ topic: 'job.pay.send', agent_id: 'payer', payload: { amount } });

describe('agent profiles feed decisions', () => {
  it('registers a profile per tenant and decides with it', async () => {
    const { app } = await testGateway({
      authenticator: tokenAuthenticator,
      policySource: PROFILE_POLICY,
    });
    // Unknown agent: risk level "unknown", no limit to compare with → the condition errors and
    // the deny rule applies (fail closed).
    const unknown = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('agent-acme'),
      payload: pay(10),
    });
    assert.equal(unknown.json<{ state: string }>().state, 'DENIED');

    const put = await app.inject({
      method: 'PUT',
      url: '/api/v1/agents/payer',
      headers: as('admin-acme'),
      payload: { risk_level: 'low', max_transaction_amount: 100, owner: 'payments' },
    });
    assert.equal(put.statusCode, 200);
    assert.equal(put.json<{ tenant_id: string }>().tenant_id, 'acme');
    const submit = async (amount: number) =>
      (
        await app.inject({
          method: 'POST',
          url: '/api/v1/jobs',
          headers: as('agent-acme'),
          payload: pay(amount),
        })
      ).json<{ state: string; decision: { rule_id: string | null } }>();
    assert.equal((await submit(50)).state, 'QUEUED');
    assert.equal((await submit(500)).decision.rule_id, 'over-limit');

    await app.inject({
      method: 'PUT',
      url: '/api/v1/agents/payer',
      headers: as('admin-acme'),
      payload: { risk_level: 'high', max_transaction_amount: 100 },
    });
    assert.equal((await submit(50)).state, 'APPROVAL_REQUIRED');

    // Another tenant's agent of the same name is a different agent.
    const globex = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('agent-globex'),
      payload: pay(50),
    });
    assert.equal(globex.json<{ state: string }>().state, 'DENIED');
  });

  it('reads profiles within the tenant only and keeps agents from writing them', async () => {
    const { app } = await testGateway({ authenticator: tokenAuthenticator });
    await app.inject({
      method: 'PUT',
      url: '/api/v1/agents/bot',
      headers: as('admin-all'),
      payload: { risk_level: 'medium', tenant_id: 'acme' },
    });
    await app.inject({
      method: 'PUT',
      url: '/api/v1/agents/bot',
      headers: as('admin-all'),
      payload: { risk_level: 'low', tenant_id: 'globex' },
    });
    const own = await app.inject({ url: '/api/v1/agents/bot', headers: as('auditor-acme') });
    assert.equal(own.json<{ profile: { risk_level: string } }>().profile.risk_level, 'medium');
    const list = await app.inject({ url: '/api/v1/agents', headers: as('auditor-acme') });
    assert.deepEqual(
      list.json<{ items: { tenant_id: string }[] }>().items.map((a) => a.tenant_id),
      ['acme'],
    );
    const all = await app.inject({ url: '/api/v1/agents?limit=1', headers: as('auditor-all') });
    const page = all.json<{ items: unknown[]; next_cursor: string }>();
    assert.equal(page.items.length, 1);
    const rest = await app.inject({
      url: `/api/v1/agents?cursor=${page.next_cursor}`,
      headers: as('auditor-all'),
    });
    assert.equal(rest.json<{ items: { tenant_id: string }[] }>().items[0]?.tenant_id, 'globex');
    const foreign = await app.inject({
      url: '/api/v1/agents/bot?tenant_id=globex',
      headers: as('auditor-acme'),
    });
    assert.equal(foreign.statusCode, 404);
    const byAgent = await app.inject({
      method: 'PUT',
      url: '/api/v1/agents/bot',
      headers: as('agent-acme'),
      payload: { risk_level: 'low' },
    });
    assert.equal(byAgent.statusCode, 403);
    const bad = await app.inject({
      method: 'PUT',
      url: '/api/v1/agents/bot',
      headers: as('admin-acme'),
      payload: { risk_level: 'extreme' },
    });
    assert.equal(bad.statusCode, 400);
    // `*` means "every tenant" on keys; it is never a tenant a resource can belong to.
    const star = await app.inject({
      method: 'PUT',
      url: '/api/v1/agents/bot',
      headers: as('admin-all'),
      payload: { risk_level: 'low', tenant_id: '*' },
    });
    assert.equal(star.statusCode, 400);
    const starJob = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('admin-all'),
      payload: { topic: 'job.x', tenant_id: '*' },
    });
    assert.equal(starJob.statusCode, 400);
  });
});

describe('throttle counters', () => {
  it('throttles once the window holds the limit, per key, with retry_after_sec', async () => {
    const { app } = await testGateway({
      authenticator: tokenAuthenticator,
      policySource: THROTTLE_POLICY,
    });
    const submit = async (agent: string) =>
      (
        await app.inject({
          method: 'POST',
          url: '/api/v1/jobs',
          headers: as('agent-acme'),
          payload: { topic: 'job.write.x', agent_id: agent },
        })
      ).json<{ state: string; decision: { retry_after_sec: number | null } }>();
    assert.equal((await submit('a')).state, 'QUEUED');
    assert.equal((await submit('a')).state, 'QUEUED');
    const third = await submit('a');
    assert.equal(third.state, 'THROTTLED');
    assert.equal(third.decision.retry_after_sec, 30);
    // A throttled request does not extend the window, and another key has its own window.
    assert.equal((await submit('a')).state, 'THROTTLED');
    assert.equal((await submit('b')).state, 'QUEUED');
  });

  it('counts neither idempotent replays nor requests whose write failed', async () => {
    const { app } = await testGateway({
      authenticator: tokenAuthenticator,
      policySource: THROTTLE_POLICY,
    });
    const submit = async (key?: string) =>
      await app.inject({
        method: 'POST',
        url: '/api/v1/jobs',
        headers: as('agent-acme'),
        payload: {
          topic: 'job.write.x',
          agent_id: 'a',
          ...(key === undefined ? {} : { idempotency_key: key }),
        },
      });
    assert.equal((await submit('k1')).statusCode, 201);
    for (let i = 0; i < 3; i++) assert.equal((await submit('k1')).statusCode, 200);
    const second = await submit();
    assert.equal(second.json<{ state: string }>().state, 'QUEUED');
    assert.equal((await submit()).json<{ state: string }>().state, 'THROTTLED');
  });

  it('lets the window slide: requests older than the window no longer count', async () => {
    let now = Date.parse('2026-11-21T10:00:00.000Z');
    const { app } = await testGateway({
      authenticator: tokenAuthenticator,
      policySource: THROTTLE_POLICY,
      clock: { now: () => new Date(now).toISOString() },
    });
    const submit = async () =>
      (
        await app.inject({
          method: 'POST',
          url: '/api/v1/jobs',
          headers: as('agent-acme'),
          payload: { topic: 'job.write.x', agent_id: 'a' },
        })
      ).json<{ state: string }>().state;
    assert.equal(await submit(), 'QUEUED');
    now += 30_000;
    assert.equal(await submit(), 'QUEUED');
    assert.equal(await submit(), 'THROTTLED');
    now += 30_000; // the first request has left the window
    assert.equal(await submit(), 'QUEUED');
    assert.equal(await submit(), 'THROTTLED');
  });
});

describe('GET /metrics', () => {
  it('exports decision, action, violation and audit failure metrics without a key', async () => {
    const { app, store } = await testGateway({
      authenticator: tokenAuthenticator,
      policySource: PROFILE_POLICY,
    });
    await app.inject({
      method: 'PUT',
      url: '/api/v1/agents/payer',
      headers: as('admin-acme'),
      payload: { risk_level: 'low', max_transaction_amount: 100 },
    });
    for (const amount of [10, 20, 500]) {
      await app.inject({
        method: 'POST',
        url: '/api/v1/jobs',
        headers: as('agent-acme'),
        payload: pay(amount),
      });
    }
    await store.close();
    const failed = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('agent-acme'),
      payload: { topic: 'job.other' },
    });
    assert.equal(failed.statusCode, 503);

    const response = await app.inject({ url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain/);
    const text = response.body;
    const sample = (name: string) => {
      const line = text.split('\n').find((l) => l.startsWith(name));
      assert.ok(line !== undefined, `no sample ${name}`);
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    // The last request was decided before its write failed: a decision, but nothing released.
    assert.equal(sample('warden_decisions_total{decision="ALLOW"}'), 3);
    assert.equal(sample('warden_decisions_total{decision="DENY"}'), 1);
    assert.equal(sample('warden_decision_duration_seconds_count'), 4);
    assert.equal(
      sample('ai_agent_actions_total{agent_name="payer",action="job.pay.send",allowed="true"}'),
      2,
    );
    assert.equal(
      sample('ai_agent_actions_total{agent_name="payer",action="job.pay.send",allowed="false"}'),
      1,
    );
    assert.equal(
      sample(
        'ai_agent_policy_violations_total{agent_name="payer",policy_name="over-limit",severity="critical"}',
      ),
      1,
    );
    assert.equal(sample('warden_audit_append_failures_total'), 1);
  });
});
