/**
 * `warden/client`: inline mode (§1) for agents that run their own actions. `guard()` submits the
 * action with `dispatch: "inline"`, waits for a human when policy asks for one, runs the action
 * only once the gateway has cleared it, and reports the outcome so output safety and the audit
 * trail cover it. What it returns is the output as the gateway stored it (redacted where an
 * output rule says so), never the raw output, except under fail-open.
 *
 * Fail mode (§11) covers the decision only: when the gateway cannot be reached, or does not
 * answer the submit within `deadlineMs`, `closed` (the default) refuses to run the action and
 * `open` runs it unguarded and calls `onFailOpen`. Once a decision exists, no later failure ever
 * runs an action that was not cleared.
 *
 * @example
 * const warden = createClient({ url: 'http://127.0.0.1:8081', key: process.env.WARDEN_KEY });
 * const ticket = await warden.guard(
 *   { topic: 'job.mcp-bridge.write.update_ticket', payload: { id: 42, status: 'closed' } },
 *   () => tickets.update(42, { status: 'closed' }),
 * );
 */
import type { JobRecord } from '../core/jobs/job.js';
import type { JobState } from '../core/jobs/states.js';
import type { Decision } from '../core/model/decision.js';
import { WardenApiError, WardenHttp, WardenUnreachable } from './http.js';
import type { FetchLike } from './http.js';

export { WardenApiError, WardenUnreachable } from './http.js';
export type { FetchLike } from './http.js';
export type { JobRecord } from '../core/jobs/job.js';
export type { JobState } from '../core/jobs/states.js';
export type { Constraints, Decision, DecisionType } from '../core/model/decision.js';

/** The action to guard: the job fields of §3, without `dispatch` (always inline here). */
export interface GuardRequest {
  readonly topic: string;
  readonly tenant_id?: string;
  readonly agent_id?: string;
  readonly risk_tags?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  /** The action's arguments: what an approver sees and what the job hash binds. */
  readonly payload?: unknown;
  readonly idempotency_key?: string;
  readonly trace_id?: string;
}

/** The gateway's answer to a submit. */
export interface SubmitAnswer {
  readonly job_id: string;
  readonly trace_id: string;
  readonly state: JobState;
  readonly job_hash: string;
  readonly decision: Decision;
  /** The gateway's store was down and its fail mode let this decision through unrecorded. */
  readonly fail_open?: 'store';
}

/** The action was not cleared (denied, throttled, rejected, expired, cancelled), or failed output safety. */
export class GuardDenied extends Error {
  constructor(
    readonly state: JobState,
    readonly decision: Decision,
    readonly jobId: string,
    /** The whole job when it was read (after approval waits and reports). */
    readonly job: JobRecord | null,
    message: string,
  ) {
    super(message);
    this.name = 'GuardDenied';
  }

  /** Seconds to wait before asking again, for a THROTTLED action. */
  get retryAfterSec(): number | null {
    return this.decision.retry_after_sec;
  }
}

/** No approver decided within `approvalTimeoutMs`; the job was cancelled and nothing ran. */
export class GuardTimeout extends Error {
  constructor(
    readonly jobId: string,
    readonly waitedMs: number,
  ) {
    super(`no approval for job ${jobId} within ${String(waitedMs)} ms; the action did not run`);
    this.name = 'GuardTimeout';
  }
}

/** The action ran but its output is held for an approver (QUARANTINED); it is not returned. */
export class GuardOutputHeld extends Error {
  constructor(readonly job: JobRecord) {
    super(`the output of job ${job.job_id} is quarantined until an approver releases it`);
    this.name = 'GuardOutputHeld';
  }
}

/** The gateway could not decide in time, under fail mode `closed`: the action did not run. */
export class GatewayUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatewayUnavailable';
  }
}

export interface ClientOptions {
  readonly url: string;
  /** API key with the `agent` role. */
  readonly key?: string;
  /** How long the submit (the decision) may take before the fail mode applies (default 2000). */
  readonly deadlineMs?: number;
  /** What to do when no decision arrives in time (default `closed`: do not run). */
  readonly failMode?: 'closed' | 'open';
  /** Called each time an action runs unguarded under fail-open, so callers can count it. */
  readonly onFailOpen?: (reason: string) => void;
  /** Timeout of the calls after the decision (claim, report, polls), in ms (default 30 000). */
  readonly requestTimeoutMs?: number;
  readonly fetch?: FetchLike;
}

export interface GuardOptions {
  /** How long to wait for an approver before giving up (default 60 000). */
  readonly approvalTimeoutMs?: number;
}

export interface Client {
  /**
   * Runs `fn` only if the gateway clears `request`, and returns its output as the gateway stored
   * it (redacted strings replace secrets; the shape is kept). Throws `GuardDenied`,
   * `GuardTimeout`, `GuardOutputHeld` or `GatewayUnavailable`; an error thrown by `fn` is
   * reported as the job's failure and rethrown.
   */
  guard<T>(request: GuardRequest, fn: () => T | Promise<T>, options?: GuardOptions): Promise<T>;
}

