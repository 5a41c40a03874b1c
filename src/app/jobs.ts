/**
 * Job use cases: submit (decide and record before answering), read, list, cancel. Orchestration
 * only: decisions come from the policy engine, durability from the store, time and ids from ports.
 *
 * INVARIANT: a job's row, its decision record and its audit events are committed before submit
 * returns; if the store cannot commit, submit throws and nothing is released.
 */
import {
  deniedForFullQueue,
  requestApproval,
  withdrawApproval,
} from '../core/approvals/approval.js';
import type { ApprovalRecord } from '../core/approvals/approval.js';
import type { Sha256, UnsealedEvent } from '../core/audit/chain.js';
import { WardenError } from '../core/errors.js';
import { jobEvent } from '../core/jobs/events.js';
import type { JobRecord } from '../core/jobs/job.js';
import { bindingHolds, jobHash } from '../core/jobs/job-hash.js';
import { stateForDecision, traceIdFromTraceparent } from '../core/jobs/outcome.js';
import { canTransition, isTerminal } from '../core/jobs/states.js';
import type { JobState } from '../core/jobs/states.js';
import type { Principal } from '../core/model/principal.js';
import {
  hasRole,
  inTenant,
  requestedTenant,
  requireRole,
  tenantFilter,
} from '../core/model/principal.js';
import type { JobRequest } from '../core/model/request.js';
import type { Explanation } from '../core/policy/index.js';
import { DEFAULT_APPROVAL } from '../core/policy/spec.js';
import type { JobGuard, JobPatch } from '../core/jobs/job.js';
import { awaitsPublish } from '../core/jobs/job.js';
import type { Decision } from '../core/model/decision.js';
import type { Clock } from '../ports/clock.js';
import type { Ids } from '../ports/ids.js';
import type { Metrics } from '../ports/metrics.js';
import type { NewApproval, Store } from '../ports/store.js';
import type { Decider } from './decider.js';
import type { FailOpen } from './fail-open.js';
import type { JobChanges } from './job-changes.js';

export interface JobServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly decider: Decider;
  readonly changes: JobChanges;
  readonly sha256: Sha256;
  readonly metrics?: Metrics;
  /** Told about every approval created, after its commit (notifications). */
  readonly approvals?: ApprovalObserver;
  /** Pending approvals a tenant may hold (§5, default 10,000). */
  readonly maxPendingApprovals?: number;
  /** Told, after the commit, whenever a bus job became QUEUED (wakes the outbox relay). */
  readonly queued?: () => void;
  /**
   * Store fail mode `open` (§11): an inline job the policy allows is answered, unrecorded, when
   * the store cannot take it, and this is told. Absent: closed (503, nothing released).
   */
  readonly storeFailedOpen?: (failOpen: FailOpen) => void;
}

/** Told about approvals after their commit (notifications). */
export interface ApprovalObserver {
  /** A new approval, with the job it holds. */
  requested(approval: ApprovalRecord, job: JobRecord): void;
  /** An approval that left PENDING: resolved, expired, or withdrawn with its cancelled job. */
  resolved(approval: ApprovalRecord): void;
}

export const DEFAULT_MAX_PENDING_APPROVALS = 10_000;

/**
 * What store fail mode `open` may let through: only an inline job the policy allowed, since the
 * agent runs it itself. A bus job cannot be dispatched without the outbox, a held job cannot
 * wait without its approval record, and a denial stays a denial.
 */
function mayRunUnrecorded(job: JobRecord, error: unknown): boolean {
  return (
    error instanceof WardenError &&
    error.code === 'WARDEN_STORE_UNAVAILABLE' &&
    job.dispatch === 'inline' &&
    (job.decision.type === 'ALLOW' || job.decision.type === 'ALLOW_WITH_CONSTRAINTS')
  );
}

/** Reads and tries of a cancel that keeps losing to the job's own progress. */
const CANCEL_ATTEMPTS = 5;

/** What a dry-run evaluation returns: the decision a submit would get now, nothing recorded. */
export interface Preview {
  readonly decision: Decision;
  readonly job_hash: string;
  readonly explanation?: Explanation;
}

/** What a caller submits: the request fields of §3; `principal` comes from authentication. */
export type SubmitInput = Omit<JobRequest, 'principal'>;

