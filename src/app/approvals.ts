/**
 * Approvals, first cut: the queue of jobs waiting for a human and their resolution with a note.
 * The resolver is always the authenticated principal. Approval records of their own, quorum,
 * re-evaluation, expiry sweeping and notifications are the full approval feature (§5), built on
 * this.
 *
 * INVARIANT: a resolution is a compare-and-set from APPROVAL_REQUIRED, so the first valid
 * resolution wins and a second one gets 409 with the current status.
 */
import type { UnsealedEvent } from '../core/audit/chain.js';
import { WardenError } from '../core/errors.js';
import type { JobRecord } from '../core/jobs/job.js';
import type { Principal } from '../core/model/principal.js';
import { requireRole } from '../core/model/principal.js';
import { DEFAULT_APPROVAL } from '../core/policy/spec.js';
import type { CompiledPolicy } from '../core/policy/index.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';
import type { JobService } from './jobs.js';
import { DEV_PRINCIPAL } from './dev-authenticator.js';

export type ApprovalStatus = 'PENDING' | 'APPROVED' | 'REJECTED' | 'EXPIRED';

export interface Resolution {
  readonly by: string;
  readonly decision: 'approve' | 'reject';
  readonly note: string;
  readonly at: string;
}

export interface ApprovalView {
  readonly job_id: string;
  readonly tenant_id: string;
  readonly topic: string;
  readonly job_hash: string;
  readonly rule_id: string | null;
  readonly reason: string;
  readonly requested_by: string;
  readonly requested_at: string;
  readonly expires_at: string;
  readonly quorum: number;
  readonly status: ApprovalStatus;
  readonly resolutions: readonly Resolution[];
  readonly payload?: unknown;
}

export interface ApprovalServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly jobs: JobService;
  readonly policy: () => CompiledPolicy;
}

export class ApprovalService {
  constructor(private readonly deps: ApprovalServiceDeps) {}

  async list(
    principal: Principal,
    options: {
      readonly includeResolved: boolean;
      readonly cursor?: string;
      readonly limit: number;
    },
  ): Promise<{ items: ApprovalView[]; next_cursor: string | null }> {
    requireRole(principal, 'approver', 'admin');
    const page = await this.deps.jobs.list(principal, {
      limit: options.limit,
      ...(options.includeResolved ? {} : { state: 'APPROVAL_REQUIRED' as const }),
      ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
    });
    const items: ApprovalView[] = [];
    for (const job of page.items) {
      if (job.decision.type === 'REQUIRE_APPROVAL') items.push(await this.view(job));
    }
    return { items, next_cursor: page.next_cursor };
  }

  async get(jobId: string, principal: Principal): Promise<ApprovalView> {
    return this.view(await this.approvalJob(jobId, principal));
  }

  async resolve(
    jobId: string,
    principal: Principal,
    decision: 'approve' | 'reject',
    note: string,
    seenHash?: string,
  ): Promise<ApprovalView> {
    const job = await this.approvalJob(jobId, principal);
    if (job.state !== 'APPROVAL_REQUIRED') throw await this.alreadyResolved(job);
    const settings = this.settings(job);
    // Dev mode has a single user who both submits and approves.
    if (
      job.principal === principal.id &&
      !settings.allow_self_approval &&
      principal !== DEV_PRINCIPAL
    ) {
      throw new WardenError(
        'WARDEN_SELF_APPROVAL',
        'the requester cannot resolve their own approval',
      );
    }
    if (
      !settings.approver_roles.some((role) => (principal.roles as readonly string[]).includes(role))
    ) {
      throw new WardenError(
        'WARDEN_FORBIDDEN',
        `resolving this approval needs one of the roles: ${settings.approver_roles.join(', ')}`,
      );
    }
    if (decision === 'approve' && seenHash !== undefined && seenHash !== job.job_hash) {
      throw new WardenError('WARDEN_JOB_HASH_MISMATCH', 'the job changed since you reviewed it', {
        job_hash: job.job_hash,
      });
    }
    const now = this.deps.clock.now();
    const expired = Date.parse(now) >= Date.parse(expiresAt(job, settings));
    const to = expired ? 'EXPIRED' : decision === 'approve' ? 'QUEUED' : 'REJECTED';
    const event = (type: string, data: unknown): UnsealedEvent => ({
      at: now,
      type,
      tenant_id: job.tenant_id,
      trace_id: job.trace_id,
      job_id: jobId,
      actor: principal.id,
      data,
    });
    const events = expired
      ? [
          event('job.state_changed', {
            from: 'APPROVAL_REQUIRED',
            to,
            reason: 'approval timed out',
          }),
        ]
      : [
          event('approval.resolved', { by: principal.id, decision, note }),
          event('job.state_changed', {
            from: 'APPROVAL_REQUIRED',
            to,
            reason: `${decision}d by ${principal.id}`,
          }),
        ];
    const updated = await this.deps.jobs.transition(
      jobId,
      ['APPROVAL_REQUIRED'],
      { state: to, updated_at: now },
      events,
    );
    if (updated === null || expired)
      throw await this.alreadyResolved(await this.approvalJob(jobId, principal));
    return this.view(updated);
  }

  /** The job behind an approval, visible to this approver; 404 for jobs that needed none. */
  private async approvalJob(jobId: string, principal: Principal): Promise<JobRecord> {
    requireRole(principal, 'approver', 'admin');
    const job = await this.deps.jobs.get(jobId, principal);
    if (job.decision.type !== 'REQUIRE_APPROVAL') {
      throw new WardenError('WARDEN_NOT_FOUND', `job ${jobId} needs no approval`);
    }
    return job;
  }

  /** The 409 for a resolution that came too late, carrying the approval's current status. */
  private async alreadyResolved(job: JobRecord): Promise<WardenError> {
    const { status } = await this.view(job);
    return new WardenError('WARDEN_APPROVAL_RESOLVED', `the approval is already ${status}`, {
      status,
    });
  }

  private settings(job: JobRecord): typeof DEFAULT_APPROVAL {
    const rule =
      job.decision.rule_id === null ? undefined : this.deps.policy().rule(job.decision.rule_id);
    return rule?.approval ?? DEFAULT_APPROVAL;
  }

  private async view(job: JobRecord): Promise<ApprovalView> {
    const settings = this.settings(job);
    const events = await this.deps.store.queryAudit({
      job_id: job.job_id,
      type: 'approval.resolved',
      limit: 100,
    });
    const resolutions = events.map((e) => ({ ...(e.data as Omit<Resolution, 'at'>), at: e.at }));
    const status: ApprovalStatus =
      job.state === 'APPROVAL_REQUIRED'
        ? 'PENDING'
        : resolutions.some((r) => r.decision === 'reject')
          ? 'REJECTED'
          : resolutions.length > 0
            ? 'APPROVED'
            : 'EXPIRED';
    return {
      job_id: job.job_id,
      tenant_id: job.tenant_id,
      topic: job.topic,
      job_hash: job.job_hash,
      rule_id: job.decision.rule_id,
      reason: job.decision.reason,
      requested_by: job.principal,
      requested_at: job.created_at,
      expires_at: expiresAt(job, settings),
      quorum: settings.quorum,
      status,
      resolutions,
      ...(job.payload === undefined ? {} : { payload: job.payload }),
    };
  }
}

function expiresAt(job: JobRecord, settings: { readonly timeout_sec: number }): string {
  return new Date(Date.parse(job.created_at) + settings.timeout_sec * 1000).toISOString();
}
