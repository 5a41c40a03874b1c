/**
 * The dispatcher port (§7): how allowed jobs travel from the gateway to whoever leases them.
 * Two adapters pass one conformance suite (`test/conformance/dispatcher.ts`): the in-process
 * queue (`adapters/queue`, the embedded default) and NATS JetStream (`adapters/nats`).
 *
 * The bus is a delivery mechanism, not the source of truth: the store's job row is. A message may
 * be delivered more than once (an unacknowledged delivery comes back after `ack_wait`), so the
 * gateway leases a job by compare-and-set on its state, and a second delivery of the same job
 * loses that race and is acknowledged without effect.
 *
 * INVARIANT: a message id published twice within the de-duplication window is delivered once.
 * The outbox relay publishes with `message_id = <job_id>.<attempt>`, so a relay that crashed
 * after publishing and publishes again on restart never doubles a dispatch.
 */
import type { JobRecord } from '../core/jobs/job.js';

export interface DispatchMessage {
  /** De-duplication key: `<job_id>.<attempt>`. */
  readonly message_id: string;
  /** The job as decided: its request, decision record, constraints and attempt. */
  readonly job: JobRecord;
  readonly published_at: string;
}

export interface ReceiveRequest {
  /** Topic globs (`*` one segment, `**` any number); a message matching any of them is taken. */
  readonly topics: readonly string[];
  /** At most this many deliveries. */
  readonly max: number;
  /** How long to wait for the first matching message, in ms (0: answer at once). */
  readonly wait_ms: number;
  /** Aborting stops the wait early and answers with what was received. */
  readonly signal?: AbortSignal;
}

export interface Delivery {
  readonly message: DispatchMessage;
  /** Done with it: this message is never delivered again. */
  ack(): Promise<void>;
  /** Not taken: make it available again, to any receiver, after `delayMs` (default 0). */
  release(delayMs?: number): Promise<void>;
}

export interface Dispatcher {
  /** Durable once resolved; a message id already published in the window is dropped. */
  publish(message: DispatchMessage): Promise<void>;
  receive(request: ReceiveRequest): Promise<readonly Delivery[]>;
  /** Resolves when the bus is reachable; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A delivery neither acknowledged nor released is delivered again after this long. */
export const DEFAULT_ACK_WAIT_MS = 30_000;
/** How long a published message id is remembered for de-duplication (JetStream's default). */
export const DEDUP_WINDOW_MS = 120_000;