export interface SubmitResult {
  /** False when an idempotent replay returned the job created earlier. */
  readonly created: boolean;
  readonly job: JobRecord;
  /** Set when the store was down and its fail mode let the decision through unrecorded. */
  readonly fail_open?: 'store';
}

export interface JobPage {
  readonly items: readonly JobRecord[];
  readonly next_cursor: string | null;
}

export class JobService {
  constructor(private readonly deps: JobServiceDeps) {}

  async submit(
    input: SubmitInput,
    principal: Principal,
    traceparent?: string,
  ): Promise<SubmitResult> {
    const request = this.requestFor(input, principal);
    const tenant = request.tenant_id;
    // Hashing first refuses a request that cannot be bound before anything is counted.
    const hash = jobHash(request, this.deps.sha256);
    const now = this.deps.clock.now();
    const { decision, uncount, policy } = await this.deps.decider.decide(request, now, true);
    const job: JobRecord = {
      job_id: this.deps.ids.jobId(),
      tenant_id: tenant,
      topic: request.topic,
      agent_id: request.agent_id ?? null,
      principal: principal.id,
      trace_id: input.trace_id ?? traceIdFromTraceparent(traceparent) ?? this.deps.ids.traceId(),
      idempotency_key: input.idempotency_key ?? null,
      dispatch: input.dispatch ?? 'bus',
      risk_tags: request.risk_tags ?? [],
      labels: request.labels ?? {},
      ...(input.payload === undefined ? {} : { payload: input.payload }),
      job_hash: hash,
      state: stateForDecision(decision.type),
      decision,
      constraints: decision.constraints,
      attempt: 0,
      created_at: now,
      updated_at: now,
    };
    const event = (type: string, data: unknown): UnsealedEvent =>
      jobEvent(job, now, principal.id, type, data);
    // One event for the submission and its decision: what was asked, by whom, and the answer.
    const recorded = (decided: JobRecord): UnsealedEvent[] => [
      event('job.decided', {
        topic: decided.topic,
        agent_id: decided.agent_id,
        job_hash: decided.job_hash,
        dispatch: decided.dispatch,
        decision: decided.decision,
      }),
      event('job.state_changed', {
        from: 'PENDING',
        to: decided.state,
        reason: decided.decision.reason,
      }),
    ];
    if (decision.type !== 'REQUIRE_APPROVAL') {
      return this.finishSubmit(job, recorded(job), undefined, uncount);
    }
    const rule = decision.rule_id === null ? undefined : policy.rule(decision.rule_id);
    const record = requestApproval(job, rule?.approval ?? DEFAULT_APPROVAL);
    const denied = deniedForFullQueue(job);
    const approval: NewApproval = {
      record,
      max_pending: this.deps.maxPendingApprovals ?? DEFAULT_MAX_PENDING_APPROVALS,
      when_full: { job: denied, events: recorded(denied) },
    };
    const { quorum, approver_roles, expires_at } = record;
    const requested = event('approval.requested', {
      rule_id: record.rule_id,
      quorum,
      approver_roles,
      expires_at,
    });
    return this.finishSubmit(job, [...recorded(job), requested], approval, uncount);
  }

  private async finishSubmit(
    job: JobRecord,
    events: readonly UnsealedEvent[],
    approval: NewApproval | undefined,
    uncount: () => void,
  ): Promise<SubmitResult> {
    let outcome;
    try {
      outcome = await this.deps.store.insertJob(job, events, approval);
    } catch (error) {
      uncount();
      const failedOpen = this.deps.storeFailedOpen;
      if (failedOpen === undefined || !mayRunUnrecorded(job, error)) throw error;
      failedOpen({
        component: 'store',
        reason: `the store could not record inline job ${job.job_id} (${job.topic}): ${(error as Error).message}`,
        tenant_id: job.tenant_id,
        // No job id: the job was never stored; the trace still finds the event.
        trace_id: job.trace_id,
      });
      return { created: true, job, fail_open: 'store' };
    }
    if (outcome.kind === 'inserted') {
      if (awaitsPublish(outcome.job)) this.deps.queued?.();
      if (approval !== undefined && outcome.job.state === 'APPROVAL_REQUIRED') {
        this.deps.metrics?.approval(job.agent_id, 'requested');
        this.deps.approvals?.requested(approval.record, outcome.job);
      }
      return { created: true, job: outcome.job };
    }
    // A replay stores nothing new, so it must not use up the throttle window either.
    uncount();
    // Another submitter's job under the same key is neither shown nor replayed: agents read
    // only their own jobs, so it is a conflict that names nothing of it.
    if (outcome.job.principal !== job.principal) {
      throw new WardenError(
        'WARDEN_IDEMPOTENCY_CONFLICT',
        `idempotency key "${job.idempotency_key ?? ''}" was already used by another submitter in this tenant`,
      );
    }
    if (outcome.job.job_hash !== job.job_hash) {
      throw new WardenError(
        'WARDEN_IDEMPOTENCY_CONFLICT',
        `idempotency key "${job.idempotency_key ?? ''}" was already used for a different request`,
        { job_id: outcome.job.job_id },
      );
    }
    return { created: false, job: outcome.job };
  }

