/**
 * `warden/worker`: run allowed jobs out of process (§7). Each concurrency slot leases one job at a
 * time over HTTP (long-poll), checks the job's arguments against its path and host constraints,
 * runs the handler with an `AbortSignal` tied to `max_runtime_sec` and to the gateway's cancel,
 * heartbeats while it runs, and reports the outcome.
 *
 * The gateway stays the authority: it times jobs out, counts attempts and decides retries. When
 * the signal fires (deadline or cancel) the worker reports nothing, since the gateway has moved
 * (or will, at its deadline) the job to TIMED_OUT or CANCELLED. Path and host checks are
 * cooperative (§6): they cover the job's arguments and what the handler routes through
 * `assertPath`, `assertHost` and `fetch`.
 *
 * @example
 * const worker = createWorker({
 *   url: 'http://127.0.0.1:8081', key: process.env.WARDEN_KEY, topics: ['job.agent.exec.**'],
 *   handler: async ({ payload, signal, fetch }) => (await fetch('https://api.example.com', { signal })).status,
 * });
 * worker.start();
 * process.once('SIGTERM', () => void worker.stop());
 * await worker.done;
 */
import type { JobRecord } from '../core/jobs/job.js';
import type { Constraints } from '../core/model/decision.js';
import {
  ConstraintViolation,
  findArgumentViolation,
  hostViolation,
  pathViolation,
} from './constraints.js';
import { WardenApiError, WardenHttp, WardenUnreachable } from './http.js';
import type { FetchLike } from './http.js';

export { ConstraintViolation } from './constraints.js';
export { WardenApiError, WardenUnreachable } from './http.js';
export type { FetchLike } from './http.js';
export type { JobRecord } from '../core/jobs/job.js';
export type { Constraints } from '../core/model/decision.js';

/** One leased job as `POST /workers/lease` returns it. */
export interface LeasedJob {
  readonly lease_id: string;
  readonly lease_expires_at: string;
  readonly deadline_at: string | null;
  readonly job: JobRecord;
}

/** What a handler gets for one job. */
export interface JobContext {
  readonly job: JobRecord;
  readonly payload: unknown;
  readonly constraints: Constraints;
  /** The lease's deadline (ISO-8601) from the gateway, or null without `max_runtime_sec`. */
  readonly deadlineAt: string | null;
  /**
   * Aborts at `max_runtime_sec` after the lease, or when the gateway says stop (cancelled, timed
   * out, lease lost). `signal.reason` is a `JobAborted` saying which.
   */
  readonly signal: AbortSignal;
  /** Throws `ConstraintViolation` unless `path` is allowed (relative paths resolve against `cwd`). */
  assertPath(path: string): void;
  /** Throws `ConstraintViolation` unless the URL's (or bare host's) host is allowed. */
  assertHost(urlOrHost: string): void;
  /** `fetch` that checks the host first and stops with the job's signal. */
  readonly fetch: FetchLike;
}

/** The handler's return value is the job's output (JSON); a throw fails the attempt. */
export type JobHandler = (context: JobContext) => unknown;

/** Why a job's signal fired. */
export class JobAborted extends Error {
  constructor(
    readonly why: 'deadline' | 'cancel',
    message: string,
  ) {
    super(message);
    this.name = 'JobAborted';
  }
}

/** How one job ended, from this worker's side. */
export interface JobEnd {
  readonly job: JobRecord;
  /**
   * `succeeded`/`failed`: reported; `aborted`: the signal fired and nothing was reported;
   * `unreported`: the gateway refused or did not take the report.
   */
  readonly outcome: 'succeeded' | 'failed' | 'aborted' | 'unreported';
  /** The job's state after the report, when the gateway answered it. */
  readonly state?: JobRecord['state'];
  readonly error?: string;
}

