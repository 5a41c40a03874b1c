/**
 * Work use cases (§1, §7, §8): workers lease bus jobs and report results; inline callers claim
 * their cleared jobs and report; the gateway times out jobs past their deadline, returns jobs
 * whose lease expired, checks every output before it is stored, and lets approvers release or
 * discard a quarantined output. Every state change is a pure move (core/jobs/execution.ts)
 * applied by compare-and-set, so two actors racing on one job never both win.
 */
import { WardenError } from '../core/errors.js';
import {
  extendLease,
  failAttempt,
  finishRun,
  resolveQuarantine,
  startRun,
  timeOut,
} from '../core/jobs/execution.js';
import type { CheckedOutput, Move, Stamp } from '../core/jobs/execution.js';
import type { JobRecord } from '../core/jobs/job.js';
import { requestOfJob } from '../core/jobs/job-hash.js';
import { hasRole, inTenant, requireRole } from '../core/model/principal.js';
import type { Principal } from '../core/model/principal.js';
import type { CompiledPolicy } from '../core/policy/index.js';
import type { Clock } from '../ports/clock.js';
import type { Delivery, Dispatcher } from '../ports/dispatcher.js';
import type { Ids } from '../ports/ids.js';
import type { DispatchOutcome, Metrics } from '../ports/metrics.js';
import type { Store } from '../ports/store.js';
import type { AgentProfiles } from './decider.js';
import type { JobService } from './jobs.js';

export interface WorkServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly dispatcher: Dispatcher;
  readonly jobs: JobService;
  readonly profiles: AgentProfiles;
  /** The active policy: its output rules check every result. */
  readonly policy: () => CompiledPolicy;
  readonly metrics: Metrics;
}

export const DEFAULT_LEASE_SEC = 30;
/** How many overdue jobs one sweep handles per kind. */
const SWEEP_BATCH = 100;
/** A message for a tenant the worker cannot see goes back to the queue after this long. */
const FOREIGN_RELEASE_MS = 1000;

export interface LeaseRequest {
  readonly topics: readonly string[];
  /** Seconds to wait for a job when none is ready. */
  readonly wait_sec: number;
  readonly max: number;
  readonly lease_sec: number;
  /** Ends the wait early (the client went away, the server is stopping). */
  readonly signal?: AbortSignal;
}

/** What a worker gets: the job, its constraints and its deadline, and the lease that proves it. */
export interface LeasedJob {
  readonly lease_id: string;
  readonly lease_expires_at: string;
  readonly deadline_at: string | null;
  readonly job: JobRecord;
}

export interface ResultReport {
  readonly status: 'succeeded' | 'failed';
  readonly output?: unknown;
  readonly error?: string;
  /** A failed attempt worth retrying (default true); false fails the job at once. */
  readonly retryable?: boolean;
  /** Required for bus jobs: the lease the result is reported under. */
  readonly lease_id?: string;
}

export interface HeartbeatAnswer {
  readonly state: JobRecord['state'];
  /** True when the worker must stop: the job timed out, was cancelled, or the lease was lost. */
  readonly cancel: boolean;
  readonly lease_expires_at: string | null;
  readonly deadline_at: string | null;
}

export class WorkService {
  constructor(private readonly deps: WorkServiceDeps) {}

  /**
   * Leases up to `max` jobs whose topic matches, waiting up to `wait_sec` for the first. A
   * delivery of a job that is no longer waiting (cancelled, already leased by a duplicate
   * delivery) is acknowledged and skipped.
   */
  async lease(principal: Principal, request: LeaseRequest): Promise<readonly LeasedJob[]> {
    requireRole(principal, 'worker', 'admin');
    const until = Date.now() + request.wait_sec * 1000;
    const leased: LeasedJob[] = [];
    for (;;) {
      const deliveries = await this.deps.dispatcher.receive({
        topics: request.topics,
        max: request.max,
        wait_ms: Math.max(0, until - Date.now()),
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      });
      for (const delivery of deliveries) {
        const job = await this.take(principal, delivery, request.lease_sec);
        if (job !== null) leased.push(job);
      }
      // Only deliveries that all turned out stale, with time left, are worth another wait.
      const stale = deliveries.length > 0 && leased.length === 0;
      if (!stale || Date.now() >= until || request.signal?.aborted === true) return leased;
    }
  }

