/**
 * The store conformance suite: what every Store adapter must do, written against the port only.
 * An adapter's test file calls `describeStoreConformance` with a factory for a fresh, empty store.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { deniedForFullQueue, requestApproval } from '../../src/core/approvals/approval.js';
import type { ApprovalRecord } from '../../src/core/approvals/approval.js';
import { verifyChain } from '../../src/core/audit/chain.js';
import type { UnsealedEvent } from '../../src/core/audit/chain.js';
import type { JobRecord } from '../../src/core/jobs/job.js';
import type { NewApproval, Store } from '../../src/ports/store.js';

export type StoreFactory = () => Promise<Store>;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const AT = '2026-11-21T10:00:00.000Z';

let counter = 0;
export function sampleJob(overrides: Partial<JobRecord> = {}): JobRecord {
  counter += 1;
  const id = `job-${String(counter).padStart(8, '0')}`;
  return {
    job_id: id,
    tenant_id: 'default',
    topic: 'job.mcp-bridge.write.update_ticket',
    agent_id: 'support-bot',
    principal: 'dev',
    trace_id: `trace-${id}`,
    idempotency_key: null,
    dispatch: 'bus',
    risk_tags: ['prod'],
    labels: { 'mcp.action': 'write' },
    payload: { ticket: 42, fields: { status: 'closed' } },
    job_hash: 'a'.repeat(64),
    state: 'APPROVAL_REQUIRED',
    decision: {
      type: 'REQUIRE_APPROVAL',
      rule_id: 'require-approval-prod-write',
      reason: 'Production writes require human review',
      policy_snapshot: 'b'.repeat(64),
      constraints: {},
      matched_rules: ['require-approval-prod-write'],
      retry_after_sec: null,
      diagnostics: [],
    },
    constraints: {},
    attempt: 0,
    created_at: AT,
    updated_at: AT,
    ...overrides,
  };
}

function decidedEvent(job: JobRecord, type = 'job.decided'): UnsealedEvent {
  return {
    at: AT,
    type,
    tenant_id: job.tenant_id,
    trace_id: job.trace_id,
    job_id: job.job_id,
    actor: job.principal,
    data: { state: job.state },
  };
}

export function describeStoreConformance(adapter: string, open: StoreFactory): void {
  describe(`store conformance: ${adapter}`, () => {
    const stores: Store[] = [];
    const fresh = async (): Promise<Store> => {
      const store = await open();
      stores.push(store);
      return store;
    };
    after(async () => {
      for (const store of stores) await store.close();
    });

    it('round-trips a job exactly, payload included', async () => {
      const store = await fresh();
      const job = sampleJob();
      assert.deepEqual(await store.insertJob(job, [decidedEvent(job)]), { kind: 'inserted', job });
      assert.deepEqual(await store.getJob(job.job_id), job);
      assert.equal(await store.getJob('no-such-job'), null);
    });

    it('tells an absent payload from an explicit null', async () => {
      const store = await fresh();
      const withoutPayload: JobRecord = { ...sampleJob() };
      delete (withoutPayload as { payload?: unknown }).payload;
      const withNull = sampleJob({ payload: null });
      await store.insertJob(withoutPayload, []);
      await store.insertJob(withNull, []);
      assert.equal('payload' in ((await store.getJob(withoutPayload.job_id)) ?? {}), false);
      assert.equal((await store.getJob(withNull.job_id))?.payload, null);
    });

    it('commits the job and its audit events together', async () => {
      const store = await fresh();
      const job = sampleJob();
      await store.insertJob(job, [decidedEvent(job), decidedEvent(job, 'job.state_changed')]);
      const events = await store.queryAudit({ job_id: job.job_id, limit: 10 });
      assert.deepEqual(
        events.map((e) => [e.seq, e.type]),
        [
          [1, 'job.decided'],
          [2, 'job.state_changed'],
        ],
      );
    });

    it('writes nothing for a repeated idempotency key and returns the first job', async () => {
      const store = await fresh();
      const first = sampleJob({ idempotency_key: 'k-1' });
      await store.insertJob(first, [decidedEvent(first)]);
      const second = sampleJob({ idempotency_key: 'k-1', payload: { different: true } });
      const outcome = await store.insertJob(second, [decidedEvent(second)]);
      assert.deepEqual(outcome, { kind: 'existing', job: first });
      assert.equal(await store.getJob(second.job_id), null);
      assert.equal((await store.queryAudit({ limit: 10 })).length, 1);
      const otherTenant = sampleJob({ idempotency_key: 'k-1', tenant_id: 'acme' });
      assert.equal((await store.insertJob(otherTenant, [])).kind, 'inserted');
    });

    it('moves a job only from an expected state (compare-and-set), with its events', async () => {
      const store = await fresh();
      const job = sampleJob();
      await store.insertJob(job, [decidedEvent(job)]);
      const patch = {
        state: 'QUEUED' as const,
        updated_at: '2026-11-21T10:05:00.000Z',
        attempt: 0,
      };
      const moved = await store.updateJob(job.job_id, ['APPROVAL_REQUIRED'], patch, [
        decidedEvent(job, 'job.approved'),
      ]);
      assert.equal(moved?.state, 'QUEUED');
      assert.equal((await store.getJob(job.job_id))?.updated_at, patch.updated_at);
      const again = await store.updateJob(job.job_id, ['APPROVAL_REQUIRED'], patch, [
        decidedEvent(job, 'job.approved'),
      ]);
      assert.equal(again, null);
      assert.equal((await store.queryAudit({ type: 'job.approved', limit: 10 })).length, 1);
      assert.equal(await store.updateJob('missing', ['QUEUED'], patch, []), null);
    });

    it('lets exactly one of many concurrent compare-and-set updates win', async () => {
      const store = await fresh();
      const job = sampleJob();
      await store.insertJob(job, []);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.updateJob(
            job.job_id,
            ['APPROVAL_REQUIRED'],
            { state: i % 2 === 0 ? 'QUEUED' : 'REJECTED', updated_at: AT },
            [decidedEvent(job, 'job.resolved')],
          ),
        ),
      );
      assert.equal(results.filter((r) => r !== null).length, 1);
      assert.equal((await store.queryAudit({ type: 'job.resolved', limit: 50 })).length, 1);
    });

    it('keeps one gap-free, verifiable chain under concurrent writes', async () => {
      const store = await fresh();
      const jobs = Array.from({ length: 200 }, () => sampleJob());
      await Promise.all(
        jobs.map((job) =>
          store.insertJob(job, [decidedEvent(job), decidedEvent(job, 'job.state_changed')]),
        ),
      );
      await store.appendAudit([
        { ...decidedEvent(jobs[0] ?? sampleJob(), 'policy.activated'), job_id: null },
      ]);
      const events = await store.queryAudit({ limit: 1000 });
      assert.equal(events.length, 401);
      assert.deepEqual(verifyChain(events, sha256), {
        ok: true,
        count: 401,
        first_bad_seq: null,
        reason: 'chain intact',
      });
    });

    it('lists jobs by tenant, state and topic, paging by job id', async () => {
      const store = await fresh();
      const jobs = [
        sampleJob({ tenant_id: 'acme' }),
        sampleJob({ tenant_id: 'acme', state: 'QUEUED' }),
        sampleJob({ tenant_id: 'globex' }),
        sampleJob({ tenant_id: 'acme', topic: 'job.other' }),
      ];
      for (const job of jobs) await store.insertJob(job, []);
      const acme = await store.listJobs({ tenant_id: 'acme', limit: 10 });
      assert.deepEqual(
        acme.map((j) => j.job_id),
        [jobs[0], jobs[1], jobs[3]].map((j) => j?.job_id),
      );
      assert.deepEqual(
        (await store.listJobs({ state: 'QUEUED', limit: 10 })).map((j) => j.job_id),
        [jobs[1]?.job_id],
      );
      assert.deepEqual(
        (await store.listJobs({ topic: 'job.other', limit: 10 })).map((j) => j.job_id),
        [jobs[3]?.job_id],
      );
      const page1 = await store.listJobs({ tenant_id: 'acme', limit: 2 });
      const page2 = await store.listJobs({
        tenant_id: 'acme',
        limit: 2,
        after: page1.at(-1)?.job_id ?? '',
      });
      assert.deepEqual([...page1, ...page2], acme);
    });

    it('queries audit events by trace, type, tenant and position', async () => {
      const store = await fresh();
      const a = sampleJob({ trace_id: 'trace-a', tenant_id: 'acme' });
      const b = sampleJob({ trace_id: 'trace-b' });
      await store.insertJob(a, [decidedEvent(a), decidedEvent(a, 'job.state_changed')]);
      await store.insertJob(b, [decidedEvent(b)]);
      assert.deepEqual(
        (await store.queryAudit({ trace_id: 'trace-a', limit: 10 })).map((e) => e.seq),
        [1, 2],
      );
      assert.deepEqual(
        (await store.queryAudit({ type: 'job.decided', limit: 10 })).map((e) => e.seq),
        [1, 3],
      );
      assert.deepEqual(
        (await store.queryAudit({ tenant_id: 'acme', limit: 10 })).map((e) => e.seq),
        [1, 2],
      );
      assert.deepEqual(
        (await store.queryAudit({ after_seq: 1, limit: 1 })).map((e) => e.seq),
        [2],
      );
    });

    it('stores API keys by hash, lists them and revokes each once', async () => {
      const store = await fresh();
      const key = {
        id: 'key_1',
        hash: 'c'.repeat(64),
        name: 'ci',
        tenant: 'acme',
        roles: ['agent' as const],
        created_at: AT,
        created_by: 'system',
        revoked_at: null,
      };
      await store.insertKey(key, [{ ...decidedEvent(sampleJob(), 'key.created'), job_id: null }]);
      assert.deepEqual(await store.keyByHash(key.hash), key);
      assert.equal(await store.keyByHash('d'.repeat(64)), null);
      assert.deepEqual(await store.listKeys(), [key]);
      const revoked = await store.revokeKey('key_1', '2026-11-21T11:00:00.000Z', []);
      assert.equal(revoked?.revoked_at, '2026-11-21T11:00:00.000Z');
      assert.equal(await store.revokeKey('key_1', AT, []), null);
      assert.equal(await store.revokeKey('missing', AT, []), null);
      await assert.rejects(store.insertKey({ ...key, id: 'key_2' }, []));
    });

    it('answers a ping while open and refuses every call once closed', async () => {
      const store = await open();
      await store.ping();
      await store.close();
      await assert.rejects(store.ping(), /unavailable/);
      await assert.rejects(store.getJob('x'), /unavailable/);
      await assert.rejects(store.insertJob(sampleJob(), []), /unavailable/);
    });

    it('keeps the policy activation history, newest active, with its audit events', async () => {
      const store = await fresh();
      assert.equal(await store.activePolicy(), null);
      const activation = (snapshot: string, origin: 'start' | 'api' | 'rollback') => ({
        snapshot,
        source: `version: v1 # ${snapshot}`,
        origin,
        author: 'admin-1',
        message: `activate ${snapshot}`,
        activated_at: AT,
      });
      const policyEvent = (snapshot: string): UnsealedEvent => ({
        at: AT,
        type: 'policy.activated',
        tenant_id: '*',
        trace_id: `policy-${snapshot}`,
        job_id: null,
        actor: 'admin-1',
        data: { snapshot },
      });
      const first = await store.activatePolicy(activation('s1', 'start'), [policyEvent('s1')]);
      const second = await store.activatePolicy(activation('s2', 'api'), [policyEvent('s2')]);
      const third = await store.activatePolicy(activation('s1', 'rollback'), [policyEvent('s1')]);
      assert.ok(first.seq < second.seq && second.seq < third.seq);
      assert.deepEqual(await store.activePolicy(), third);
      assert.deepEqual(await store.policyBySnapshot('s2'), second);
      assert.deepEqual(await store.policyBySnapshot('s1'), third);
      assert.equal(await store.policyBySnapshot('s3'), null);
      assert.deepEqual(await store.listPolicyActivations({ limit: 2 }), [third, second]);
      assert.deepEqual(await store.listPolicyActivations({ before_seq: second.seq, limit: 2 }), [
        first,
      ]);
      assert.equal((await store.queryAudit({ type: 'policy.activated', limit: 10 })).length, 3);
    });

    it('stores agent profiles per tenant, replacing on put, paging in key order', async () => {
      const store = await fresh();
      const agent = (tenant_id: string, agent_id: string, risk: 'low' | 'high') => ({
        tenant_id,
        agent_id,
        profile: { risk_level: risk, max_transaction_amount: 100 },
        updated_at: AT,
        updated_by: 'admin-1',
      });
      await store.putAgent(agent('acme', 'bot-b', 'low'), []);
      await store.putAgent(agent('acme', 'bot-a', 'low'), []);
      await store.putAgent(agent('globex', 'bot-a', 'high'), []);
      const replaced = await store.putAgent(agent('acme', 'bot-b', 'high'), [
        { ...decidedEvent(sampleJob(), 'agent.registered'), job_id: null },
      ]);
      assert.deepEqual(await store.getAgent('acme', 'bot-b'), replaced);
      assert.equal(await store.getAgent('acme', 'bot-c'), null);
      assert.equal((await store.getAgent('globex', 'bot-a'))?.profile.risk_level, 'high');
      const ids = (agents: readonly { tenant_id: string; agent_id: string }[]) =>
        agents.map((a) => `${a.tenant_id}/${a.agent_id}`);
      assert.deepEqual(ids(await store.listAgents({ limit: 10 })), [
        'acme/bot-a',
        'acme/bot-b',
        'globex/bot-a',
      ]);
      assert.deepEqual(ids(await store.listAgents({ tenant_id: 'acme', limit: 1 })), [
        'acme/bot-a',
      ]);
      assert.deepEqual(
        ids(await store.listAgents({ after: { tenant_id: 'acme', agent_id: 'bot-b' }, limit: 5 })),
        ['globex/bot-a'],
      );
      assert.equal((await store.queryAudit({ type: 'agent.registered', limit: 10 })).length, 1);
    });

    it('creates an approval with its job, or stores the denial when the queue is full', async () => {
      const store = await fresh();
      const first = sampleJob({ tenant_id: 'acme' });
      await store.insertJob(first, [decidedEvent(first)], newApproval(first, 1));
      assert.deepEqual(await store.getApproval(first.job_id), approvalOf(first));
      const second = sampleJob({ tenant_id: 'acme' });
      const denied = deniedForFullQueue(second);
      const outcome = await store.insertJob(second, [decidedEvent(second)], {
        ...newApproval(second, 1),
        when_full: { job: denied, events: [decidedEvent(denied)] },
      });
      assert.deepEqual(outcome, { kind: 'inserted', job: denied });
      assert.equal((await store.getJob(second.job_id))?.state, 'DENIED');
      assert.equal(await store.getApproval(second.job_id), null);
      // Other tenants are not counted against this one.
      const other = sampleJob({ tenant_id: 'globex' });
      await store.insertJob(other, [], newApproval(other, 1));
      assert.equal((await store.getApproval(other.job_id))?.status, 'PENDING');
      assert.deepEqual(await store.approvalQueue(), {
        pending: 2,
        oldest_requested_at: AT,
      });
    });

    it('lists approvals oldest first with filters and a cursor, and finds the overdue ones', async () => {
      const store = await fresh();
      const jobs = [
        sampleJob({ tenant_id: 'acme', topic: 'job.a', created_at: '2026-11-21T10:00:00.000Z' }),
        sampleJob({ tenant_id: 'acme', topic: 'job.b', created_at: '2026-11-21T10:00:01.000Z' }),
        sampleJob({ tenant_id: 'globex', topic: 'job.a', agent_id: 'other-bot' }),
      ];
      for (const job of jobs) await store.insertJob(job, [], newApproval(job, 100));
      const ids = (records: readonly { job_id: string }[]) => records.map((r) => r.job_id);
      const [a, b, c] = jobs.map((job) => job.job_id);
      assert.deepEqual(ids(await store.listApprovals({ limit: 10 })), [a, b, c]);
      assert.deepEqual(ids(await store.listApprovals({ tenant_id: 'acme', limit: 10 })), [a, b]);
      assert.deepEqual(ids(await store.listApprovals({ topic: 'job.a', limit: 10 })), [a, c]);
      assert.deepEqual(ids(await store.listApprovals({ agent_id: 'other-bot', limit: 10 })), [c]);
      assert.deepEqual(ids(await store.listApprovals({ after: a ?? '', limit: 1 })), [b]);
      // Each approval here expires an hour after its job was created.
      assert.deepEqual(ids(await store.dueApprovals('2026-11-21T10:59:59.999Z', 10)), []);
      assert.deepEqual(ids(await store.dueApprovals('2026-11-21T11:00:00.000Z', 10)).length, 2);
      assert.deepEqual(ids(await store.dueApprovals('2026-11-21T11:00:00.500Z', 1)), [a]);
    });

    it('resolves an approval and its job by compare-and-set, all or nothing', async () => {
      const store = await fresh();
      const job = sampleJob();
      await store.insertJob(job, [], newApproval(job, 10));
      const pending = approvalOf(job);
      const approved: ApprovalRecord = {
        ...pending,
        status: 'APPROVED',
        resolutions: [{ by: 'ann', decision: 'approve', note: 'ok', at: AT }],
        resolved_at: AT,
        closed_reason: 'approved by ann',
        version: 1,
      };
      const move = {
        from: ['APPROVAL_REQUIRED' as const],
        patch: { state: 'QUEUED' as const, updated_at: AT },
      };
      // A stale version writes nothing.
      assert.equal(
        await store.updateApproval({ record: { ...approved, version: 2 }, job: move }, [
          decidedEvent(job, 'approval.resolved'),
        ]),
        null,
      );
      // A job no longer in the expected state writes nothing either, approval included.
      assert.equal(
        await store.updateApproval(
          { record: approved, job: { ...move, from: ['RUNNING' as const] } },
          [decidedEvent(job, 'approval.resolved')],
        ),
        null,
      );
      assert.deepEqual(await store.getApproval(job.job_id), pending);
      assert.equal((await store.queryAudit({ job_id: job.job_id, limit: 10 })).length, 0);
      // The first valid write wins; the same write again loses.
      const written = await store.updateApproval({ record: approved, job: move }, [
        decidedEvent(job, 'approval.resolved'),
      ]);
      assert.deepEqual(written?.record, approved);
      assert.equal(written.job?.state, 'QUEUED');
      assert.equal(await store.updateApproval({ record: approved, job: move }, []), null);
      assert.deepEqual(await store.getApproval(job.job_id), approved);
      assert.equal((await store.getJob(job.job_id))?.state, 'QUEUED');
      assert.equal((await store.queryAudit({ job_id: job.job_id, limit: 10 })).length, 1);
      assert.deepEqual(await store.approvalQueue(), { pending: 0, oldest_requested_at: null });
    });

    it('lets exactly one of many concurrent resolutions of one approval win', async () => {
      const store = await fresh();
      const job = sampleJob();
      await store.insertJob(job, [], newApproval(job, 10));
      const attempts = Array.from({ length: 20 }, (_, i) =>
        store.updateApproval(
          {
            record: {
              ...approvalOf(job),
              status: i % 2 === 0 ? 'APPROVED' : 'REJECTED',
              resolved_at: AT,
              version: 1,
            },
            job: {
              from: ['APPROVAL_REQUIRED'],
              patch: { state: i % 2 === 0 ? 'QUEUED' : 'REJECTED', updated_at: AT },
            },
          },
          [decidedEvent(job, 'approval.resolved')],
        ),
      );
      const results = await Promise.all(attempts);
      assert.equal(results.filter((r) => r !== null).length, 1);
      assert.equal((await store.queryAudit({ job_id: job.job_id, limit: 50 })).length, 1);
    });
  });
}

/** The approval record the app would create for a job (an hour to decide, one approver). */
function approvalOf(job: JobRecord): ApprovalRecord {
  return requestApproval(job, {
    timeout_sec: 3600,
    quorum: 1,
    approver_roles: ['approver', 'admin'],
    allow_self_approval: false,
  });
}

/** A new approval for a job as the app asks for one, denied when the tenant has `maxPending`. */
export function newApproval(job: JobRecord, maxPending: number): NewApproval {
  return {
    record: approvalOf(job),
    max_pending: maxPending,
    when_full: { job: deniedForFullQueue(job), events: [] },
  };
}