export interface WorkerOptions {
  /** Gateway base URL. */
  readonly url: string;
  /** API key with the `worker` role. */
  readonly key?: string;
  /** Topic globs to lease (`*` within a dot-segment, `**` across). */
  readonly topics: readonly string[];
  readonly handler: JobHandler;
  /** Jobs run at once (default 1). */
  readonly concurrency?: number;
  /** Lease length in seconds (default 30); heartbeats go every third of it. */
  readonly leaseSec?: number;
  /** Long-poll wait of one lease call in seconds (default 20, at most 60). */
  readonly waitSec?: number;
  /** Check the job's arguments against path/host constraints before running (default true). */
  readonly checkArguments?: boolean;
  /** Base directory for relative paths in arguments and `assertPath` (default `process.cwd()`). */
  readonly cwd?: string;
  /** The `fetch` used for the gateway and, guarded, by handlers (default the global one). */
  readonly fetch?: FetchLike;
  /** Told when a job ends, for logs and counters. */
  readonly onJobEnd?: (end: JobEnd) => void;
  /** Told about errors the worker recovers from (gateway unreachable, a report refused). */
  readonly onError?: (error: unknown) => void;
}

export interface Worker {
  /** Starts the lease loops; calling it again does nothing. */
  start(): void;
  /**
   * Stops leasing and resolves once the jobs in hand have ended (they keep heartbeating and
   * still end at their deadline). A lease call cut short may have taken a job: its lease then
   * expires and the gateway returns it to the queue.
   */
  stop(): Promise<void>;
  /**
   * Resolves once the worker has stopped; rejects when it cannot work at all (the key is
   * refused: 401/403), after stopping.
   */
  readonly done: Promise<void>;
}

const MAX_BACKOFF_MS = 5_000;
const REPORT_ATTEMPTS = 4;

