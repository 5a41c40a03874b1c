/**
 * The audit forwarder (§10): sends the audit trail, in seq order, to an audit sink (a SIEM),
 * from a durable named cursor in the store. The cursor moves only after the sink accepted a
 * batch, by compare-and-set, so after a failure or a restart forwarding resumes at the first
 * event not yet accepted: nothing is skipped. A batch is sent again only when the cursor could
 * not be moved after the sink accepted it (a crash in between, a store failure) or when two
 * forwarders share a cursor name and race; every send of the same range carries the same
 * `batchKey` while this forwarder runs, so a receiver can drop the repeat.
 *
 * INVARIANT: the cursor never moves past an event the sink has not accepted.
 * INVARIANT: at most one batch (`batchSize` events) is held in memory, kept for its retry.
 */
import type { AuditEvent } from '../core/audit/chain.js';
import type { AuditSink } from '../ports/audit-sink.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';

export const DEFAULT_FORWARD_CURSOR = 'siem';
export const DEFAULT_FORWARD_BATCH_SIZE = 500;
export const DEFAULT_FORWARD_INTERVAL_MS = 1000;
export const DEFAULT_FORWARD_BACKOFF = { initialMs: 1000, maxMs: 60_000 } as const;

/** What a forwarder reports for monitoring; every method optional. Labels stay bounded. */
export interface ForwarderMonitor {
  /** The sink accepted a batch of `events` and the cursor now covers it. */
  delivered?(events: number): void;
  /** A step failed (sink or store); the same events are tried again after `retryInMs`. */
  failed?(error: unknown, retryInMs: number): void;
  /** Another forwarder on the same cursor name moved it first; this batch was not committed here. */
  conflict?(events: number): void;
  /** Events appended but not yet accepted by the sink, as last measured. */
  lag?(events: number): void;
  /** Events `from..to` were gone from the store (pruned) before they were forwarded. */
  gap?(from: number, to: number): void;
}

export interface AuditForwarderDeps {
  readonly store: Pick<Store, 'auditCursor' | 'advanceAuditCursor' | 'queryAudit' | 'auditHead'>;
  readonly sink: AuditSink;
  readonly clock: Clock;
  /** The durable cursor's name; forwarders sharing it share progress (default `siem`). */
  readonly cursor?: string;
  /** Events per send (default 500). */
  readonly batchSize?: number;
  /** `run`'s wait between passes once caught up (default 1 s). */
  readonly intervalMs?: number;
  /** Wait after the first consecutive failure, doubling up to `maxMs` (default 1 s → 60 s). */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly monitor?: ForwarderMonitor;
  /** `run`'s report of a failed pass (forwardOnce rejects instead). */
  readonly onError?: (error: unknown) => void;
}

export type ForwardPass =
  /** Every event in the store when the pass last read was accepted by the sink. */
  | { readonly kind: 'caught_up'; readonly sent: number; readonly cursor: number }
  /** The signal aborted; what was sent before it is committed. */
  | { readonly kind: 'stopped'; readonly sent: number; readonly cursor: number }
  /** A recent failure: nothing was tried; the next attempt is due in `retryInMs`. */
  | { readonly kind: 'backing_off'; readonly retryInMs: number };

/** A batch sent but not committed, kept so its retry sends the same range. */
interface Pending {
  readonly from: number;
  readonly events: readonly AuditEvent[];
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export class AuditForwarder {
  readonly cursorName: string;
  private readonly batchSize: number;
  private readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  private pending: Pending | null = null;
  private failures = 0;
  /** Epoch ms before which `forwardOnce` does not try again; null when the last pass succeeded. */
  private retryAt: number | null = null;
  private active: Promise<ForwardPass> | null = null;

  constructor(private readonly deps: AuditForwarderDeps) {
    this.cursorName = deps.cursor ?? DEFAULT_FORWARD_CURSOR;
    this.batchSize = deps.batchSize ?? DEFAULT_FORWARD_BATCH_SIZE;
    this.backoff = deps.backoff ?? DEFAULT_FORWARD_BACKOFF;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new Error(`audit forwarder batch size must be a whole number of at least 1`);
    }
    if (this.cursorName === '') throw new Error('audit forwarder cursor name is empty');
  }

