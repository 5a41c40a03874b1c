/**
 * Approvals (§5): the queue of jobs waiting for a human, their resolution, and their expiry.
 * What a resolution does is decided in the core (`core/approvals/approval.ts`); this reads the
 * current record, applies that decision with one compare-and-set in the store (the approval, its
 * job and the audit events together) and re-reads on a lost race, so concurrent resolutions and
 * the expiry sweeper leave exactly one outcome.
 *
 * INVARIANT: a job leaves APPROVAL_REQUIRED for QUEUED only with an APPROVED approval bound to
 * its hash, after a re-evaluation against the current policy that did not deny it.
 */
import {
  alreadyResolved,
  breakBinding,
  expireApproval,
  resolveApproval,
  unannouncedApproval,
} from '../core/approvals/approval.js';
import type { ApprovalRecord, ResolutionDecision } from '../core/approvals/approval.js';
import type { Sha256, UnsealedEvent } from '../core/audit/chain.js';
import { WardenError } from '../core/errors.js';
import type { JobPatch, JobRecord } from '../core/jobs/job.js';
import { awaitsPublish } from '../core/jobs/job.js';
import { jobEvent } from '../core/jobs/events.js';
import { bindingHolds, requestOfJob } from '../core/jobs/job-hash.js';
import { inTenant, requireRole, tenantFilter } from '../core/model/principal.js';
import type { Principal } from '../core/model/principal.js';
import type { Clock } from '../ports/clock.js';
import type { Metrics } from '../ports/metrics.js';
import type { Store } from '../ports/store.js';
import type { Decider } from './decider.js';
import { DEV_PRINCIPAL } from './dev-authenticator.js';
import type { JobChanges } from './job-changes.js';
import type { ApprovalObserver } from './jobs.js';

/** An approval as the API shows it: the record, and exactly what would run. */
export interface ApprovalView extends ApprovalRecord {
  readonly risk_tags: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly payload?: unknown;
}

export interface ApprovalPage {
  readonly items: readonly ApprovalView[];
  readonly next_cursor: string | null;
}

export interface ApprovalServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly decider: Decider;
  readonly changes: JobChanges;
  readonly sha256: Sha256;
  readonly metrics: Metrics;
  readonly observer?: Pick<ApprovalObserver, 'resolved'>;
  /** Told, after the commit, when an approval cleared a bus job to run (wakes the relay). */
  readonly queued?: () => void;
}

export interface ApprovalFilter {
  readonly includeResolved: boolean;
  readonly topic?: string;
  readonly agentId?: string;
  readonly tenantId?: string;
  readonly cursor?: string;
  readonly limit: number;
}

interface Resolved {
  readonly record: ApprovalRecord;
  readonly job: JobRecord;
}

/** A job's state change that goes with an approval's, and its audit events. */
interface JobMove {
  readonly patch: JobPatch;
  readonly events: readonly UnsealedEvent[];
}

/** Lost compare-and-set races retried before giving up (each retry re-reads the approval). */
const MAX_ATTEMPTS = 5;
/** Approvals expired per sweep; the next sweep takes the rest. */
const SWEEP_BATCH = 100;

function noApproval(jobId: string): WardenError {
  return new WardenError('WARDEN_NOT_FOUND', `no approval for job ${jobId}`);
}

const METRIC_STATUS = {
  APPROVED: 'approved',
  REJECTED: 'rejected',
  EXPIRED: 'timeout',
} as const;

export class ApprovalService {
  constructor(private readonly deps: ApprovalServiceDeps) {}

  async list(principal: Principal, filter: ApprovalFilter): Promise<ApprovalPage> {
    requireRole(principal, 'approver', 'admin');
    const scope = tenantFilter(principal);
    if (filter.tenantId !== undefined && !inTenant(principal, filter.tenantId)) {
      // Another tenant's queue is not visible: an empty page, not a hint that it exists.
      return { items: [], next_cursor: null };
    }
    const records = await this.deps.store.listApprovals({
      ...(filter.tenantId === undefined ? scope : { tenant_id: filter.tenantId }),
      ...(filter.includeResolved ? {} : { status: 'PENDING' as const }),
      ...(filter.topic === undefined ? {} : { topic: filter.topic }),
      ...(filter.agentId === undefined ? {} : { agent_id: filter.agentId }),
      ...(filter.cursor === undefined ? {} : { after: filter.cursor }),
      limit: filter.limit,
    });
    const items: ApprovalView[] = [];
    for (const record of records) items.push(await this.view(record));
    const last = records.at(-1);
    return {
      items,
      next_cursor: records.length === filter.limit && last !== undefined ? last.job_id : null,
    };
  }

  async get(jobId: string, principal: Principal): Promise<ApprovalView> {
    return this.view(await this.visible(jobId, principal));
  }

  /**
   * Long-poll: the approval once it is no longer pending, or as it is when `waitSec` has passed
   * (or the server is shutting down). The status tells which.
   */
  async wait(jobId: string, principal: Principal, waitSec: number): Promise<ApprovalView> {
    const record = await this.deps.changes.poll(
      jobId,
      waitSec,
      () => this.visible(jobId, principal),
      (current) => current.status !== 'PENDING',
    );
    return this.view(record);
  }

