/**
 * Group commit for a synchronous SQLite handle: operations submitted in the same turn of the
 * event loop run in one transaction, so one commit (and one WAL sync) serves many requests. If an
 * operation throws, the batch is rolled back and run again with each operation in its own
 * savepoint, so one failing operation does not undo the others; the common case pays for no
 * savepoints.
 *
 * INVARIANT: a submitted operation's promise resolves only after the transaction holding it has
 * committed; if the commit fails, every operation of the batch is rejected.
 */
import type { Database } from 'better-sqlite3';

interface Pending {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/** Marks an error thrown by an operation, as opposed to by BEGIN or COMMIT. */
class OperationFailed extends Error {
  constructor(cause: unknown) {
    super('an operation of the batch failed', { cause });
  }
}

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private committed = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly db: Database,
    /** Turns a failed commit into the error every operation of the batch is rejected with. */
    private readonly commitFailure: (error: unknown) => Error,
    /** Turns one operation's failure into the error it is rejected with. */
    private readonly operationFailure: (error: unknown) => unknown,
    /** Upper bound on operations per transaction, so one commit never grows without limit. */
    private readonly maxBatch = 512,
  ) {}

  /** Transactions committed so far (each may hold many operations). */
  get transactions(): number {
    return this.committed;
  }

  submit<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Resolves once every operation submitted so far has been committed or rejected. */
  drained(): Promise<void> {
    if (!this.scheduled) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Flushes on the next turn of the event loop, once, however many writes arrive meanwhile. */
  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.flush();
    });
  }

  private flush(): void {
    const batch = this.queue.splice(0, this.maxBatch);
    this.scheduled = false;
    this.schedule();
    this.settle(batch);
    if (this.queue.length === 0) {
      for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  private settle(batch: readonly Pending[]): void {
    let outcomes: Outcome[];
    try {
      outcomes = this.runFast(batch) ?? this.runIsolated(batch);
    } catch (error) {
      for (const op of batch) op.reject(this.commitFailure(error));
      return;
    }
    this.committed += 1;
    batch.forEach((op, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok === true) op.resolve(outcome.value);
      else op.reject(outcome?.error);
    });
  }

  /**
   * The common case: every operation succeeds, so the batch runs as one plain transaction. Null
   * (with everything rolled back) as soon as one operation throws.
   */
  private runFast(batch: readonly Pending[]): Outcome[] | null {
    const outcomes: Outcome[] = [];
    try {
      this.db
        .transaction(() => {
          for (const op of batch) {
            try {
              outcomes.push({ ok: true, value: op.run() });
            } catch (error) {
              throw new OperationFailed(error);
            }
          }
        })
        .immediate();
    } catch (error) {
      // An operation's failure retries the batch op by op; anything else (begin, commit) fails it.
      if (error instanceof OperationFailed) return null;
      throw error;
    }
    return outcomes;
  }

  /** Each operation in its own savepoint: a throwing operation undoes only itself. */
  private runIsolated(batch: readonly Pending[]): Outcome[] {
    const outcomes: Outcome[] = [];
    this.db
      .transaction(() => {
        for (const op of batch) {
          try {
            // A nested transaction is a savepoint.
            outcomes.push({ ok: true, value: this.db.transaction(op.run)() });
          } catch (error) {
            outcomes.push({ ok: false, error: this.operationFailure(error) });
          }
        }
      })
      .immediate();
    return outcomes;
  }
}
