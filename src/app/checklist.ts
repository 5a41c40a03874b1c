/**
 * The governance checklist (§11): four checks, each computed from live state, so a pass means
 * the property holds now, not that it was configured once.
 *
 * 1. Every dispatch path calls policy: no job reached a worker without an audited decision that
 *    let it (a job written straight into the database, or dispatched by a path that skipped the
 *    gateway, fails this).
 * 2. The approval queue is bounded and monitored: no tenant at its bound, and no approval left
 *    pending past its deadline (the expiry sweep is running).
 * 3. The fail mode is explicit: each component's mode is stated, and every fail-open so far is
 *    in the audit trail.
 * 4. Audit data is queryable: the chain and its signed checkpoints verify, and the newest
 *    decision's trace returns its timeline.
 */
import type { Principal } from '../core/model/principal.js';
import { inTenant, requireRole } from '../core/model/principal.js';
import type { Clock } from '../ports/clock.js';
import type { FailOpenComponent } from '../ports/metrics.js';
import type { Store } from '../ports/store.js';
import type { AuditService } from './audit.js';
import type { FailOpenLedger } from './fail-open.js';

export type CheckId =
  'policy_on_every_dispatch' | 'approval_queue_bounded' | 'fail_mode_explicit' | 'audit_queryable';

export interface CheckResult {
  readonly id: CheckId;
  readonly title: string;
  readonly pass: boolean;
  /** What was measured, in words: why it passes, or what to fix. */
  readonly detail: string;
}

export interface ChecklistReport {
  readonly ok: boolean;
  readonly checked_at: string;
  readonly checks: readonly CheckResult[];
}

export interface FailModeView {
  readonly modes: Readonly<Record<FailOpenComponent, 'closed' | 'open'>>;
  /** Components whose mode the config file states; the rest are closed by default. */
  readonly declared: readonly FailOpenComponent[];
}

export interface ChecklistDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly audit: AuditService;
  readonly failModes: FailModeView;
  readonly failOpens: FailOpenLedger;
  /** Pending approvals a tenant may hold. */
  readonly maxPendingApprovals: number;
  /** How long past its deadline an approval may stay pending before the sweep counts as stuck. */
  readonly expiryGraceMs?: number;
}

/** Offending job ids named in a failing check; the count says how many were looked at. */
const SAMPLE = 5;
const SCAN_LIMIT = 1000;
const DEFAULT_EXPIRY_GRACE_MS = 60_000;
/**
 * The checks read everything, whoever asks: pass or fail is the gateway's. The details name a
 * job, trace or tenant only to a key that may see that tenant (§11: a key never reads another
 * tenant's jobs, approvals or audit); the counts in them are the public `/metrics` gauges.
 */
const CHECKER: Principal = { id: 'system:checklist', tenant: '*', roles: ['auditor'] };

export class GovernanceChecklist {
  constructor(private readonly deps: ChecklistDeps) {}

  async run(principal: Principal): Promise<ChecklistReport> {
    requireRole(principal, 'auditor', 'admin');
    const checks = [
      await this.policyOnEveryDispatch(principal),
      await this.approvalQueueBounded(principal),
      this.failModeExplicit(),
      await this.auditQueryable(principal),
    ];
    return {
      ok: checks.every((check) => check.pass),
      checked_at: this.deps.clock.now(),
      checks,
    };
  }

  private async policyOnEveryDispatch(principal: Principal): Promise<CheckResult> {
    const title = 'Every dispatch path calls policy';
    // Jobs older than the oldest kept event lost their decision record to retention, not to a bypass.
    const [oldest] = await this.deps.store.queryAudit({ limit: 1 });
    const since = oldest?.at ?? '';
    const bypassed = await this.deps.store.dispatchedWithoutDecision(since, SCAN_LIMIT);
    if (bypassed.length === 0) {
      return {
        id: 'policy_on_every_dispatch',
        title,
        pass: true,
        detail: 'every job that reached a worker has an audited decision that allowed it',
      };
    }
    const more = bypassed.length >= SCAN_LIMIT ? ' or more' : '';
    const shown = await this.visibleJobs(bypassed, principal);
    const which =
      shown.length === 0 ? 'none in a tenant this key sees' : `e.g. ${shown.join(', ')}`;
    return {
      id: 'policy_on_every_dispatch',
      title,
      pass: false,
      detail:
        `${String(bypassed.length)}${more} job(s) reached a worker without an audited decision ` +
        `allowing them, ${which}: find the path that dispatches around the gateway`,
    };
  }