  async resolve(
    jobId: string,
    principal: Principal,
    decision: ResolutionDecision,
    note: string,
    seenHash?: string,
  ): Promise<ApprovalView> {
    // Keys that can never resolve anything are refused before any lookup, as for reads.
    requireRole(principal, 'approver', 'admin');
    for (let attempt = 1; ; attempt++) {
      const record = await this.deps.store.getApproval(jobId);
      if (record === null) throw noApproval(jobId);
      let written: Resolved | null;
      try {
        this.ensureVisible(record, principal);
        written = await this.tryResolve(record, principal, decision, note, seenHash);
      } catch (error) {
        if (error instanceof WardenError && error.status < 500) {
          await this.recordRefusal(record, principal, decision, error);
        }
        throw error;
      }
      if (written !== null) return this.view(written.record, written.job);
      // Someone else changed the approval or its job first; the next read sees what they did.
      if (attempt === MAX_ATTEMPTS) throw alreadyResolved(await this.visible(jobId, principal));
    }
  }

  /**
   * Every refused resolution of an existing approval is on the job's timeline: who tried, what,
   * and why it was refused. The caller still gets only what it may see (another tenant: 404).
   */
  private async recordRefusal(
    record: ApprovalRecord,
    principal: Principal,
    decision: ResolutionDecision,
    error: WardenError,
  ): Promise<void> {
    const job = await this.deps.store.getJob(record.job_id);
    if (job === null) return;
    const now = this.deps.clock.now();
    await this.deps.store.appendAudit([
      jobEvent(job, now, principal.id, 'approval.refused', {
        by: principal.id,
        decision,
        code: error.code,
        reason: error.message,
      }),
    ]);
  }

  /**
   * Expires every pending approval whose deadline has passed (up to a batch), with its job, and
   * refreshes the queue gauges. Returns how many it expired.
   */
  async sweep(): Promise<number> {
    const now = this.deps.clock.now();
    let expired = 0;
    for (const record of await this.deps.store.dueApprovals(now, SWEEP_BATCH)) {
      const next = expireApproval(record, now);
      if (next === null) continue;
      const job = await this.deps.store.getJob(record.job_id);
      if (job === null) continue;
      const done = await this.write(next, job, 'system:sweeper', now, [
        jobEvent(job, now, 'system:sweeper', 'approval.expired', { expires_at: next.expires_at }),
      ]);
      if (done !== null) expired += 1;
    }
    await this.refreshQueueGauges(now);
    return expired;
  }

  /**
   * Closes a pending approval that no notifier could announce (notifier fail mode `closed`),
   * with its job; false when it was no longer pending. Retried on a lost race, as resolve is.
   */
  async unannounced(jobId: string, reason: string): Promise<boolean> {
    const actor = 'system:notifier';
    for (let attempt = 0; attempt < 5; attempt++) {
      const record = await this.deps.store.getApproval(jobId);
      const now = this.deps.clock.now();
      const next = record === null ? null : unannouncedApproval(record, now, reason);
      if (next === null) return false;
      const job = await this.deps.store.getJob(jobId);
      if (job === null) return false;
      const written = await this.write(next, job, actor, now, [
        jobEvent(job, now, actor, 'approval.unannounced', { reason }),
      ]);
      if (written !== null) return true;
    }
    return false;
  }

  private async refreshQueueGauges(now: string): Promise<void> {
    const queue = await this.deps.store.approvalQueue();
    const oldest = queue.oldest_requested_at;
    const age = oldest === null ? 0 : Math.max(0, (Date.parse(now) - Date.parse(oldest)) / 1000);
    this.deps.metrics.approvalQueue(queue.pending, age);
  }

  /** One attempt: the record written (with the job read for it), or null on a lost race. */
  private async tryResolve(
    record: ApprovalRecord,
    principal: Principal,
    decision: ResolutionDecision,
    note: string,
    seenHash: string | undefined,
  ): Promise<Resolved | null> {
    const now = this.deps.clock.now();
    const job = await this.deps.store.getJob(record.job_id);
    if (job === null) throw new WardenError('WARDEN_NOT_FOUND', `no job ${record.job_id}`);
    const outcome = resolveApproval(record, {
      principal,
      decision,
      note,
      at: now,
      ...(seenHash === undefined ? {} : { seen_hash: seenHash }),
      // Dev mode has a single user who both submits and approves.
      may_resolve_own: principal === DEV_PRINCIPAL,
    });
    if (outcome.kind === 'refused') throw outcome.error;
    const actor = principal.id;
    if (outcome.kind === 'expired') {
      const written = await this.write(outcome.record, job, actor, now, [
        jobEvent(job, now, actor, 'approval.expired', { expires_at: record.expires_at }),
      ]);
      if (written === null) return null;
      throw alreadyResolved(written);
    }
    const resolution = jobEvent(job, now, actor, 'approval.resolved', {
      by: actor,
      decision,
      note,
      approvals: outcome.record.resolutions.filter((r) => r.decision === 'approve').length,
      quorum: record.quorum,
    });
    if (outcome.kind === 'approved' && !this.bound(job, record)) {
      // The stored job is no longer what was approved: refuse it, and record why.
      const reason = 'the stored job no longer matches the hash that was approved';
      const broken = await this.write(
        breakBinding(record, now),
        job,
        actor,
        now,
        [
          jobEvent(job, now, actor, 'job.binding_broken', {
            expected_job_hash: record.job_hash,
            stage: 'approval',
          }),
        ],
        this.move(job, now, actor, 'DENIED', reason),
      );
      if (broken === null) return null;
      throw new WardenError(
        'WARDEN_JOB_HASH_MISMATCH',
        'the stored job no longer matches the hash that was approved; it was denied',
        { job_hash: record.job_hash },
      );
    }
    const written = await this.write(outcome.record, job, actor, now, [resolution]);
    return written === null ? null : { record: written, job };
  }