  /** Extends a lease; tells the worker to stop when the job is no longer its to run. */
  async heartbeat(
    jobId: string,
    principal: Principal,
    leaseId: string,
    leaseSec: number,
  ): Promise<HeartbeatAnswer> {
    requireRole(principal, 'worker', 'admin');
    const job = await this.visible(jobId, principal);
    const move =
      job.lease?.lease_id === leaseId ? extendLease(job, this.stamp(principal), leaseSec) : null;
    const extended = move === null ? null : await this.apply(job, move);
    if (extended === null) {
      const now = await this.deps.store.getJob(jobId);
      return {
        state: now?.state ?? job.state,
        cancel: true,
        lease_expires_at: null,
        deadline_at: null,
      };
    }
    return {
      state: extended.state,
      cancel: false,
      lease_expires_at: extended.lease?.expires_at ?? null,
      deadline_at: extended.deadline_at ?? null,
    };
  }

  /**
   * Inline mode: the submitter starts running its cleared job. The hash must be the one the job
   * was decided (and approved) under, and the stored job must still hash to it.
   */
  async claim(jobId: string, principal: Principal, jobHash: string): Promise<JobRecord> {
    requireRole(principal, 'agent', 'admin');
    const job = await this.deps.jobs.get(jobId, principal);
    if (job.principal !== principal.id && !hasRole(principal, 'admin')) {
      throw new WardenError('WARDEN_FORBIDDEN', 'only the submitter can claim an inline job');
    }
    if (job.dispatch !== 'inline') {
      throw invalidState(job, 'bus jobs are leased by workers, not claimed');
    }
    if (job.state !== 'QUEUED')
      throw invalidState(job, 'only a QUEUED (cleared) job can be claimed');
    if (jobHash !== job.job_hash) {
      throw new WardenError(
        'WARDEN_JOB_HASH_MISMATCH',
        'the job hash does not match the job that was decided',
        { job_hash: job.job_hash },
      );
    }
    if (!(await this.deps.jobs.releaseCheck(job, 'claim'))) {
      throw new WardenError(
        'WARDEN_JOB_HASH_MISMATCH',
        'the stored job no longer matches its hash; it was denied',
      );
    }
    const claimed = await this.apply(job, startRun(job, this.stamp(principal), null));
    if (claimed === null) throw await this.moved(jobId);
    return claimed;
  }

  /** A result for a RUNNING job: failures retry or fail; outputs pass output safety first. */
  async report(jobId: string, principal: Principal, report: ResultReport): Promise<JobRecord> {
    requireRole(principal, 'worker', 'agent', 'admin');
    const job = await this.visible(jobId, principal);
    this.mayReport(job, principal, report.lease_id);
    if (job.state !== 'RUNNING') throw invalidState(job, 'results are accepted while RUNNING');
    const stamp = this.stamp(principal);
    const move =
      report.status === 'failed'
        ? failAttempt(job, stamp, {
            error: report.error ?? 'the worker reported a failure',
            retryable: report.retryable ?? true,
            result: {
              status: 'failed',
              error: report.error ?? 'the worker reported a failure',
              attempt: job.attempt,
              reported_by: principal.id,
              reported_at: stamp.now,
            },
            event: { type: 'job.result', data: { status: 'failed', error: report.error ?? null } },
          })
        : finishRun(job, stamp, await this.check(job, report.output, stamp.now));
    const written = await this.apply(job, move);
    if (written === null) throw await this.moved(jobId);
    this.counted(written);
    return written;
  }

  /** An approver releases (SUCCEEDED) or discards (FAILED) a quarantined output. */
  async resolveQuarantine(
    jobId: string,
    principal: Principal,
    release: boolean,
    note: string,
  ): Promise<JobRecord> {
    requireRole(principal, 'approver', 'admin');
    const job = await this.deps.jobs.get(jobId, principal);
    if (job.state !== 'QUARANTINED') throw invalidState(job, 'the job holds no quarantined output');
    if (job.principal === principal.id) {
      throw new WardenError(
        'WARDEN_SELF_APPROVAL',
        'the submitter of a job cannot release or discard its quarantined output',
      );
    }
    const written = await this.apply(
      job,
      resolveQuarantine(job, this.stamp(principal), release, note),
    );
    if (written === null) throw await this.moved(jobId);
    return written;
  }

  /** One pass: times out jobs past their deadline, returns jobs whose lease expired. */
  async sweep(): Promise<{ readonly timed_out: number; readonly expired: number }> {
    const now = this.deps.clock.now();
    const stamp: Stamp = { actor: 'system', now };
    let timedOut = 0;
    for (const job of await this.deps.store.dueDeadlines(now, SWEEP_BATCH)) {
      if ((await this.apply(job, timeOut(job, stamp))) !== null) {
        timedOut++;
        this.deps.metrics.dispatch('timed_out');
      }
    }
    let expired = 0;
    for (const job of await this.deps.store.dueLeases(now, SWEEP_BATCH)) {
      const move = failAttempt(job, stamp, {
        error: 'the lease expired without a result',
        retryable: true,
        event: { type: 'job.lease_expired', data: { lease_id: job.lease?.lease_id ?? null } },
      });
      const written = await this.apply(job, move);
      if (written !== null) {
        expired++;
        this.deps.metrics.dispatch('lease_expired');
        this.counted(written);
      }
    }
    return { timed_out: timedOut, expired };
  }

