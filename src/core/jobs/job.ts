/**
 * A job as the gateway stores it: the request, who asked, the decision that was made for it,
 * and where it is in its life (§3).
 */
import type { Constraints, Decision } from '../model/decision.js';
import type { DispatchMode } from '../model/request.js';
import type { JobState } from './states.js';

export interface JobRecord {
  readonly job_id: string;
  readonly tenant_id: string;
  readonly topic: string;
  readonly agent_id: string | null;
  /** From authentication, never from the request body. */
  readonly principal: string;
  readonly trace_id: string;
  readonly idempotency_key: string | null;
  readonly dispatch: DispatchMode;
  readonly risk_tags: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Absent when the request carried no payload (the job hash then omits it). */
  readonly payload?: unknown;
  readonly job_hash: string;
  readonly state: JobState;
  /** The durable decision record: rule, reason, policy snapshot, constraints. */
  readonly decision: Decision;
  /** Fixed at decision time (re-fixed on approval); what workers must honour. */
  readonly constraints: Constraints;
  readonly attempt: number;
  readonly created_at: string;
  readonly updated_at: string;
  /** While a worker holds the job (RUNNING, dispatched over the bus). */
  readonly lease?: Lease;
  /** While RUNNING with `max_runtime_sec`: when the gateway times it out. */
  readonly deadline_at?: string;
  /** What the last attempt reported, after output safety; absent until a result arrives. */
  readonly result?: JobResult;
}

/** A worker's hold on a running job; heartbeats move `expires_at`. */
export interface Lease {
  readonly lease_id: string;
  /** The principal (key id) of the worker. */
  readonly worker: string;
  readonly expires_at: string;
}

/** One recorded output finding: where and what kind, never the matched text. */
export interface ResultFinding {
  readonly rule_id: string;
  readonly scanner: string;
  readonly kind: string;
  readonly path: string;
}

export interface JobResult {
  readonly status: 'succeeded' | 'failed';
  /** The output as stored after output safety (redacted where a rule said so); absent if withheld. */
  readonly output?: unknown;
  /** Why the attempt failed, as reported by the worker or decided by the gateway. */
  readonly error?: string;
  /** The output safety verdict, when the output was scanned. */
  readonly output_action?: 'allow' | 'redact' | 'quarantine' | 'block';
  readonly findings?: readonly ResultFinding[];
  readonly attempt: number;
  readonly reported_by: string;
  readonly reported_at: string;
}

/** The fields a state change may rewrite. */
export interface JobPatch {
  readonly state: JobState;
  readonly updated_at: string;
  readonly decision?: Decision;
  readonly constraints?: Constraints;
  readonly attempt?: number;
  /** Null clears it. */
  readonly lease?: Lease | null;
  readonly deadline_at?: string | null;
  readonly result?: JobResult | null;
  /** Puts the job on the dead-letter list, in the same write, with this reason. */
  readonly dead_letter?: string;
}

/** Extra conditions on a job's compare-and-set, beside its state. */
export interface JobGuard {
  /** The job is still at this attempt (a retry or an expired lease has not moved it on). */
  readonly attempt?: number;
  /** The job is still held under this lease. */
  readonly lease_id?: string;
}

/** A job whose attempts are exhausted, kept with all its governance metadata (§3). */
export interface DeadLetter {
  readonly job: JobRecord;
  readonly reason: string;
  readonly dead_at: string;
  /** The job created by the latest retry, if any. */
  readonly retried_as: string | null;
}

/** The job with a patch applied: absent patch fields keep their value, null clears one. */
export function applyPatch(job: JobRecord, patch: JobPatch): JobRecord {
  const { lease, deadline_at, result, ...rest } = job;
  const next: JobRecord = {
    ...rest,
    state: patch.state,
    updated_at: patch.updated_at,
    decision: patch.decision ?? job.decision,
    constraints: patch.constraints ?? job.constraints,
    attempt: patch.attempt ?? job.attempt,
  };
  const keep = <T>(patched: T | null | undefined, current: T | undefined): T | undefined =>
    patched === null ? undefined : (patched ?? current);
  const nextLease = keep(patch.lease, lease);
  const nextDeadline = keep(patch.deadline_at, deadline_at);
  const nextResult = keep(patch.result, result);
  return {
    ...next,
    ...(nextLease === undefined ? {} : { lease: nextLease }),
    ...(nextDeadline === undefined ? {} : { deadline_at: nextDeadline }),
    ...(nextResult === undefined ? {} : { result: nextResult }),
  };
}

/** A bus job cleared to run and not published yet: the outbox relay's next work. */
export function awaitsPublish(job: Pick<JobRecord, 'dispatch' | 'state'>): boolean {
  return job.dispatch === 'bus' && job.state === 'QUEUED';
}

/** A bus job no worker holds yet: it stays in the outbox (§7, ADR 0006). */
export function awaitsWorker(job: Pick<JobRecord, 'dispatch' | 'state'>): boolean {
  return job.dispatch === 'bus' && (job.state === 'QUEUED' || job.state === 'DISPATCHED');
}
