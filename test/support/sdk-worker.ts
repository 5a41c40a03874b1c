/**
 * A worker process built on the SDK, for test/sdk/worker.test.ts. Configured by env: WARDEN_URL,
 * WARDEN_KEY, WARDEN_TOPICS (comma-separated), and WORKER_RECORD, a file it appends one JSON line
 * to for each thing the test must observe (a handler run, an aborted signal). The payload's
 * `mode` says what the handler does: `echo` returns the payload, `sleep` waits for its signal,
 * `throw` throws. Stops on SIGTERM.
 */
import { appendFileSync } from 'node:fs';
import { createWorker } from '../../src/sdk/worker.js';

const record = (line: Record<string, unknown>): void => {
  appendFileSync(process.env['WORKER_RECORD'] ?? '/dev/null', `${JSON.stringify(line)}\n`);
};

const worker = createWorker({
  url: process.env['WARDEN_URL'] ?? '',
  key: process.env['WARDEN_KEY'] ?? '',
  topics: (process.env['WARDEN_TOPICS'] ?? '').split(','),
  concurrency: 2,
  leaseSec: 3,
  waitSec: 5,
  handler: async ({ job, payload, signal }) => {
    const mode = (payload as { mode?: string } | undefined)?.mode;
    record({ event: 'run', job_id: job.job_id, attempt: job.attempt, mode });
    if (mode === 'throw') throw new Error(`boom on attempt ${String(job.attempt)}`);
    if (mode === 'sleep') {
      await new Promise<void>((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          record({
            event: 'aborted',
            job_id: job.job_id,
            reason: (signal.reason as Error).message,
          });
          reject(signal.reason as Error);
        });
      });
    }
    return { echo: payload };
  },
  onJobEnd: (end) => {
    record({ event: 'end', job_id: end.job.job_id, outcome: end.outcome, state: end.state });
  },
});
worker.start();
process.once('SIGTERM', () => {
  void worker.stop();
});
record({ event: 'started' });
await worker.done;