  /** The decision a submit would get now (and why, with `explain`); records nothing. */
  async preview(input: SubmitInput, principal: Principal, explain: boolean): Promise<Preview> {
    requireRole(principal, 'agent', 'admin');
    const request = this.requestFor(input, principal);
    const now = this.deps.clock.now();
    const job_hash = jobHash(request, this.deps.sha256);
    if (explain) {
      const explanation = await this.deps.decider.explain(request, now);
      return { decision: explanation.decision, job_hash, explanation };
    }
    const { decision } = await this.deps.decider.decide(request, now, false);
    return { decision, job_hash };
  }

  /** A job the principal may see; other tenants' jobs and agents' foreign jobs are not found. */
  async get(jobId: string, principal: Principal): Promise<JobRecord> {
    const job = await this.deps.store.getJob(jobId);
    if (job === null || !canRead(principal, job)) throw notFound(jobId);
    return job;
  }

  /**
   * Long-poll: the job once it is terminal, or as it is when `waitSec` has passed (or the server
   * is shutting down). The caller tells the two apart by the state.
   */
  async waitForTerminal(jobId: string, principal: Principal, waitSec: number): Promise<JobRecord> {
    return this.deps.changes.poll(
      jobId,
      waitSec,
      () => this.get(jobId, principal),
      (job) => isTerminal(job.state),
    );
  }

  /**
   * The one way a stored job changes state: compare-and-set in the store with its audit events,
   * then wake whoever waits on the job. Null when the job was not in one of `from`.
   */
  async transition(
    jobId: string,
    from: readonly JobState[],
    patch: JobPatch,
    events: readonly UnsealedEvent[],
    guard?: JobGuard,
  ): Promise<JobRecord | null> {
    const updated = await this.deps.store.updateJob(jobId, from, patch, events, guard);
    if (updated !== null) {
      this.deps.changes.notify(jobId);
      if (awaitsPublish(updated)) this.deps.queued?.();
    }
    return updated;
  }

  /**
   * The last check before a job leaves the gateway (dispatch, or an inline claim): its stored
   * request must still hash to the hash it was decided and approved under. A job changed behind
   * the gateway's back is denied instead, with an audit event saying why. True when it may go.
   */
  async releaseCheck(job: JobRecord, stage: 'dispatch' | 'claim'): Promise<boolean> {
    if (bindingHolds(job, this.deps.sha256)) return true;
    const now = this.deps.clock.now();
    const event = (type: string, data: unknown): UnsealedEvent =>
      jobEvent(job, now, 'system', type, data);
    const reason = 'the stored job no longer matches its hash';
    await this.transition(job.job_id, [job.state], { state: 'DENIED', updated_at: now }, [
      event('job.binding_broken', { expected_job_hash: job.job_hash, stage }),
      event('job.state_changed', { from: job.state, to: 'DENIED', reason }),
    ]);
    return false;
  }

