/**
 * A job's life after it is cleared to run (§3, §6, §7, §8), as pure moves: each says from which
 * states (and under which guard) the job may change, the patch, and the audit events. The app
 * applies a move with one compare-and-set; if the job moved meanwhile, nothing is written.
 *
 * Retries: a failed attempt that may be retried, and an expired lease, count one attempt. While
 * `attempt < max_retries` (default DEFAULT_MAX_RETRIES) the job goes back to QUEUED with
 * `attempt + 1`; after that it is FAILED, and a bus job goes to the dead-letter list.
 */
import type { UnsealedEvent } from '../audit/chain.js';
import { jobEvent } from './events.js';
import type { JobGuard, JobPatch, JobRecord, JobResult, ResultFinding } from './job.js';
import type { JobState } from './states.js';

/** Retries a job gets when its constraints set no `max_retries`. */
export const DEFAULT_MAX_RETRIES = 2;

export interface Move {
  readonly from: readonly JobState[];
  readonly guard: JobGuard;
  readonly patch: JobPatch;
  readonly events: readonly UnsealedEvent[];
}

/** Who and when, for every move. */
export interface Stamp {
  readonly actor: string;
  readonly now: string;
}

function stateChange(job: JobRecord, stamp: Stamp, to: JobState, reason: string): UnsealedEvent {
  return jobEvent(job, stamp.now, stamp.actor, 'job.state_changed', {
    from: job.state,
    to,
    reason,
  });
}

function addSeconds(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString();
}

export function retryBudget(job: JobRecord): number {
  return job.constraints.max_retries ?? DEFAULT_MAX_RETRIES;
}

/**
 * Starts an attempt: a worker's lease of a bus job (QUEUED or DISPATCHED: the lease may beat the
 * relay's own bookkeeping), or the submitter's claim of an inline job. Sets the deadline from
 * `max_runtime_sec`.
 */
export function startRun(
  job: JobRecord,
  stamp: Stamp,
  lease: { readonly lease_id: string; readonly lease_sec: number } | null,
): Move {
  const max = job.constraints.max_runtime_sec;
  const deadline_at = max === undefined ? null : addSeconds(stamp.now, max);
  const held =
    lease === null
      ? null
      : {
          lease_id: lease.lease_id,
          worker: stamp.actor,
          expires_at: addSeconds(stamp.now, lease.lease_sec),
        };
  const type = held === null ? 'job.claimed' : 'job.leased';
  return {
    from: held === null ? ['QUEUED'] : ['QUEUED', 'DISPATCHED'],
    guard: { attempt: job.attempt },
    patch: { state: 'RUNNING', updated_at: stamp.now, lease: held, deadline_at },
    events: [
      jobEvent(job, stamp.now, stamp.actor, type, {
        attempt: job.attempt,
        ...(held === null ? {} : { lease_id: held.lease_id, lease_expires_at: held.expires_at }),
        deadline_at,
        constraints: job.constraints,
      }),
      stateChange(job, stamp, 'RUNNING', held === null ? 'claimed by the caller' : 'leased'),
    ],
  };
}

/** A heartbeat: the lease lives `lease_sec` more. Not audited (it changes nothing governed). */
export function extendLease(job: JobRecord, stamp: Stamp, leaseSec: number): Move | null {
  if (job.lease === undefined) return null;
  return {
    from: ['RUNNING'],
    guard: { lease_id: job.lease.lease_id },
    patch: {
      state: 'RUNNING',
      updated_at: job.updated_at,
      lease: { ...job.lease, expires_at: addSeconds(stamp.now, leaseSec) },
    },
    events: [],
  };
}

/** The relay published the job's dispatch message. */
export function dispatched(job: JobRecord, stamp: Stamp, messageId: string): Move {
  return {
    from: ['QUEUED'],
    guard: { attempt: job.attempt },
    patch: { state: 'DISPATCHED', updated_at: stamp.now },
    events: [
      jobEvent(job, stamp.now, stamp.actor, 'job.dispatched', {
        message_id: messageId,
        attempt: job.attempt,
      }),
      stateChange(job, stamp, 'DISPATCHED', 'published to the dispatcher'),
    ],
  };
}

/**
 * An attempt that did not succeed: retried while the budget lasts (bus jobs only: an inline
 * caller retries by submitting again), else FAILED, and a bus job is dead-lettered.
 */
export function failAttempt(
  job: JobRecord,
  stamp: Stamp,
  failure: {
    readonly error: string;
    readonly retryable: boolean;
    readonly result?: JobResult;
    /** The event that says what happened, before the state change. */
    readonly event: { readonly type: string; readonly data: Record<string, unknown> };
  },
): Move {
  const guard: JobGuard =
    job.lease === undefined
      ? { attempt: job.attempt }
      : { attempt: job.attempt, lease_id: job.lease.lease_id };
  const what = jobEvent(job, stamp.now, stamp.actor, failure.event.type, {
    ...failure.event.data,
    attempt: job.attempt,
  });
  const cleared = {
    lease: null,
    deadline_at: null,
    ...(failure.result === undefined ? {} : { result: failure.result }),
  };
  const budget = retryBudget(job);
  if (failure.retryable && job.dispatch === 'bus' && job.attempt < budget) {
    const reason = `attempt ${String(job.attempt + 1)} of ${String(budget + 1)} failed: ${failure.error}; retrying`;
    return {
      from: ['RUNNING'],
      guard,
      patch: { state: 'QUEUED', updated_at: stamp.now, attempt: job.attempt + 1, ...cleared },
      events: [what, stateChange(job, stamp, 'QUEUED', reason)],
    };
  }
  const exhausted = failure.retryable && job.dispatch === 'bus';
  const reason = exhausted
    ? `${failure.error} (attempts exhausted: ${String(job.attempt + 1)} of ${String(budget + 1)})`
    : failure.error;
  return {
    from: ['RUNNING'],
    guard,
    patch: {
      state: 'FAILED',
      updated_at: stamp.now,
      ...cleared,
      ...(job.dispatch === 'bus' ? { dead_letter: reason } : {}),
    },
    events: [
      what,
      ...(job.dispatch === 'bus'
        ? [jobEvent(job, stamp.now, stamp.actor, 'job.dead_lettered', { reason })]
        : []),
      stateChange(job, stamp, 'FAILED', reason),
    ],
  };
}

