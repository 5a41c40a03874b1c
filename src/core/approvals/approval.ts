/**
 * Approvals (§5) as pure state: the record a REQUIRE_APPROVAL decision creates, and what one
 * resolution attempt or the expiry of its deadline does to it. No I/O: the app reads the record,
 * asks here what happens, and writes the result with a compare-and-set on `version`, so the
 * first valid resolution wins and a late one is refused with the current status.
 *
 * The rule's approval settings are copied into the record when it is created: the approval is
 * bound to the policy snapshot that required it, not to whatever the rule says later.
 */
import { WardenError } from '../errors.js';
import type { JobRecord } from '../jobs/job.js';
import { hasRole, inTenant } from '../model/principal.js';
import type { Principal, Role } from '../model/principal.js';
import type { ApprovalSpec } from '../policy/spec.js';

export const APPROVAL_STATUSES = ['PENDING', 'APPROVED', 'REJECTED', 'EXPIRED'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

export type ResolutionDecision = 'approve' | 'reject';

export interface Resolution {
  readonly by: string;
  readonly decision: ResolutionDecision;
  readonly note: string;
  readonly at: string;
}

export interface ApprovalRecord {
  readonly job_id: string;
  readonly tenant_id: string;
  readonly topic: string;
  readonly agent_id: string | null;
  /** The hash of exactly what was submitted; an approval binds to it and nothing else. */
  readonly job_hash: string;
  readonly policy_snapshot: string;
  readonly rule_id: string | null;
  readonly reason: string;
  readonly requested_by: string;
  readonly requested_at: string;
  readonly expires_at: string;
  readonly quorum: number;
  readonly approver_roles: readonly string[];
  readonly allow_self_approval: boolean;
  readonly status: ApprovalStatus;
  readonly resolutions: readonly Resolution[];
  /** When the approval left PENDING; null while pending. */
  readonly resolved_at: string | null;
  /** Why it closed, in words (who approved or rejected, a timeout, a broken binding). */
  readonly closed_reason: string | null;
  /** Bumped by every write; the compare-and-set key. */
  readonly version: number;
}

/** The approval a REQUIRE_APPROVAL job gets, with the requiring rule's settings. */
export function requestApproval(job: JobRecord, settings: ApprovalSpec): ApprovalRecord {
  return {
    job_id: job.job_id,
    tenant_id: job.tenant_id,
    topic: job.topic,
    agent_id: job.agent_id,
    job_hash: job.job_hash,
    policy_snapshot: job.decision.policy_snapshot,
    rule_id: job.decision.rule_id,
    reason: job.decision.reason,
    requested_by: job.principal,
    requested_at: job.created_at,
    expires_at: new Date(Date.parse(job.created_at) + settings.timeout_sec * 1000).toISOString(),
    quorum: settings.quorum,
    approver_roles: settings.approver_roles,
    allow_self_approval: settings.allow_self_approval,
    status: 'PENDING',
    resolutions: [],
    resolved_at: null,
    closed_reason: null,
    version: 0,
  };
}

/** The reason of a job denied because its tenant's approval queue is full (§5). */
export const QUEUE_FULL_REASON = 'approval queue full';

/** The job as stored when its tenant's approval queue is full: denied, never silently dropped. */
export function deniedForFullQueue(job: JobRecord): JobRecord {
  return {
    ...job,
    state: 'DENIED',
    decision: { ...job.decision, type: 'DENY', reason: QUEUE_FULL_REASON, constraints: {} },
    constraints: {},
  };
}

export interface ResolutionAttempt {
  readonly principal: Principal;
  readonly decision: ResolutionDecision;
  readonly note: string;
  readonly at: string;
  /** The job hash the approver reviewed, when they sent it. */
  readonly seen_hash?: string;
  /** Dev mode's single user submits and approves; nobody else may resolve their own job. */
  readonly may_resolve_own?: boolean;
}

export type ResolutionOutcome =
  /** Nothing changes; the attempt is answered with this error. */
  | { readonly kind: 'refused'; readonly error: WardenError }
  /** The deadline had passed: the approval (and its job) expire, and the attempt is refused. */
  | { readonly kind: 'expired'; readonly record: ApprovalRecord }
  /** An approval counted towards a quorum not yet reached. */
  | { readonly kind: 'recorded'; readonly record: ApprovalRecord }
  | { readonly kind: 'approved'; readonly record: ApprovalRecord }
  | { readonly kind: 'rejected'; readonly record: ApprovalRecord };

/** The 409 for an approval that is no longer pending, with its status. */
export function alreadyResolved(record: ApprovalRecord): WardenError {
  return new WardenError(
    'WARDEN_APPROVAL_RESOLVED',
    `the approval is already ${record.status}${record.closed_reason === null ? '' : ` (${record.closed_reason})`}`,
    { status: record.status },
  );
}

function isDue(record: ApprovalRecord, at: string): boolean {
  return Date.parse(at) >= Date.parse(record.expires_at);
}

/** Distinct principals who approved. */
export function approvers(record: ApprovalRecord): readonly string[] {
  return [...new Set(record.resolutions.filter((r) => r.decision === 'approve').map((r) => r.by))];
}

/** What one resolution attempt does. Checks run in a fixed order, so refusals are stable. */
export function resolveApproval(
  record: ApprovalRecord,
  attempt: ResolutionAttempt,
): ResolutionOutcome {
  const { principal } = attempt;
  const refuse = (error: WardenError): ResolutionOutcome => ({ kind: 'refused', error });
  if (record.status !== 'PENDING') return refuse(alreadyResolved(record));
  // Another tenant's approval does not exist as far as this principal can tell.
  if (!inTenant(principal, record.tenant_id)) {
    return refuse(new WardenError('WARDEN_NOT_FOUND', `no approval for job ${record.job_id}`));
  }
  if (!hasRole(principal, ...(record.approver_roles as Role[]))) {
    return refuse(
      new WardenError(
        'WARDEN_FORBIDDEN',
        `resolving this approval needs one of the roles: ${record.approver_roles.join(', ')}`,
        { approver_roles: record.approver_roles },
      ),
    );
  }
  if (
    principal.id === record.requested_by &&
    !record.allow_self_approval &&
    attempt.may_resolve_own !== true
  ) {
    return refuse(
      new WardenError('WARDEN_SELF_APPROVAL', 'the requester cannot resolve their own approval'),
    );
  }
  if (isDue(record, attempt.at)) {
    return { kind: 'expired', record: expired(record, attempt.at) };
  }
  if (approvers(record).includes(principal.id) && attempt.decision === 'approve') {
    return refuse(
      new WardenError(
        'WARDEN_APPROVAL_RESOLVED',
        `${principal.id} already approved; ${String(record.quorum - approvers(record).length)} more distinct approver(s) needed`,
        { status: record.status },
      ),
    );
  }
  if (
    attempt.decision === 'approve' &&
    attempt.seen_hash !== undefined &&
    attempt.seen_hash !== record.job_hash
  ) {
    return refuse(
      new WardenError('WARDEN_JOB_HASH_MISMATCH', 'the job is not the one you reviewed', {
        job_hash: record.job_hash,
      }),
    );
  }
  const resolution: Resolution = {
    by: principal.id,
    decision: attempt.decision,
    note: attempt.note,
    at: attempt.at,
  };
  const next = {
    ...record,
    resolutions: [...record.resolutions, resolution],
    version: record.version + 1,
  };
  if (attempt.decision === 'reject') {
    // One reject rejects, whatever the quorum.
    return {
      kind: 'rejected',
      record: close(next, 'REJECTED', attempt.at, `rejected by ${principal.id}`),
    };
  }
  const count = approvers(next).length;
  if (count < record.quorum) return { kind: 'recorded', record: next };
  return {
    kind: 'approved',
    record: close(next, 'APPROVED', attempt.at, `approved by ${approvers(next).join(', ')}`),
  };
}

/** The approval once its deadline has passed; null when it is not pending or not yet due. */
export function expireApproval(record: ApprovalRecord, at: string): ApprovalRecord | null {
  if (record.status !== 'PENDING' || !isDue(record, at)) return null;
  return expired(record, at);
}

/**
 * The approval closed because the job it binds to no longer hashes to what was submitted (the
 * stored job was changed behind the gateway's back).
 */
export function breakBinding(record: ApprovalRecord, at: string): ApprovalRecord {
  return close(
    { ...record, version: record.version + 1 },
    'REJECTED',
    at,
    'the stored job no longer matches its hash',
  );
}

/** The approval of a job cancelled while it waited: closed, as nobody can approve it now. */
export function withdrawApproval(record: ApprovalRecord, at: string): ApprovalRecord | null {
  if (record.status !== 'PENDING') return null;
  return close(
    { ...record, version: record.version + 1 },
    'REJECTED',
    at,
    'withdrawn: the job was cancelled',
  );
}

/**
 * The approval closed because no approver could be told about it (notifier fail mode `closed`):
 * a request nobody knows about must not wait for its deadline as if someone were deciding it.
 */
export function unannouncedApproval(
  record: ApprovalRecord,
  at: string,
  reason: string,
): ApprovalRecord | null {
  if (record.status !== 'PENDING') return null;
  return close(
    { ...record, version: record.version + 1 },
    'REJECTED',
    at,
    `no approver could be notified: ${reason}`,
  );
}

function expired(record: ApprovalRecord, at: string): ApprovalRecord {
  return close({ ...record, version: record.version + 1 }, 'EXPIRED', at, 'approval timed out');
}

function close(
  record: ApprovalRecord,
  status: Exclude<ApprovalStatus, 'PENDING'>,
  at: string,
  reason: string,
): ApprovalRecord {
  return { ...record, status, resolved_at: at, closed_reason: reason };
}
