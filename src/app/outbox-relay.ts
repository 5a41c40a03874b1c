/**
 * The outbox relay (§7): publishes every bus job the store holds in its outbox, then records the
 * dispatch. A job enters the outbox in the transaction that makes it QUEUED, so a crash between
 * commit and publish only delays the publish to the next pass (after a restart, the first one).
 *
 * INVARIANT: a dispatch is published with `message_id = <job_id>.<attempt>`; publishing again
 * after a crash between publish and the DISPATCHED write is de-duplicated by the dispatcher, and a
 * second delivery that slips past the window still loses the lease's compare-and-set.
 */
import { dispatched } from '../core/jobs/execution.js';
import type { JobRecord } from '../core/jobs/job.js';
import type { Clock } from '../ports/clock.js';
import type { Dispatcher } from '../ports/dispatcher.js';
import type { Metrics } from '../ports/metrics.js';
import type { Store } from '../ports/store.js';
import type { JobService } from './jobs.js';

export interface OutboxRelayDeps {
  readonly store: Store;
  readonly dispatcher: Dispatcher;
  readonly jobs: JobService;
  readonly clock: Clock;
  readonly metrics: Metrics;
}

/** Jobs read from the outbox per store read. */
const BATCH = 100;
/** Reads per pass: a pass always ends, even if a job it cannot move stays in the outbox. */
const MAX_BATCHES = 20;

export function messageId(job: Pick<JobRecord, 'job_id' | 'attempt'>): string {
  return `${job.job_id}.${String(job.attempt)}`;
}

export class OutboxRelay {
  constructor(private readonly deps: OutboxRelayDeps) {}

  /**
   * Publishes what the outbox holds, oldest first. Stops early, keeping the order, when the
   * dispatcher refuses a publish (the next call retries it) or `signal` aborts (between batches).
   * Resolves with the number published. Callers run one call at a time (main/sweeper.ts).
   */
  async publishPending(signal?: AbortSignal): Promise<number> {
    let published = 0;
    for (let batch = 0; batch < MAX_BATCHES && signal?.aborted !== true; batch++) {
      const jobs = await this.deps.store.pendingDispatches(BATCH);
      // Publishes go out one by one, in order; their DISPATCHED writes then share group commits.
      const recorded: Promise<unknown>[] = [];
      let refused = false;
      for (const job of jobs) {
        const outcome = await this.publish(job);
        if (outcome === 'refused') {
          refused = true;
          break;
        }
        if (outcome !== 'denied') {
          recorded.push(outcome.recorded);
          published++;
        }
      }
      await Promise.all(recorded);
      if (refused || jobs.length < BATCH) return published;
    }
    return published;
  }

  /**
   * At start: publishes again every job published before but not leased yet, under its same
   * message id. An in-process queue lost them with the process; a bus that kept them drops the
   * repeat within its de-duplication window, and a later repeat loses the lease's compare-and-set.
   */
  async republishUnleased(): Promise<number> {
    let after: string | null = null;
    let published = 0;
    for (;;) {
      const jobs = await this.deps.store.unleasedDispatches(after, BATCH);
      for (const job of jobs) {
        const id = messageId(job);
        await this.deps.dispatcher.publish({
          message_id: id,
          job,
          published_at: this.deps.clock.now(),
        });
        published++;
      }
      const last = jobs.at(-1);
      if (jobs.length < BATCH || last === undefined) return published;
      after = last.job_id;
    }
  }

  /**
   * Publishes one job: 'denied' when its release check failed, 'refused' when the dispatcher
   * would not take it, else the write that records the dispatch, still under way.
   */
  private async publish(
    job: JobRecord,
  ): Promise<'denied' | 'refused' | { readonly recorded: Promise<unknown> }> {
    // The last check before the job leaves: a job changed behind the gateway's back is denied.
    if (!(await this.deps.jobs.releaseCheck(job, 'dispatch'))) return 'denied';
    const now = this.deps.clock.now();
    const id = messageId(job);
    try {
      await this.deps.dispatcher.publish({ message_id: id, job, published_at: now });
    } catch {
      this.deps.metrics.dispatch('publish_failed');
      return 'refused';
    }
    this.deps.metrics.dispatch('published');
    const move = dispatched(job, { actor: 'system', now }, id);
    // Null when a worker leased the job first (it may, as soon as it was published): fine.
    return {
      recorded: this.deps.jobs.transition(
        job.job_id,
        move.from,
        move.patch,
        move.events,
        move.guard,
      ),
    };
  }
}
