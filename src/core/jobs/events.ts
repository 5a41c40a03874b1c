/** The audit events that belong to a job: on its trace, in its tenant, linked to it. */
import type { UnsealedEvent } from '../audit/chain.js';
import type { JobRecord } from './job.js';

export function jobEvent(
  job: Pick<JobRecord, 'job_id' | 'tenant_id' | 'trace_id'>,
  at: string,
  actor: string,
  type: string,
  data: unknown,
): UnsealedEvent {
  return {
    at,
    type,
    tenant_id: job.tenant_id,
    trace_id: job.trace_id,
    job_id: job.job_id,
    actor,
    data,
  };
}