  private async approvalQueueBounded(principal: Principal): Promise<CheckResult> {
    const title = 'Approval queue is bounded and monitored';
    const bound = this.deps.maxPendingApprovals;
    const busiest = await this.deps.store.busiestApprovalQueue();
    const queue = await this.deps.store.approvalQueue();
    const graceMs = this.deps.expiryGraceMs ?? DEFAULT_EXPIRY_GRACE_MS;
    const stuckBefore = new Date(Date.parse(this.deps.clock.now()) - graceMs).toISOString();
    const stuck = await this.deps.store.dueApprovals(stuckBefore, 1);
    const problems: string[] = [];
    if (busiest !== null && busiest.pending >= bound && !inTenant(principal, busiest.tenant_id)) {
      problems.push(
        `another tenant is at its bound (${String(bound)}) of pending approvals: new ones are ` +
          'denied until approvers catch up',
      );
    } else if (busiest !== null && busiest.pending >= bound) {
      problems.push(
        `tenant ${busiest.tenant_id} holds ${String(busiest.pending)} pending approvals, its bound ` +
          `(${String(bound)}): new ones are denied until approvers catch up`,
      );
    }
    const overdue = stuck[0];
    if (overdue !== undefined && !inTenant(principal, overdue.tenant_id)) {
      problems.push(
        `an approval of another tenant is still pending ${String(Math.round(graceMs / 1000))} s ` +
          'after its deadline: the expiry sweep is not running',
      );
    } else if (overdue !== undefined) {
      problems.push(
        `the approval of job ${overdue.job_id} is still pending ${String(Math.round(graceMs / 1000))} s ` +
          `after its deadline (${overdue.expires_at}): the expiry sweep is not running`,
      );
    }
    const state =
      `${String(queue.pending)} pending (bound ${String(bound)} per tenant)` +
      (queue.oldest_requested_at === null ? '' : `, oldest requested ${queue.oldest_requested_at}`);
    return {
      id: 'approval_queue_bounded',
      title,
      pass: problems.length === 0,
      detail:
        problems.length === 0
          ? `${state}; expiry is on time; depth and age exported as warden_approvals_pending and warden_approval_oldest_pending_seconds`
          : `${problems.join('; ')} (${state})`,
    };
  }

  private failModeExplicit(): CheckResult {
    const title = 'Fail mode is explicit';
    const { modes, declared } = this.deps.failModes;
    const stated = (Object.keys(modes) as FailOpenComponent[])
      .map((c) => `${c}: ${modes[c]}${declared.includes(c) ? '' : ' (default)'}`)
      .join(', ');
    const { count, unaudited } = this.deps.failOpens;
    return {
      id: 'fail_mode_explicit',
      title,
      pass: unaudited === 0,
      detail:
        unaudited === 0
          ? `${stated}; ${String(count)} fail-open(s) since start, each audited`
          : `${stated}; ${String(unaudited)} of ${String(count)} fail-open(s) since start are not ` +
            'in the audit trail yet (it is refusing writes)',
    };
  }

  private async auditQueryable(principal: Principal): Promise<CheckResult> {
    const title = 'Audit data is queryable';
    const verification = await this.deps.audit.verify(CHECKER);
    if (!verification.ok) {
      return {
        id: 'audit_queryable',
        title,
        pass: false,
        detail: `the audit chain does not verify: first bad seq ${String(verification.first_bad_seq)}: ${verification.reason}`,
      };
    }
    const decided = await this.newestDecision();
    if (decided === null) {
      return {
        id: 'audit_queryable',
        title,
        pass: true,
        detail: `chain verified (${String(verification.count)} events); no decision recorded yet`,
      };
    }
    const { events } = await this.deps.audit
      .trace(decided.trace_id, CHECKER)
      .catch(() => ({ events: [] }));
    const found = events.some((e) => e.type === 'job.decided' && e.job_id === decided.job_id);
    if (!inTenant(principal, decided.tenant_id)) {
      return {
        id: 'audit_queryable',
        title,
        pass: found,
        detail: found
          ? `chain verified (${String(verification.count)} events); the newest decision's trace (another tenant's) returns its timeline`
          : "the newest decision's trace (another tenant's) does not return the decision",
      };
    }
    return {
      id: 'audit_queryable',
      title,
      pass: found,
      detail: found
        ? `chain verified (${String(verification.count)} events); trace ${decided.trace_id} returns its timeline (${String(events.length)} events)`
        : `trace ${decided.trace_id} does not return the decision of job ${String(decided.job_id)}`,
    };
  }

  /** Up to SAMPLE of the jobs in a tenant the principal may see. */
  private async visibleJobs(jobIds: readonly string[], principal: Principal): Promise<string[]> {
    const shown: string[] = [];
    for (const jobId of jobIds) {
      if (shown.length === SAMPLE) break;
      const job = await this.deps.store.getJob(jobId);
      if (job !== null && inTenant(principal, job.tenant_id)) shown.push(jobId);
    }
    return shown;
  }

  /** The newest `job.decided` event, found from the head backwards in pages. */
  private async newestDecision(): Promise<{
    tenant_id: string;
    trace_id: string;
    job_id: string | null;
  } | null> {
    const head = await this.deps.store.auditHead();
    if (head === null) return null;
    const page = 500;
    for (let after = Math.max(0, head.seq - page); ; after = Math.max(0, after - page)) {
      const events = await this.deps.store.queryAudit({ after_seq: after, limit: page });
      const decided = events.filter((e) => e.type === 'job.decided').at(-1);
      if (decided !== undefined) return decided;
      if (after === 0) return null;
    }
  }
}