  /**
   * One pass: sends batches until the sink has everything the store holds, then resolves. Rejects
   * with the first failure (nothing after the last accepted batch is committed; the next pass
   * retries it) and, until the backoff has passed, later calls resolve at once with
   * `backing_off`. Suits a timer (main/sweeper.ts). A call while a pass runs joins that pass.
   */
  forwardOnce(signal?: AbortSignal): Promise<ForwardPass> {
    if (this.active !== null) return this.active;
    const pass = this.pass(signal).finally(() => {
      this.active = null;
    });
    this.active = pass;
    return pass;
  }

  /**
   * Forwards until `signal` aborts: a pass, then a wait of `intervalMs` (caught up) or of the
   * backoff (failed). Never rejects; failures go to `onError` and the monitor.
   */
  async run(signal: AbortSignal): Promise<void> {
    const interval = this.deps.intervalMs ?? DEFAULT_FORWARD_INTERVAL_MS;
    while (!signal.aborted) {
      let wait = interval;
      try {
        const pass = await this.forwardOnce(signal);
        if (pass.kind === 'backing_off') wait = pass.retryInMs;
      } catch (error) {
        this.deps.onError?.(error);
        wait = this.retryInMs();
      }
      await sleep(wait, signal);
    }
  }

  /** Consecutive failed passes (0 after a success), for status pages and tests. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  private async pass(signal: AbortSignal | undefined): Promise<ForwardPass> {
    const { store, sink, clock, monitor } = this.deps;
    if (this.retryAt !== null) {
      const wait = this.retryAt - Date.parse(clock.now());
      if (wait > 0) return { kind: 'backing_off', retryInMs: wait };
    }
    let sent = 0;
    let cursor = 0;
    try {
      for (;;) {
        cursor = await store.auditCursor(this.cursorName);
        if (signal?.aborted === true) return { kind: 'stopped', sent, cursor };
        // A batch that failed is retried as it was, unless the cursor moved meanwhile (another
        // forwarder delivered it): then what follows the new cursor is read afresh.
        const retry = this.pending?.from === cursor ? this.pending.events : null;
        const batch =
          retry ?? (await store.queryAudit({ after_seq: cursor, limit: this.batchSize }));
        this.pending = null;
        const first = batch[0];
        const last = batch.at(-1);
        if (first === undefined || last === undefined) {
          this.succeeded();
          monitor?.lag?.(0);
          return { kind: 'caught_up', sent, cursor };
        }
        // Reported once, when read: a retry of the same batch is the same gap.
        if (retry === null && first.seq > cursor + 1) monitor?.gap?.(cursor + 1, first.seq - 1);
        this.pending = { from: cursor, events: batch };
        await sink.send(batch, signal);
        const moved = await store.advanceAuditCursor(
          this.cursorName,
          cursor,
          last.seq,
          clock.now(),
        );
        this.pending = null;
        if (moved) {
          sent += batch.length;
          cursor = last.seq;
          monitor?.delivered?.(batch.length);
        } else {
          monitor?.conflict?.(batch.length);
        }
        this.succeeded();
        if (batch.length === this.batchSize) await this.reportLag(cursor);
      }
    } catch (error) {
      if (signal?.aborted === true) return { kind: 'stopped', sent, cursor };
      this.failures += 1;
      const retryIn = this.retryInMs();
      this.retryAt = Date.parse(clock.now()) + retryIn;
      monitor?.failed?.(error, retryIn);
      await this.reportLag(cursor).catch(() => undefined);
      throw error;
    }
  }

  private succeeded(): void {
    this.failures = 0;
    this.retryAt = null;
  }

  /** The wait after the current run of failures: initial, doubled per failure, capped. */
  private retryInMs(): number {
    if (this.failures === 0) return this.deps.intervalMs ?? DEFAULT_FORWARD_INTERVAL_MS;
    const { initialMs, maxMs } = this.backoff;
    return Math.min(maxMs, initialMs * 2 ** Math.min(this.failures - 1, 30));
  }

  private async reportLag(cursor: number): Promise<void> {
    const { monitor } = this.deps;
    if (monitor?.lag === undefined) return;
    const head = await this.deps.store.auditHead();
    monitor.lag(Math.max(0, (head?.seq ?? 0) - cursor));
  }
}
