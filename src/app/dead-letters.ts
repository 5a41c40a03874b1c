/**
 * The dead-letter list (§3): bus jobs whose attempts ran out, kept whole (request, decision
 * record, constraints, attempts, last result). A retry is a new job submitted with the same
 * request: it goes through policy again, so a policy that changed since decides it afresh.
 */
import { WardenError } from '../core/errors.js';
import { jobEvent } from '../core/jobs/events.js';
import type { DeadLetter, JobRecord } from '../core/jobs/job.js';
import { hasRole, inTenant, requireRole, tenantFilter } from '../core/model/principal.js';
import type { Principal } from '../core/model/principal.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';
import type { JobService } from './jobs.js';

export interface DeadLetterPage {
  readonly items: readonly DeadLetter[];
  readonly next_cursor: string | null;
}

export class DeadLetterService {
  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly clock: Clock;
      readonly jobs: JobService;
    },
  ) {}

  async list(
    principal: Principal,
    page: { readonly cursor?: string; readonly limit: number },
  ): Promise<DeadLetterPage> {
    requireRole(principal, 'admin', 'auditor', 'approver');
    const items = await this.deps.store.listDeadLetters({
      ...tenantFilter(principal),
      ...(page.cursor === undefined ? {} : { after: page.cursor }),
      limit: page.limit,
    });
    const last = items.at(-1);
    return {
      items,
      next_cursor: items.length === page.limit && last !== undefined ? last.job.job_id : null,
    };
  }

  async get(jobId: string, principal: Principal): Promise<DeadLetter> {
    requireRole(principal, 'admin', 'auditor', 'approver', 'agent');
    const dead = await this.deps.store.getDeadLetter(jobId);
    if (dead === null || !canSee(principal, dead.job)) {
      throw new WardenError('WARDEN_NOT_FOUND', `no dead letter ${jobId}`);
    }
    return dead;
  }

  /** Submits the dead job's request again, as the caller, on the same trace. */
  async retry(jobId: string, principal: Principal): Promise<JobRecord> {
    requireRole(principal, 'agent', 'admin');
    const { job } = await this.get(jobId, principal);
    const { job: retried } = await this.deps.jobs.submit(
      {
        topic: job.topic,
        tenant_id: job.tenant_id,
        ...(job.agent_id === null ? {} : { agent_id: job.agent_id }),
        risk_tags: job.risk_tags,
        labels: job.labels,
        ...(job.payload === undefined ? {} : { payload: job.payload }),
        dispatch: job.dispatch,
        trace_id: job.trace_id,
      },
      principal,
    );
    await this.deps.store.markRetried(job.job_id, retried.job_id, [
      jobEvent(job, this.deps.clock.now(), principal.id, 'job.dead_letter_retried', {
        retried_as: retried.job_id,
        decision: retried.decision.type,
      }),
    ]);
    return retried;
  }
}

/** Tenant first; an agent sees only the jobs it submitted. */
function canSee(principal: Principal, job: JobRecord): boolean {
  if (!inTenant(principal, job.tenant_id)) return false;
  return hasRole(principal, 'admin', 'auditor', 'approver') || job.principal === principal.id;
}
