/**
 * Runs a periodic task of the gateway (the approval sweep, the work sweep, the outbox relay) on a
 * timer. One run at a time; a failed run (the store or the bus is unavailable) is reported and the
 * next tick tries again.
 */

export interface Sweeper {
  /** Runs the task now, or right after the run under way. */
  kick(): void;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

export function startSweeper(
  /** The signal aborts when the sweeper stops, so a long run can end early. */
  task: (signal: AbortSignal) => Promise<unknown>,
  intervalMs: number,
  onError: (error: unknown) => void,
): Sweeper {
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  const stopping = new AbortController();
  const run = (): void => {
    if (stopped) return;
    if (running !== null) {
      again = true;
      return;
    }
    running = task(stopping.signal)
      .then(
        () => undefined,
        (error: unknown) => {
          onError(error);
        },
      )
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const timer = setInterval(run, intervalMs);
  // The gateway's lifetime decides when the process ends, not this timer.
  timer.unref();
  return {
    kick: run,
    async stop() {
      stopped = true;
      stopping.abort();
      clearInterval(timer);
      await running;
    },
  };
}
