/**
 * Wake-ups for long-polls: whoever changes a job in this process notifies, and readers waiting
 * for that job re-read it. A wait also ends after its slice of time, so a change made elsewhere
 * (another replica sharing the store) is still seen by polling.
 */
/** Longest long-poll a caller may ask for. */
export const MAX_WAIT_SEC = 60;
/** A long-poll re-reads at least this often, to see changes made by other replicas. */
const POLL_SLICE_MS = 1000;

export class JobChanges {
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;

  notify(jobId: string): void {
    const waiting = this.waiters.get(jobId);
    if (waiting === undefined) return;
    this.waiters.delete(jobId);
    for (const wake of waiting) wake();
  }

  /** Resolves when the job changes, after `ms`, or at shutdown, whichever comes first. */
  next(jobId: string, ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      let waiting = this.waiters.get(jobId);
      if (waiting === undefined) {
        waiting = new Set();
        this.waiters.set(jobId, waiting);
      }
      const wake = (): void => {
        clearTimeout(timer);
        const current = this.waiters.get(jobId);
        current?.delete(wake);
        if (current?.size === 0) this.waiters.delete(jobId);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      waiting.add(wake);
    });
  }

  /**
   * Long-poll on a job: reads until `done` holds, `waitSec` (at most MAX_WAIT_SEC) has passed
   * or shutdown began, re-reading on every change and at least once per slice. Returns the last
   * read; the caller tells the outcomes apart by what it holds.
   */
  async poll<T>(
    jobId: string,
    waitSec: number,
    read: () => Promise<T>,
    done: (value: T) => boolean,
  ): Promise<T> {
    const deadline = Date.now() + Math.min(waitSec, MAX_WAIT_SEC) * 1000;
    for (;;) {
      const value = await read();
      const remaining = deadline - Date.now();
      if (done(value) || remaining <= 0 || this.closed) return value;
      await this.next(jobId, Math.min(remaining, POLL_SLICE_MS));
    }
  }

  /** Whether shutdown began: long-polls answer with what they have. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Ends every wait, so a shutting-down server is not held open by long-polls. */
  close(): void {
    this.closed = true;
    for (const jobId of [...this.waiters.keys()]) this.notify(jobId);
  }
}
