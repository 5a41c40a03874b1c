/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the commit that
 * crosses the threshold, copying pages back into the database file on the thread that serves
 * requests. Here a worker thread with its own connection runs passive checkpoints on a timer
 * instead: they never block writers, and the gateway's commits only append to the WAL.
 *
 * If the worker stops for any reason, the store turns automatic checkpoints back on, so the WAL
 * can never grow without bound.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The worker's program, as CommonJS source: no build step or loader is involved in starting it. */
const PROGRAM = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 0');
setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or briefly unavailable: the next tick tries again.
  }
}, workerData.intervalMs);
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(
  path: string,
  intervalMs: number,
  onStopped: (reason: string) => void,
): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(PROGRAM, { eval: true, workerData: { path, driver, intervalMs } });
  // The gateway's lifetime decides when the process ends, not this helper.
  worker.unref();
  let stopping = false;
  worker.on('error', (error) => {
    if (!stopping) onStopped(error.message);
  });
  worker.on('exit', (code) => {
    if (!stopping) onStopped(`exited with code ${String(code)}`);
  });
  return {
    async stop() {
      stopping = true;
      await worker.terminate();
    },
  };
}