/** A worker; nothing happens until `start()`. */
export function createWorker(options: WorkerOptions): Worker {
  const concurrency = options.concurrency ?? 1;
  const leaseSec = options.leaseSec ?? 30;
  const waitSec = Math.min(options.waitSec ?? 20, 60);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError('concurrency must be a whole number ≥ 1');
  if (!Number.isInteger(leaseSec) || leaseSec < 1)
    throw new RangeError('leaseSec must be a whole number ≥ 1');
  if (options.topics.length === 0) throw new RangeError('a worker needs at least one topic');
  const baseFetch = options.fetch ?? globalThis.fetch;
  const http = new WardenHttp({ url: options.url, key: options.key, fetch: baseFetch });
  const cwd = options.cwd ?? process.cwd();
  const stopping = new AbortController();
  // A function, not a property read, so control-flow narrowing does not freeze its value.
  const stopped = (): boolean => stopping.signal.aborted;
  let started = false;
  let fatal: unknown = null;
  let resolveDone: () => void = () => undefined;
  let rejectDone: (error: unknown) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // A caller that only awaits `stop()` must not see an unhandled rejection.
  done.catch(() => undefined);

  const report = (error: unknown): void => {
    options.onError?.(error);
  };

  async function slot(): Promise<void> {
    let backoffMs = 100;
    while (!stopped()) {
      let items: readonly LeasedJob[];
      try {
        const answer = await http.post<{ items: LeasedJob[] }>(
          '/api/v1/workers/lease',
          { topics: options.topics, wait: waitSec, max: 1, lease_sec: leaseSec },
          { signal: stopping.signal, timeoutMs: (waitSec + 10) * 1000 },
        );
        items = answer.items;
        backoffMs = 100;
      } catch (error) {
        if (stopped()) return;
        if (error instanceof WardenApiError && (error.status === 401 || error.status === 403)) {
          fatal = error;
          stopping.abort();
          return;
        }
        report(error);
        await sleep(backoffMs, stopping.signal);
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
        continue;
      }
      for (const item of items) await runJob(item);
    }
  }

  async function runJob(item: LeasedJob): Promise<void> {
    const { job } = item;
    const constraints = job.constraints;
    const jobPath = `/api/v1/jobs/${encodeURIComponent(job.job_id)}`;
    const controller = new AbortController();
    const timers: NodeJS.Timeout[] = [];
    const maxRuntime = constraints.max_runtime_sec;
    if (maxRuntime !== undefined) {
      timers.push(
        setTimeout(() => {
          controller.abort(
            new JobAborted('deadline', `max_runtime_sec (${String(maxRuntime)} s) exceeded`),
          );
        }, maxRuntime * 1000),
      );
    }
    timers.push(
      setInterval(
        () => {
          void heartbeat();
        },
        (leaseSec * 1000) / 3,
      ),
    );
    async function heartbeat(): Promise<void> {
      try {
        const answer = await http.post<{ cancel: boolean; state: string }>(
          `${jobPath}/heartbeat`,
          { lease_id: item.lease_id, lease_sec: leaseSec },
          { timeoutMs: (leaseSec * 1000) / 3 },
        );
        if (answer.cancel && !controller.signal.aborted) {
          controller.abort(
            new JobAborted('cancel', `the gateway stopped the job (state ${answer.state})`),
          );
        }
      } catch (error) {
        // A missed heartbeat is retried on the next tick; the lease outlasts two of them.
        report(error);
      }
    }

    const end = (e: Omit<JobEnd, 'job'>): void => {
      options.onJobEnd?.({ job, ...e });
    };
    try {
      const violation =
        options.checkArguments === false
          ? null
          : findArgumentViolation(job.payload, constraints, cwd);
      if (violation !== null) {
        await sendResult(item, jobPath, failure(violation), end);
        return;
      }
      let output: unknown;
      try {
        output = await options.handler(context(item, controller.signal));
      } catch (error) {
        if (controller.signal.aborted) {
          end({ outcome: 'aborted', error: messageOf(controller.signal.reason) });
          return;
        }
        await sendResult(item, jobPath, failure(error), end);
        return;
      }
      await sendResult(
        item,
        jobPath,
        { status: 'succeeded', ...(output === undefined ? {} : { output }) },
        end,
      );
    } finally {
      for (const timer of timers) clearTimeout(timer);
      if (!controller.signal.aborted) controller.abort(new JobAborted('cancel', 'the job ended'));
    }
  }

  function context(item: LeasedJob, signal: AbortSignal): JobContext {
    const { constraints } = item.job;
    const assertPath = (path: string): void => {
      const violation = pathViolation(path, constraints, cwd);
      if (violation !== null) throw violation;
    };
    const assertHost = (urlOrHost: string): void => {
      const violation = hostViolation(urlOrHost, constraints);
      if (violation !== null) throw violation;
    };
    const guardedFetch: FetchLike = (input, init) => {
      assertHost(input instanceof URL ? input.href : input);
      const signals = init?.signal == null ? [signal] : [signal, init.signal];
      return baseFetch(input, { ...init, signal: AbortSignal.any(signals) });
    };
    return {
      job: item.job,
      payload: item.job.payload,
      constraints,
      deadlineAt: item.deadline_at,
      signal,
      assertPath,
      assertHost,
      fetch: guardedFetch,
    };
  }

  /** Reports, retrying while the gateway is unreachable; a refusal (4xx) is final. */
  async function sendResult(
    item: LeasedJob,
    jobPath: string,
    result: ResultBody,
    end: (e: Omit<JobEnd, 'job'>) => void,
  ): Promise<void> {
    const body = { ...result, lease_id: item.lease_id };
    for (let attempt = 1; ; attempt++) {
      try {
        const job = await http.post<JobRecord>(`${jobPath}/result`, body);
        end({
          outcome: result.status,
          state: job.state,
          ...(result.error === undefined ? {} : { error: result.error }),
        });
        return;
      } catch (error) {
        const retry =
          attempt < REPORT_ATTEMPTS &&
          (error instanceof WardenUnreachable ||
            (error instanceof WardenApiError && error.status >= 500));
        if (!retry) {
          report(error);
          end({ outcome: 'unreported', error: messageOf(error) });
          return;
        }
        await sleep(250 * 2 ** attempt);
      }
    }
  }

  return {
    start() {
      if (started) return;
      started = true;
      const slots = Array.from({ length: concurrency }, () => slot());
      void Promise.all(slots).then(() => {
        if (fatal === null) resolveDone();
        else rejectDone(fatal);
      }, rejectDone);
    },
    async stop() {
      stopping.abort();
      if (!started) {
        started = true;
        resolveDone();
      }
      await done.catch(() => undefined);
    },
    done,
  };
}

interface ResultBody {
  readonly status: 'succeeded' | 'failed';
  readonly output?: unknown;
  readonly error?: string;
  readonly retryable?: boolean;
}

/** The gateway keeps at most 4096 characters of an error. */
const MAX_ERROR_CHARS = 4000;

/** A failed attempt; a constraint violation is not retried (the same arguments would fail again). */
function failure(error: unknown): ResultBody {
  return {
    status: 'failed',
    error: messageOf(error).slice(0, MAX_ERROR_CHARS),
    ...(error instanceof ConstraintViolation ? { retryable: false } : {}),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
