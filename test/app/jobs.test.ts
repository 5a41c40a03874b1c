/**
 * Job use cases over the real SQLite store: decide and record before answering, idempotency,
 * tenant scoping, cancel, and the golden corpus through `submit`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { createRandomIds } from '../../src/adapters/system/random-ids.js';
import { nativeSha256 } from '../../src/adapters/system/native-sha256.js';
import { AgentService } from '../../src/app/agents.js';
import { Decider } from '../../src/app/decider.js';
import { JobChanges } from '../../src/app/job-changes.js';
import { NO_METRICS } from '../../src/ports/metrics.js';
import { ThrottleLog } from '../../src/core/throttle/windows.js';
import { JobService } from '../../src/app/jobs.js';
import { verifyChain } from '../../src/core/audit/chain.js';
import { WardenError } from '../../src/core/errors.js';
import { jobHash } from '../../src/core/jobs/job-hash.js';
import type { Principal } from '../../src/core/model/principal.js';
import { compilePolicy } from '../../src/core/policy/index.js';
import type { CompiledPolicy } from '../../src/core/policy/index.js';
import { findCaseFiles, loadCaseFile } from '../golden/corpus.js';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const seed = compilePolicy(readFileSync('examples/policies/seed.yaml', 'utf8'));
const dev: Principal = {
  id: 'dev',
  tenant: '*',
  roles: ['agent', 'worker', 'approver', 'admin', 'auditor'],
};
const acmeAgent: Principal = { id: 'key-acme-agent', tenant: 'acme', roles: ['agent'] };
const acmeAgent2: Principal = { id: 'key-acme-agent-2', tenant: 'acme', roles: ['agent'] };
const acmeAuditor: Principal = { id: 'key-acme-auditor', tenant: 'acme', roles: ['auditor'] };
const globexAdmin: Principal = { id: 'key-globex-admin', tenant: 'globex', roles: ['admin'] };

const stores: SqliteStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
});

function service(
  policy: CompiledPolicy = seed,
  now = '2026-11-21T10:00:00.000Z',
): { jobs: JobService; store: SqliteStore } {
  const store = new SqliteStore({ path: ':memory:' });
  stores.push(store);
  const clock = { now: () => now };
  return {
    jobs: new JobService({
      store,
      clock,
      ids: createRandomIds(),
      decider: new Decider({
        profiles: new AgentService({ store, clock }),
        policy: () => policy,
        throttles: new ThrottleLog(),
        metrics: NO_METRICS,
      }),
      changes: new JobChanges(),
      sha256: nativeSha256,
    }),
    store,
  };
}

const expectCode = (code: string) => (error: unknown) => {
  assert.ok(error instanceof WardenError, String(error));
  assert.equal(error.code, code);
  return true;
};

describe('submit', () => {
  it('decides, records the decision and its audit trail, and returns the job', async () => {
    const { jobs, store } = service();
    const { created, job } = await jobs.submit(
      {
        topic: 'job.mcp-bridge.write.update_ticket',
        tenant_id: 'default',
        risk_tags: ['prod'],
        labels: { 'mcp.action': 'write' },
      },
      dev,
    );
    assert.equal(created, true);
    assert.equal(job.state, 'APPROVAL_REQUIRED');
    assert.equal(job.decision.rule_id, 'require-approval-prod-write');
    assert.equal(job.decision.policy_snapshot, seed.snapshot);
    assert.equal(job.principal, 'dev');
    assert.equal(
      job.job_hash,
      jobHash({
        topic: job.topic,
        tenant_id: 'default',
        risk_tags: ['prod'],
        labels: job.labels,
        principal: 'dev',
      }),
    );
    assert.match(job.trace_id, /^[0-9a-f]{32}$/);
    assert.deepEqual(await store.getJob(job.job_id), job);
    const events = await store.queryAudit({ trace_id: job.trace_id, limit: 10 });
    assert.deepEqual(
      events.map((e) => e.type),
      ['job.decided', 'job.state_changed', 'approval.requested'],
    );
    assert.deepEqual(events[1]?.data, {
      from: 'PENDING',
      to: 'APPROVAL_REQUIRED',
      reason: 'Production writes require human review',
    });
    assert.equal(verifyChain(await store.queryAudit({ limit: 100 }), sha256).ok, true);
  });

  it('maps each decision to its state and stores constraints on the job', async () => {
    const { jobs } = service();
    const cases: [string, string[], string][] = [
      ['job.mcp-bridge.read.x', [], 'QUEUED'],
      ['job.agent.exec.run', ['medium'], 'QUEUED'],
      ['job.mcp-bridge.read.x', ['destructive'], 'DENIED'],
      ['job.unknown', [], 'DENIED'],
    ];
    for (const [topic, risk_tags, state] of cases) {
      assert.equal((await jobs.submit({ topic, risk_tags }, dev)).job.state, state, topic);
    }
    const constrained = await jobs.submit(
      { topic: 'job.agent.exec.run', risk_tags: ['medium'] },
      dev,
    );
    assert.deepEqual(constrained.job.constraints, { max_runtime_sec: 45, max_retries: 1 });
  });

  it('takes the trace id from the body, else from traceparent, else makes one', async () => {
    const { jobs } = service();
    const header = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    assert.equal(
      (await jobs.submit({ topic: 't', trace_id: 'mine' }, dev, header)).job.trace_id,
      'mine',
    );
    assert.equal(
      (await jobs.submit({ topic: 't' }, dev, header)).job.trace_id,
      '4bf92f3577b34da6a3ce929d0e0e4736',
    );
    assert.notEqual((await jobs.submit({ topic: 't' }, dev, 'garbage')).job.trace_id, '');
  });

  it('replays an idempotent submit and refuses the key for different content', async () => {
    const { jobs, store } = service();
    const first = await jobs.submit(
      { topic: 'job.mcp-bridge.read.x', idempotency_key: 'k1', payload: { a: 1 } },
      dev,
    );
    const replay = await jobs.submit(
      { topic: 'job.mcp-bridge.read.x', idempotency_key: 'k1', payload: { a: 1 } },
      dev,
    );
    assert.equal(replay.created, false);
    assert.equal(replay.job.job_id, first.job.job_id);
    await assert.rejects(
      jobs.submit(
        { topic: 'job.mcp-bridge.read.x', idempotency_key: 'k1', payload: { a: 2 } },
        dev,
      ),
      expectCode('WARDEN_IDEMPOTENCY_CONFLICT'),
    );
    assert.equal((await store.queryAudit({ type: 'job.decided', limit: 10 })).length, 1);
  });

  it('binds the job to its principal and tenant from authentication', async () => {
    const { jobs } = service();
    const { job } = await jobs.submit({ topic: 't' }, acmeAgent);
    assert.equal(job.tenant_id, 'acme');
    assert.equal(job.principal, 'key-acme-agent');
    await assert.rejects(
      jobs.submit({ topic: 't', tenant_id: 'globex' }, acmeAgent),
      expectCode('WARDEN_FORBIDDEN'),
    );
  });

  it('releases nothing when the store cannot commit', async () => {
    const { jobs, store } = service();
    await store.close();
    await assert.rejects(
      jobs.submit({ topic: 'job.mcp-bridge.read.x' }, dev),
      expectCode('WARDEN_STORE_UNAVAILABLE'),
    );
  });
});

describe('read, list and cancel with tenant scoping', () => {
  it('hides other tenants and other agents’ jobs as not found', async () => {
    const { jobs } = service();
    const { job } = await jobs.submit({ topic: 'job.mcp-bridge.read.x' }, acmeAgent);
    assert.equal((await jobs.get(job.job_id, acmeAgent)).job_id, job.job_id);
    assert.equal((await jobs.get(job.job_id, acmeAuditor)).job_id, job.job_id);
    await assert.rejects(jobs.get(job.job_id, acmeAgent2), expectCode('WARDEN_NOT_FOUND'));
    await assert.rejects(jobs.get(job.job_id, globexAdmin), expectCode('WARDEN_NOT_FOUND'));
    await assert.rejects(jobs.get('nope', dev), expectCode('WARDEN_NOT_FOUND'));
  });

  it('lists only visible jobs, with filters and a cursor', async () => {
    const { jobs } = service();
    const mine = [];
    for (let i = 0; i < 5; i++) {
      mine.push(
        (
          await jobs.submit(
            { topic: i % 2 === 0 ? 'job.mcp-bridge.read.a' : 'job.unknown' },
            acmeAgent,
          )
        ).job,
      );
      await jobs.submit({ topic: 'job.mcp-bridge.read.a' }, acmeAgent2);
      await jobs.submit({ topic: 'job.mcp-bridge.read.a' }, globexAdmin);
    }
    const page1 = await jobs.list(acmeAgent, { limit: 3 });
    assert.deepEqual(
      page1.items.map((j) => j.job_id),
      mine.slice(0, 3).map((j) => j.job_id),
    );
    const page2 = await jobs.list(acmeAgent, { limit: 3, cursor: page1.next_cursor ?? '' });
    assert.deepEqual(
      page2.items.map((j) => j.job_id),
      mine.slice(3).map((j) => j.job_id),
    );
    assert.equal(page2.next_cursor, null);
    assert.equal((await jobs.list(acmeAuditor, { limit: 100 })).items.length, 10);
    assert.equal((await jobs.list(acmeAgent, { limit: 100, state: 'DENIED' })).items.length, 2);
    assert.equal((await jobs.list(dev, { limit: 100, topic: 'job.unknown' })).items.length, 2);
  });

  it('cancels a live job once, audited, and refuses terminal jobs', async () => {
    const { jobs, store } = service();
    const { job } = await jobs.submit(
      { topic: 'job.mcp-bridge.write.x', risk_tags: ['prod'] },
      acmeAgent,
    );
    await assert.rejects(jobs.cancel(job.job_id, acmeAgent2), expectCode('WARDEN_NOT_FOUND'));
    assert.equal((await jobs.cancel(job.job_id, acmeAgent)).state, 'CANCELLED');
    await assert.rejects(jobs.cancel(job.job_id, acmeAgent), expectCode('WARDEN_INVALID_STATE'));
    const denied = (await jobs.submit({ topic: 'job.unknown' }, acmeAgent)).job;
    await assert.rejects(jobs.cancel(denied.job_id, acmeAgent), expectCode('WARDEN_INVALID_STATE'));
    const changes = await store.queryAudit({
      job_id: job.job_id,
      type: 'job.state_changed',
      limit: 10,
    });
    assert.deepEqual(
      changes.map((e) => (e.data as { to: string }).to),
      ['APPROVAL_REQUIRED', 'CANCELLED'],
    );
  });
});

describe('golden cases through submit', () => {
  for (const file of findCaseFiles()) {
    const { name, policy, cases } = loadCaseFile(file);
    it(name, async () => {
      for (const c of cases) {
        // Agent profiles, counters and pinned times are facts the gateway supplies later; run the
        // cases that need none of them.
        if (
          c.agent !== undefined ||
          c.counters !== undefined ||
          c.now !== undefined ||
          c.request.principal !== undefined
        )
          continue;
        const { jobs } = service(policy);
        const { job } = await jobs.submit({ ...c.request, idempotency_key: undefined }, dev);
        assert.equal(job.decision.type, c.expect.decision, `${name}: ${c.name}`);
        if (c.expect.rule_id !== undefined)
          assert.equal(job.decision.rule_id, c.expect.rule_id, c.name);
      }
    });
  }
});