/** The deadline passed while the job ran: TIMED_OUT, and the worker is told to stop. */
export function timeOut(job: JobRecord, stamp: Stamp): Move {
  const reason = `max_runtime_sec (${String(job.constraints.max_runtime_sec ?? '?')} s) exceeded`;
  return {
    from: ['RUNNING'],
    guard: { attempt: job.attempt },
    patch: { state: 'TIMED_OUT', updated_at: stamp.now, lease: null },
    events: [
      jobEvent(job, stamp.now, stamp.actor, 'job.timed_out', {
        attempt: job.attempt,
        deadline_at: job.deadline_at ?? null,
      }),
      stateChange(job, stamp, 'TIMED_OUT', reason),
    ],
  };
}

/** What output safety (or the size limit) made of a successful attempt's output. */
export interface CheckedOutput {
  readonly action: 'allow' | 'redact' | 'quarantine' | 'block';
  readonly rule_ids: readonly string[];
  readonly findings: readonly ResultFinding[];
  /** The output to keep (already redacted where a rule said so). */
  readonly output: unknown;
  readonly bytes: number;
}

/**
 * A successful attempt's output, checked: SUCCEEDED with the (possibly redacted) output,
 * QUARANTINED holding it for an approver, or FAILED when a rule blocks it or it exceeds
 * `max_output_bytes` (the output is then not kept). Neither failure is retried: the same work
 * would produce the same output.
 */
export function finishRun(job: JobRecord, stamp: Stamp, checked: CheckedOutput): Move {
  const limit = job.constraints.max_output_bytes;
  const base = { attempt: job.attempt, reported_by: stamp.actor, reported_at: stamp.now };
  if (limit !== undefined && checked.bytes > limit) {
    const error = `output is ${String(checked.bytes)} bytes, over max_output_bytes (${String(limit)})`;
    return failAttempt(job, stamp, {
      error,
      retryable: false,
      result: { status: 'failed', error, ...base },
      event: { type: 'job.result', data: { status: 'succeeded', output_bytes: checked.bytes } },
    });
  }
  const verdict = {
    output_action: checked.action,
    findings: checked.findings,
  };
  const scanned = jobEvent(job, stamp.now, stamp.actor, 'job.output_checked', {
    action: checked.action,
    rule_ids: checked.rule_ids,
    findings: checked.findings,
  });
  if (checked.action === 'block') {
    const error = `output blocked by output rule ${checked.rule_ids.join(', ')}`;
    return failAttempt(job, stamp, {
      error,
      retryable: false,
      result: { status: 'failed', error, ...verdict, ...base },
      event: { type: 'job.result', data: { status: 'succeeded', output_bytes: checked.bytes } },
    });
  }
  const to: JobState = checked.action === 'quarantine' ? 'QUARANTINED' : 'SUCCEEDED';
  const reason =
    to === 'QUARANTINED'
      ? `output held by output rule ${checked.rule_ids.join(', ')} until an approver releases it`
      : checked.action === 'redact'
        ? 'succeeded; output redacted'
        : 'succeeded';
  return {
    from: ['RUNNING'],
    guard:
      job.lease === undefined
        ? { attempt: job.attempt }
        : { attempt: job.attempt, lease_id: job.lease.lease_id },
    patch: {
      state: to,
      updated_at: stamp.now,
      lease: null,
      result: { status: 'succeeded', output: checked.output, ...verdict, ...base },
    },
    events: [
      jobEvent(job, stamp.now, stamp.actor, 'job.result', {
        status: 'succeeded',
        attempt: job.attempt,
        output_bytes: checked.bytes,
      }),
      scanned,
      stateChange(job, stamp, to, reason),
    ],
  };
}

/** An approver's answer to a quarantined output: release it (SUCCEEDED) or discard it (FAILED). */
export function resolveQuarantine(
  job: JobRecord,
  stamp: Stamp,
  release: boolean,
  note: string,
): Move {
  const to: JobState = release ? 'SUCCEEDED' : 'FAILED';
  const reason = release
    ? `quarantined output released by ${stamp.actor}`
    : `quarantined output discarded by ${stamp.actor}`;
  const result: JobResult | undefined =
    job.result === undefined || release ? job.result : withoutOutput(job.result, reason);
  return {
    from: ['QUARANTINED'],
    guard: {},
    patch: {
      state: to,
      updated_at: stamp.now,
      ...(result === undefined ? {} : { result }),
    },
    events: [
      jobEvent(
        job,
        stamp.now,
        stamp.actor,
        release ? 'job.quarantine_released' : 'job.quarantine_discarded',
        { note },
      ),
      stateChange(job, stamp, to, reason),
    ],
  };
}

/** A result whose output was dropped, saying why. */
function withoutOutput(result: JobResult, reason: string): JobResult {
  const kept: { -readonly [K in keyof JobResult]?: JobResult[K] } = { ...result };
  delete kept.output;
  return { ...(kept as JobResult), error: reason };
}