  /** Whether the stored job still hashes to what was submitted and what the approval binds. */
  private bound(job: JobRecord, record: ApprovalRecord): boolean {
    return job.job_hash === record.job_hash && bindingHolds(job, this.deps.sha256);
  }

  /**
   * Writes the approval's new record with the job change its status implies, in one
   * compare-and-set. For an approval, the job is re-evaluated against the current policy first.
   */
  private async write(
    record: ApprovalRecord,
    job: JobRecord,
    actor: string,
    now: string,
    events: readonly UnsealedEvent[],
    change?: JobMove | null,
  ): Promise<ApprovalRecord | null> {
    change ??= await this.jobChange(record, job, actor, now);
    const written = await this.deps.store.updateApproval(
      {
        record,
        ...(change === null ? {} : { job: { from: ['APPROVAL_REQUIRED'], patch: change.patch } }),
      },
      change === null ? events : [...events, ...change.events],
    );
    if (written === null) return null;
    this.deps.changes.notify(record.job_id);
    if (written.job !== null && awaitsPublish(written.job)) this.deps.queued?.();
    if (record.status !== 'PENDING') {
      this.deps.metrics.approval(record.agent_id, METRIC_STATUS[record.status]);
      this.deps.observer?.resolved(record);
    }
    return written.record;
  }

  /** The job's move for an approval's new status; null while the approval stays pending. */
  private async jobChange(
    record: ApprovalRecord,
    job: JobRecord,
    actor: string,
    now: string,
  ): Promise<JobMove | null> {
    switch (record.status) {
      case 'PENDING':
        return null;
      case 'REJECTED':
        return this.move(job, now, actor, 'REJECTED', record.closed_reason ?? 'rejected');
      case 'EXPIRED':
        return this.move(job, now, actor, 'EXPIRED', 'approval timed out');
      case 'APPROVED': {
        // Re-evaluated against the policy active now: a now-DENY denies; a renewed approval
        // requirement is met by this approval; the current decision's constraints apply.
        const { decision } = await this.deps.decider.decide(requestOfJob(job), now, false);
        const reevaluated = jobEvent(job, now, actor, 'approval.reevaluated', { decision });
        if (decision.type === 'DENY') {
          const reason = `denied on re-evaluation: ${decision.reason}`;
          return this.move(job, now, actor, 'DENIED', reason, {}, [reevaluated]);
        }
        const reason = record.closed_reason ?? 'approved';
        const constraints = { constraints: decision.constraints };
        return this.move(job, now, actor, 'QUEUED', reason, constraints, [reevaluated]);
      }
    }
  }

  /** A job leaving APPROVAL_REQUIRED, with the events that record it. */
  private move(
    job: JobRecord,
    now: string,
    actor: string,
    to: JobPatch['state'],
    reason: string,
    extra: Omit<Partial<JobPatch>, 'state' | 'updated_at'> = {},
    before: readonly UnsealedEvent[] = [],
  ): JobMove {
    return {
      patch: { ...extra, state: to, updated_at: now },
      events: [
        ...before,
        jobEvent(job, now, actor, 'job.state_changed', {
          from: 'APPROVAL_REQUIRED',
          to,
          reason,
        }),
      ],
    };
  }

  /** The approval, if this principal may see it; 404 otherwise (never 403 with details). */
  private async visible(jobId: string, principal: Principal): Promise<ApprovalRecord> {
    requireRole(principal, 'approver', 'admin');
    const record = await this.deps.store.getApproval(jobId);
    if (record === null) throw noApproval(jobId);
    this.ensureVisible(record, principal);
    return record;
  }

  private ensureVisible(record: ApprovalRecord, principal: Principal): void {
    requireRole(principal, 'approver', 'admin');
    if (!inTenant(principal, record.tenant_id)) throw noApproval(record.job_id);
  }

  /** `job` when the caller already read it: what would run does not change with the state. */
  private async view(record: ApprovalRecord, known?: JobRecord): Promise<ApprovalView> {
    const job = known ?? (await this.deps.store.getJob(record.job_id));
    return {
      ...record,
      risk_tags: job?.risk_tags ?? [],
      labels: job?.labels ?? {},
      ...(job?.payload === undefined ? {} : { payload: job.payload }),
    };
  }
}
