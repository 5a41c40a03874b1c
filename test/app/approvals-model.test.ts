/**
 * Model-based test of approvals (fast-check commands): random interleavings of submit,
 * re-submit, approve, reject, cancel, the clock passing deadlines, the sweeper, and policy
 * changes, run against the real services over a real SQLite store, and checked after every step
 * against a small model of what §5 says must happen.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { nativeSha256 } from '../../src/adapters/system/native-sha256.js';
import { createRandomIds } from '../../src/adapters/system/random-ids.js';
import { AgentService } from '../../src/app/agents.js';
import { ApprovalService } from '../../src/app/approvals.js';
import { Decider } from '../../src/app/decider.js';
import { JobChanges } from '../../src/app/job-changes.js';
import { JobService } from '../../src/app/jobs.js';
import { verifyChain } from '../../src/core/audit/chain.js';
import { WardenError } from '../../src/core/errors.js';
import type { JobState } from '../../src/core/jobs/states.js';
import type { Principal } from '../../src/core/model/principal.js';
import { compilePolicy } from '../../src/core/policy/index.js';
import type { CompiledPolicy } from '../../src/core/policy/index.js';
import { ThrottleLog } from '../../src/core/throttle/windows.js';
import { NO_METRICS } from '../../src/ports/metrics.js';

const RULES = `
  - id: deploy-needs-two
    match: { topics: ['job.deploy.*'] }
    decision: require_approval
    reason: deploys need two approvers
    approval: { quorum: 2, timeout: 10m }
  - id: payment-needs-one
    match: { topics: ['job.pay.*'] }
    decision: require_approval
    reason: payments need a human
    approval: { timeout: 5m }
`;
/** The policy approvals were requested under. */
const REVIEW = compilePolicy(`version: v1\nrules:${RULES}`);
/** The same, after someone decided deploys are off: approved deploys must now be denied. */
const FREEZE = compilePolicy(`version: v1
rules:
  - id: deploy-freeze
    match: { topics: ['job.deploy.*'] }
    decision: deny
    reason: deploy freeze${RULES}`);

const tenant = (id: string, roles: Principal['roles'], t = 'acme'): Principal => ({
  id,
  tenant: t,
  roles,
});
const SUBMITTERS = [tenant('agent-1', ['agent']), tenant('lead', ['agent', 'approver'])];
const RESOLVERS = [
  tenant('approver-1', ['approver']),
  tenant('approver-2', ['approver']),
  tenant('approver-3', ['approver']),
  tenant('lead', ['agent', 'approver']),
  tenant('approver-globex', ['approver'], 'globex'),
  tenant('auditor', ['auditor']),
];
const TOPICS = ['job.deploy.web', 'job.pay.invoice'] as const;

interface ModelJob {
  readonly job_id: string;
  readonly key: string;
  readonly requester: string;
  readonly quorum: number;
  readonly expiresAtMs: number;
  approvers: Set<string>;
  /** Null when the job never needed an approval (denied at submit). */
  approval: 'PENDING' | 'APPROVED' | 'REJECTED' | 'EXPIRED' | null;
  state: JobState;
}

interface Model {
  jobs: ModelJob[];
  policy: 'REVIEW' | 'FREEZE';
  nowMs: number;
}

interface Real {
  readonly jobs: JobService;
  readonly approvals: ApprovalService;
  readonly store: SqliteStore;
  setPolicy(policy: CompiledPolicy): void;
  advance(ms: number): void;
}

const stores: SqliteStore[] = [];
after(async () => {
  await Promise.all(stores.map((store) => store.close()));
});

function system(startMs: number): Real {
  const store = new SqliteStore({ path: ':memory:' });
  stores.push(store);
  let nowMs = startMs;
  let policy = REVIEW;
  const clock = { now: () => new Date(nowMs).toISOString() };
  const changes = new JobChanges();
  const decider = new Decider({
    profiles: new AgentService({ store, clock }),
    policy: () => policy,
    throttles: new ThrottleLog(),
    metrics: NO_METRICS,
  });
  const shared = { store, clock, decider, changes, sha256: nativeSha256 };
  return {
    jobs: new JobService({ ...shared, ids: createRandomIds() }),
    approvals: new ApprovalService({ ...shared, metrics: NO_METRICS }),
    store,
    setPolicy: (next) => {
      policy = next;
    },
    advance: (ms) => {
      nowMs += ms;
    },
  };
}