const DEFAULT_DEADLINE_MS = 2_000;
const DEFAULT_APPROVAL_TIMEOUT_MS = 60_000;
const POLL_MIN_MS = 100;
const POLL_MAX_MS = 1_000;
const MAX_ERROR_CHARS = 4000;

/** States in which the action will never be cleared. */
const REFUSED: ReadonlySet<JobState> = new Set([
  'DENIED',
  'THROTTLED',
  'REJECTED',
  'EXPIRED',
  'CANCELLED',
]);

export function createClient(options: ClientOptions): Client {
  const http = new WardenHttp({
    url: options.url,
    key: options.key,
    fetch: options.fetch,
    timeoutMs: options.requestTimeoutMs,
  });
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const failMode = options.failMode ?? 'closed';

  async function guard<T>(
    request: GuardRequest,
    fn: () => T | Promise<T>,
    guardOptions: GuardOptions = {},
  ): Promise<T> {
    let submitted: SubmitAnswer;
    try {
      submitted = await http.post<SubmitAnswer>(
        '/api/v1/jobs',
        { ...request, dispatch: 'inline' },
        { timeoutMs: deadlineMs },
      );
    } catch (error) {
      if (!undecided(error)) throw error;
      const reason = `no decision from the gateway: ${(error as Error).message}`;
      if (failMode === 'closed') throw new GatewayUnavailable(reason, { cause: error });
      options.onFailOpen?.(reason);
      return fn();
    }
    if (submitted.fail_open !== undefined) {
      // Nothing was recorded, so there is no job to claim or report to: the gateway's decision
      // (an allow) is all there is, and the gateway counted and will audit the fail-open.
      options.onFailOpen?.(`the gateway's ${submitted.fail_open} is down and fails open`);
      return fn();
    }
    const jobPath = `/api/v1/jobs/${encodeURIComponent(submitted.job_id)}`;
    let state = submitted.state;
    let job: JobRecord | null = null;
    if (state === 'APPROVAL_REQUIRED') {
      job = await waitForApproval(
        jobPath,
        submitted,
        guardOptions.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS,
      );
      state = job.state;
    }
    if (state !== 'QUEUED') {
      throw new GuardDenied(
        state,
        job?.decision ?? submitted.decision,
        submitted.job_id,
        job,
        refusal(state, job?.decision ?? submitted.decision),
      );
    }

    await http.post<JobRecord>(`${jobPath}/claim`, { job_hash: submitted.job_hash });
    let output: T;
    try {
      output = await fn();
    } catch (error) {
      // The failure is recorded; the caller still gets its own error.
      await http
        .post(`${jobPath}/result`, {
          status: 'failed',
          error: (error instanceof Error ? error.message : String(error)).slice(0, MAX_ERROR_CHARS),
        })
        .catch(() => undefined);
      throw error;
    }
    const finished = await http.post<JobRecord>(`${jobPath}/result`, {
      status: 'succeeded',
      ...(output === undefined ? {} : { output }),
    });
    switch (finished.state) {
      case 'SUCCEEDED':
        // The stored output is the same JSON shape with findings replaced by markers.
        return finished.result?.output as T;
      case 'QUARANTINED':
        throw new GuardOutputHeld(finished);
      default:
        throw new GuardDenied(
          finished.state,
          finished.decision,
          finished.job_id,
          finished,
          `the output of job ${finished.job_id} was refused: ${finished.result?.error ?? finished.state}`,
        );
    }
  }

  /** Re-reads the job until it leaves APPROVAL_REQUIRED; cancels it when the wait runs out. */
  async function waitForApproval(
    jobPath: string,
    submitted: SubmitAnswer,
    timeoutMs: number,
  ): Promise<JobRecord> {
    const started = Date.now();
    let pause = POLL_MIN_MS;
    for (;;) {
      const job = await http.get<JobRecord>(jobPath);
      if (job.state !== 'APPROVAL_REQUIRED') return job;
      const left = started + timeoutMs - Date.now();
      if (left <= 0) {
        // Withdrawn, so an approver cannot later clear an action nobody will run.
        const cancelled = await http
          .post<JobRecord>(`${jobPath}/cancel`, undefined)
          .catch((error: unknown) => error);
        // Approved in the meantime: the caller asked for this action, so run it.
        if (cancelled instanceof WardenApiError && cancelled.status === 409) {
          const now = await http.get<JobRecord>(jobPath);
          if (now.state !== 'APPROVAL_REQUIRED') return now;
        }
        throw new GuardTimeout(submitted.job_id, timeoutMs);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      pause = Math.min(pause * 2, POLL_MAX_MS);
    }
  }

  return { guard };
}

/** The gateway did not decide: unreachable, too slow, or unable to (5xx, e.g. store down). */
function undecided(error: unknown): boolean {
  return (
    error instanceof WardenUnreachable || (error instanceof WardenApiError && error.status >= 500)
  );
}

function refusal(state: JobState, decision: Decision): string {
  const rule = decision.rule_id ?? 'default decision';
  return REFUSED.has(state)
    ? `${state}: ${decision.reason} (${rule})`
    : `the job is ${state}, not cleared to run (${rule})`;
}