  private async take(
    principal: Principal,
    delivery: Delivery,
    leaseSec: number,
  ): Promise<LeasedJob | null> {
    const sent = delivery.message.job;
    if (!inTenant(principal, sent.tenant_id)) {
      // Another tenant's work: leave it for a worker that may see it.
      await delivery.release(FOREIGN_RELEASE_MS);
      return null;
    }
    const job = await this.deps.store.getJob(sent.job_id);
    if (job === null || job.attempt !== sent.attempt) {
      await delivery.ack();
      return null;
    }
    const leaseId = this.deps.ids.leaseId();
    const running = await this.apply(
      job,
      startRun(job, this.stamp(principal), { lease_id: leaseId, lease_sec: leaseSec }),
    );
    await delivery.ack();
    if (running === null) return null;
    this.deps.metrics.dispatch('leased');
    return {
      lease_id: leaseId,
      lease_expires_at: running.lease?.expires_at ?? '',
      deadline_at: running.deadline_at ?? null,
      job: running,
    };
  }

  /** Checks an output against the size limit and the active policy's output rules. */
  private async check(job: JobRecord, output: unknown, now: string): Promise<CheckedOutput> {
    const text = JSON.stringify(output ?? null);
    const bytes = new TextEncoder().encode(text).length;
    const limit = job.constraints.max_output_bytes;
    if (limit !== undefined && bytes > limit) {
      return { action: 'block', rule_ids: [], findings: [], output: undefined, bytes };
    }
    const agent =
      job.agent_id === null
        ? undefined
        : await this.deps.profiles.profile(job.tenant_id, job.agent_id);
    const verdict = this.deps
      .policy()
      .checkOutput(
        requestOfJob(job),
        output ?? null,
        { now, ...(agent === undefined ? {} : { agent }) },
        { redactAll: job.constraints.redact_output === true },
      );
    return {
      action: verdict.action,
      rule_ids: verdict.rule_ids,
      findings: verdict.findings.map(({ rule_id, scanner, kind, path }) => ({
        rule_id,
        scanner,
        kind,
        path,
      })),
      output: verdict.output,
      bytes,
    };
  }

  /** Bus results need the lease; inline results come from the submitter. */
  private mayReport(job: JobRecord, principal: Principal, leaseId: string | undefined): void {
    if (job.dispatch === 'inline') {
      if (job.principal !== principal.id && !hasRole(principal, 'admin')) {
        throw new WardenError('WARDEN_FORBIDDEN', 'only the submitter reports an inline job');
      }
      return;
    }
    requireRole(principal, 'worker', 'admin');
    if (job.state === 'RUNNING' && (leaseId === undefined || job.lease?.lease_id !== leaseId)) {
      throw new WardenError('WARDEN_LEASE_LOST', 'this lease no longer holds the job', {
        state: job.state,
      });
    }
  }

  /** Workers see the jobs of their tenant; others see what the job service lets them see. */
  private async visible(jobId: string, principal: Principal): Promise<JobRecord> {
    if (!hasRole(principal, 'worker')) return this.deps.jobs.get(jobId, principal);
    const job = await this.deps.store.getJob(jobId);
    if (job === null || !inTenant(principal, job.tenant_id)) {
      throw new WardenError('WARDEN_NOT_FOUND', `no job ${jobId}`);
    }
    return job;
  }

  private apply(job: JobRecord, move: Move): Promise<JobRecord | null> {
    return this.deps.jobs.transition(job.job_id, move.from, move.patch, move.events, move.guard);
  }

  private counted(job: JobRecord): void {
    const outcome: DispatchOutcome | null =
      job.state === 'SUCCEEDED'
        ? 'succeeded'
        : job.state === 'QUARANTINED'
          ? 'quarantined'
          : job.state === 'QUEUED'
            ? 'retried'
            : job.state === 'FAILED'
              ? 'failed'
              : null;
    if (outcome !== null) this.deps.metrics.dispatch(outcome);
  }

  private stamp(principal: Principal): Stamp {
    return { actor: principal.id, now: this.deps.clock.now() };
  }

  private async moved(jobId: string): Promise<WardenError> {
    const now = await this.deps.store.getJob(jobId);
    return new WardenError('WARDEN_INVALID_STATE', `job ${jobId} is now ${now?.state ?? 'gone'}`, {
      state: now?.state ?? null,
    });
  }
}

function invalidState(job: JobRecord, why: string): WardenError {
  return new WardenError('WARDEN_INVALID_STATE', `job ${job.job_id} is ${job.state}: ${why}`, {
    state: job.state,
  });
}