/** The error code a call failed with, or null when it succeeded. */
async function codeOf(call: Promise<unknown>): Promise<string | null> {
  try {
    await call;
    return null;
  } catch (error) {
    if (error instanceof WardenError) return error.code;
    throw error;
  }
}

/** One of the newest three jobs, so that resolutions pile up on the same approvals. */
function pickJob(model: Readonly<Model>, pick: number): ModelJob {
  const recent = model.jobs.slice(-3);
  return recent[pick % recent.length] as ModelJob;
}

async function checkAgainst(model: Model, real: Real): Promise<void> {
  for (const job of model.jobs) {
    const stored = await real.store.getJob(job.job_id);
    assert.equal(stored?.state, job.state, `state of ${job.job_id}`);
    const approval = await real.store.getApproval(job.job_id);
    assert.equal(approval?.status ?? null, job.approval, `approval of ${job.job_id}`);
    if (approval !== null) {
      assert.deepEqual(
        new Set(approval.resolutions.filter((r) => r.decision === 'approve').map((r) => r.by)),
        job.approvers,
      );
    }
  }
}

class Submit implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly submitter: number,
    readonly topic: (typeof TOPICS)[number],
  ) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const principal = SUBMITTERS[this.submitter] as Principal;
    const key = `k-${String(model.jobs.length)}`;
    const { job } = await real.jobs.submit(
      { topic: this.topic, idempotency_key: key, payload: { n: model.jobs.length } },
      principal,
    );
    const denied = model.policy === 'FREEZE' && this.topic === 'job.deploy.web';
    const deploy = this.topic === 'job.deploy.web';
    model.jobs.push({
      job_id: job.job_id,
      key,
      requester: principal.id,
      quorum: deploy ? 2 : 1,
      expiresAtMs: model.nowMs + (deploy ? 600 : 300) * 1000,
      approvers: new Set(),
      approval: denied ? null : 'PENDING',
      state: denied ? 'DENIED' : 'APPROVAL_REQUIRED',
    });
    await checkAgainst(model, real);
  }
  toString = (): string => `submit(${String(this.submitter)}, ${this.topic})`;
}

class Resubmit implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (model: Readonly<Model>): boolean => model.jobs.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const job = model.jobs[this.pick % model.jobs.length] as ModelJob;
    const principal = SUBMITTERS.find((p) => p.id === job.requester) as Principal;
    const stored = await real.store.getJob(job.job_id);
    const replay = await real.jobs.submit(
      {
        topic: stored?.topic ?? '',
        idempotency_key: job.key,
        payload: stored?.payload,
      },
      principal,
    );
    // The same job comes back; no second approval is created.
    assert.equal(replay.created, false);
    assert.equal(replay.job.job_id, job.job_id);
    await checkAgainst(model, real);
  }
  toString = (): string => `resubmit(${String(this.pick)})`;
}

class Resolve implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly pick: number,
    readonly resolver: number,
    readonly decision: 'approve' | 'reject',
    readonly sendHash: boolean,
  ) {}
  check = (model: Readonly<Model>): boolean => model.jobs.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const job = pickJob(model, this.pick);
    const principal = RESOLVERS[this.resolver] as Principal;
    const stored = await real.store.getJob(job.job_id);
    const code = await codeOf(
      real.approvals.resolve(
        job.job_id,
        principal,
        this.decision,
        'from the model',
        this.sendHash ? stored?.job_hash : undefined,
      ),
    );
    assert.equal(code, expectedResolution(model, job, principal, this.decision));
    await checkAgainst(model, real);
  }
  toString = (): string =>
    `${this.decision}(${String(this.pick)}, ${String(this.resolver)}, hash=${String(this.sendHash)})`;
}

