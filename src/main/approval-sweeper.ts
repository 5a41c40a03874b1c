/**
 * Runs the approval sweep on a timer: overdue approvals expire (with their jobs) within one
 * interval of their deadline, and the queue gauges stay fresh. One sweep at a time; a failed
 * sweep (the store is unavailable) is reported and the next tick tries again.
 */
import type { ApprovalService } from '../app/approvals.js';

export interface Sweeper {
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

export function startApprovalSweeper(
  approvals: ApprovalService,
  intervalMs: number,
  onError: (error: unknown) => void,
): Sweeper {
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (running !== null) return;
    running = approvals
      .sweep()
      .then(
        () => undefined,
        (error: unknown) => {
          onError(error);
        },
      )
      .finally(() => {
        running = null;
      });
  }, intervalMs);
  // The gateway's lifetime decides when the process ends, not this timer.
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
