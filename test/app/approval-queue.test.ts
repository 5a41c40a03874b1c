/**
 * The bounded approval queue (§5): past `max_pending_approvals` a tenant's new approval-requiring
 * job is denied with reason `approval queue full`, never dropped; the gauges and counters of §14
 * follow the queue; a long-poll on an approval answers as soon as it is resolved.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPrometheusMetrics } from '../../src/adapters/metrics/prometheus.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { nativeSha256 } from '../../src/adapters/system/native-sha256.js';
import { createRandomIds } from '../../src/adapters/system/random-ids.js';
import { AgentService } from '../../src/app/agents.js';
import { ApprovalService } from '../../src/app/approvals.js';
import { Decider } from '../../src/app/decider.js';
import { JobChanges } from '../../src/app/job-changes.js';
import { JobService } from '../../src/app/jobs.js';
import { QUEUE_FULL_REASON } from '../../src/core/approvals/approval.js';
import type { Principal } from '../../src/core/model/principal.js';
import { compilePolicy } from '../../src/core/policy/index.js';
import { ThrottleLog } from '../../src/core/throttle/windows.js';

const POLICY = compilePolicy(`version: v1
rules:
  - id: review
    match: { topics: ['job.review.*'] }
    decision: require_approval
    reason: needs a human
    approval: { timeout: 1m }
`);
const agent = (tenant: string): Principal => ({ id: `agent-${tenant}`, tenant, roles: ['agent'] });
const approver: Principal = { id: 'approver', tenant: 'acme', roles: ['approver'] };

const stores: SqliteStore[] = [];
after(async () => {
  await Promise.all(stores.map((store) => store.close()));
});

function setup() {
  const store = new SqliteStore({ path: ':memory:' });
  stores.push(store);
  let nowMs = Date.parse('2026-11-21T10:00:00.000Z');
  const clock = { now: () => new Date(nowMs).toISOString() };
  const metrics = createPrometheusMetrics({ defaultMetrics: false });
  const changes = new JobChanges();
  const decider = new Decider({
    profiles: new AgentService({ store, clock }),
    policy: () => POLICY,
    throttles: new ThrottleLog(),
    metrics,
  });
  const shared = { store, clock, decider, changes, sha256: nativeSha256, metrics };
  return {
    store,
    metrics,
    jobs: new JobService({ ...shared, ids: createRandomIds(), maxPendingApprovals: 2 }),
    approvals: new ApprovalService(shared),
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

function metricValue(text: string, line: RegExp): number {
  const match = line.exec(text);
  assert.ok(match?.[1] !== undefined, `no ${String(line)} in\n${text}`);
  return Number(match[1]);
}

describe('the approval queue', () => {
  it("denies a tenant's approval-requiring jobs beyond the bound, and only that tenant's", async () => {
    const { jobs, store } = setup();
    const states: string[] = [];
    for (let i = 0; i < 3; i++) {
      states.push((await jobs.submit({ topic: 'job.review.a' }, agent('acme'))).job.state);
    }
    assert.deepEqual(states, ['APPROVAL_REQUIRED', 'APPROVAL_REQUIRED', 'DENIED']);
    const denied = (await store.listJobs({ state: 'DENIED', limit: 10 }))[0];
    assert.equal(denied?.decision.type, 'DENY');
    assert.equal(denied.decision.reason, QUEUE_FULL_REASON);
    assert.equal(await store.getApproval(denied.job_id), null, 'no approval for a denied job');
    // Recorded like any decision: the job.decided event carries the denial.
    const decided = await store.queryAudit({
      job_id: denied.job_id,
      type: 'job.decided',
      limit: 5,
    });
    assert.equal(
      (decided[0]?.data as { decision: { reason: string } }).decision.reason,
      QUEUE_FULL_REASON,
    );
    // Another tenant has a queue of its own.
    const other = await jobs.submit(
      { topic: 'job.review.a', tenant_id: 'globex' },
      agent('globex'),
    );
    assert.equal(other.job.state, 'APPROVAL_REQUIRED');
  });

  it('takes new approvals again once pending ones are resolved', async () => {
    const { jobs, approvals } = setup();
    const first = await jobs.submit({ topic: 'job.review.a' }, agent('acme'));
    await jobs.submit({ topic: 'job.review.b' }, agent('acme'));
    await approvals.resolve(first.job.job_id, approver, 'reject', 'no');
    const next = await jobs.submit({ topic: 'job.review.c' }, agent('acme'));
    assert.equal(next.job.state, 'APPROVAL_REQUIRED');
  });

  it('exports the queue gauges and the approval counters by status', async () => {
    const { jobs, approvals, metrics, advance } = setup();
    const a = await jobs.submit({ topic: 'job.review.a' }, agent('acme'));
    const b = await jobs.submit({ topic: 'job.review.b' }, agent('acme'));
    advance(30_000);
    await approvals.sweep();
    let text = await metrics.text();
    assert.equal(metricValue(text, /^warden_approvals_pending (\d+)$/m), 2);
    assert.equal(metricValue(text, /^warden_approval_oldest_pending_seconds (\S+)$/m), 30);
    await approvals.resolve(a.job.job_id, approver, 'approve', 'fine');
    advance(60_000);
    assert.equal(await approvals.sweep(), 1, 'b timed out');
    assert.equal((await approvals.get(b.job.job_id, approver)).status, 'EXPIRED');
    text = await metrics.text();
    assert.equal(metricValue(text, /^warden_approvals_pending (\d+)$/m), 0);
    assert.equal(metricValue(text, /^warden_approval_oldest_pending_seconds (\S+)$/m), 0);
    const count = (status: string) =>
      metricValue(
        text,
        new RegExp(
          `^ai_agent_approval_requests_total\\{agent_name="unknown",status="${status}"\\} (\\d+)$`,
          'm',
        ),
      );
    assert.equal(count('requested'), 2);
    assert.equal(count('approved'), 1);
    assert.equal(count('timeout'), 1);
  });

  it('answers a long-poll as soon as the approval is resolved', async () => {
    const { jobs, approvals } = setup();
    const { job } = await jobs.submit({ topic: 'job.review.a' }, agent('acme'));
    const waiting = approvals.wait(job.job_id, approver, 30);
    let answered = false;
    void waiting.then(() => {
      answered = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(answered, false, 'still waiting while pending');
    await approvals.resolve(job.job_id, approver, 'approve', 'ok');
    const view = await waiting;
    assert.equal(view.status, 'APPROVED');
  });
});