/** Applies a resolution to the model; returns the error code the call must fail with, or null. */
function expectedResolution(
  model: Model,
  job: ModelJob,
  principal: Principal,
  decision: 'approve' | 'reject',
): string | null {
  if (!principal.roles.includes('approver')) return 'WARDEN_FORBIDDEN';
  if (job.approval === null || principal.tenant !== 'acme') return 'WARDEN_NOT_FOUND';
  if (job.approval !== 'PENDING') return 'WARDEN_APPROVAL_RESOLVED';
  if (principal.id === job.requester) return 'WARDEN_SELF_APPROVAL';
  if (model.nowMs >= job.expiresAtMs) {
    job.approval = 'EXPIRED';
    job.state = 'EXPIRED';
    return 'WARDEN_APPROVAL_RESOLVED';
  }
  if (decision === 'reject') {
    job.approval = 'REJECTED';
    job.state = 'REJECTED';
    return null;
  }
  if (job.approvers.has(principal.id)) return 'WARDEN_APPROVAL_RESOLVED';
  job.approvers.add(principal.id);
  if (job.approvers.size < job.quorum) return null;
  job.approval = 'APPROVED';
  // Re-evaluated under the policy active now: a deploy during a freeze is denied.
  job.state = model.policy === 'FREEZE' && job.quorum === 2 ? 'DENIED' : 'QUEUED';
  return null;
}

class Cancel implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (model: Readonly<Model>): boolean => model.jobs.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const job = pickJob(model, this.pick);
    const principal = SUBMITTERS.find((p) => p.id === job.requester) as Principal;
    const code = await codeOf(real.jobs.cancel(job.job_id, principal));
    const live = job.state === 'APPROVAL_REQUIRED' || job.state === 'QUEUED';
    assert.equal(code, live ? null : 'WARDEN_INVALID_STATE');
    if (live) {
      if (job.state === 'APPROVAL_REQUIRED') job.approval = 'REJECTED';
      job.state = 'CANCELLED';
    }
    await checkAgainst(model, real);
  }
  toString = (): string => `cancel(${String(this.pick)})`;
}

class PassTime implements fc.AsyncCommand<Model, Real> {
  constructor(readonly seconds: number) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    model.nowMs += this.seconds * 1000;
    real.advance(this.seconds * 1000);
    await checkAgainst(model, real);
  }
  toString = (): string => `pass(${String(this.seconds)}s)`;
}

/** The sweeper's run: whatever is overdue now expires, with its job. */
class Sweep implements fc.AsyncCommand<Model, Real> {
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    await real.approvals.sweep();
    for (const job of model.jobs) {
      if (job.approval === 'PENDING' && model.nowMs >= job.expiresAtMs) {
        job.approval = 'EXPIRED';
        job.state = 'EXPIRED';
      }
    }
    await checkAgainst(model, real);
  }
  toString = (): string => 'sweep';
}

class ChangePolicy implements fc.AsyncCommand<Model, Real> {
  constructor(readonly to: Model['policy']) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    model.policy = this.to;
    real.setPolicy(this.to === 'FREEZE' ? FREEZE : REVIEW);
    await checkAgainst(model, real);
  }
  toString = (): string => `policy(${this.to})`;
}

const resolve = fc
  .tuple(
    fc.nat(),
    // Skewed towards the first approvers, so the same person resolving twice happens often.
    fc.constantFrom(0, 0, 0, 1, 1, 2, 3, 4, 5),
    fc.constantFrom('approve' as const, 'approve' as const, 'approve' as const, 'reject' as const),
    fc.boolean(),
  )
  .map(([pick, who, decision, hash]) => new Resolve(pick, who, decision, hash));

// Resolutions are listed several times so that quorums are reached often, not only by luck.
const commands = [
  fc
    .tuple(fc.integer({ min: 0, max: SUBMITTERS.length - 1 }), fc.constantFrom(...TOPICS))
    .map(([who, topic]) => new Submit(who, topic)),
  fc.nat().map((pick) => new Resubmit(pick)),
  resolve,
  resolve,
  resolve,
  resolve,
  fc.nat().map((pick) => new Cancel(pick)),
  fc.integer({ min: 1, max: 400 }).map((seconds) => new PassTime(seconds)),
  fc.constant(new Sweep()),
  fc.constantFrom('REVIEW' as const, 'FREEZE' as const).map((to) => new ChangePolicy(to)),
];

describe('approvals against a model', () => {
  it('agree with the model under random interleavings, and the audit chain stays intact', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 50, size: 'max' }), async (cmds) => {
        const start = Date.parse('2026-11-21T10:00:00.000Z');
        const real = system(start);
        const model: Model = { jobs: [], policy: 'REVIEW', nowMs: start };
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        const events = await real.store.queryAudit({ limit: 100_000 });
        assert.equal(verifyChain(events, nativeSha256).ok, true);
      }),
      { numRuns: 300 },
    );
  });
});