  async list(
    principal: Principal,
    filter: {
      readonly state?: JobState;
      readonly topic?: string;
      readonly cursor?: string;
      readonly limit: number;
    },
  ): Promise<JobPage> {
    const items: JobRecord[] = [];
    let after = filter.cursor;
    // Agents see only their own jobs, so filling a page may take several reads.
    for (;;) {
      const batch = await this.deps.store.listJobs({
        ...tenantFilter(principal),
        ...(filter.state === undefined ? {} : { state: filter.state }),
        ...(filter.topic === undefined ? {} : { topic: filter.topic }),
        ...(after === undefined ? {} : { after }),
        limit: filter.limit,
      });
      for (const job of batch) {
        if (!canRead(principal, job)) continue;
        items.push(job);
        if (items.length === filter.limit) return { items, next_cursor: job.job_id };
      }
      const last = batch.at(-1);
      if (batch.length < filter.limit || last === undefined) return { items, next_cursor: null };
      after = last.job_id;
    }
  }

  /**
   * Cancels a job that has not finished. A job that moves meanwhile (the relay dispatches it, a
   * worker leases it) is read again and cancelled from where it is now, a few times at most.
   */
  async cancel(jobId: string, principal: Principal): Promise<JobRecord> {
    for (let attempt = 1; ; attempt++) {
      const job = await this.get(jobId, principal);
      if (!hasRole(principal, 'admin') && job.principal !== principal.id) {
        throw new WardenError(
          'WARDEN_FORBIDDEN',
          'only the submitter or an admin can cancel a job',
        );
      }
      if (isTerminal(job.state) || !canTransition(job.state, 'CANCELLED')) {
        throw new WardenError(
          'WARDEN_INVALID_STATE',
          `job ${jobId} is ${job.state} and cannot be cancelled`,
          { state: job.state },
        );
      }
      const now = this.deps.clock.now();
      // A running job's lease ends with it: the worker's next heartbeat answers `cancel: true`.
      const patch: JobPatch = { state: 'CANCELLED', updated_at: now, lease: null };
      const events = [
        jobEvent(job, now, principal.id, 'job.state_changed', {
          from: job.state,
          to: 'CANCELLED',
          reason: 'cancelled on request',
        }),
      ];
      const cancelled =
        job.state === 'APPROVAL_REQUIRED'
          ? await this.cancelAwaitingApproval(job, patch, events)
          : await this.transition(jobId, [job.state], patch, events);
      if (cancelled !== null) return cancelled;
      if (attempt === CANCEL_ATTEMPTS) {
        const current = await this.get(jobId, principal);
        throw new WardenError('WARDEN_INVALID_STATE', `job ${jobId} is now ${current.state}`, {
          state: current.state,
        });
      }
    }
  }

  /** Cancels a job and withdraws its pending approval in the same write. */
  private async cancelAwaitingApproval(
    job: JobRecord,
    patch: JobPatch,
    events: readonly UnsealedEvent[],
  ): Promise<JobRecord | null> {
    const approval = await this.deps.store.getApproval(job.job_id);
    const withdrawn = approval === null ? null : withdrawApproval(approval, patch.updated_at);
    if (withdrawn === null)
      return this.transition(job.job_id, ['APPROVAL_REQUIRED'], patch, events);
    const written = await this.deps.store.updateApproval(
      { record: withdrawn, job: { from: ['APPROVAL_REQUIRED'], patch } },
      events,
    );
    if (written === null) return null;
    this.deps.changes.notify(job.job_id);
    this.deps.approvals?.resolved(withdrawn);
    return written.job;
  }

  /** The request as the engine sees it: tenant resolved and allowed, principal from the key. */
  private requestFor(
    input: SubmitInput,
    principal: Principal,
  ): JobRequest & { readonly tenant_id: string } {
    const tenant = requestedTenant(principal, input.tenant_id);
    if (!inTenant(principal, tenant)) {
      throw new WardenError(
        'WARDEN_FORBIDDEN',
        `this key cannot submit jobs for tenant "${tenant}"`,
      );
    }
    return { ...input, tenant_id: tenant, principal: principal.id };
  }
}

/** Approvers, auditors and admins read their tenant's jobs; agents read the jobs they submitted. */
function canRead(principal: Principal, job: JobRecord): boolean {
  if (!inTenant(principal, job.tenant_id)) return false;
  return hasRole(principal, 'admin', 'approver', 'auditor') || job.principal === principal.id;
}

function notFound(jobId: string): WardenError {
  return new WardenError('WARDEN_NOT_FOUND', `no job ${jobId}`);
}
