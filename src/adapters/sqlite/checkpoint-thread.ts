/**
 * The checkpointer thread (see `threadWrites` in writes.ts): copies committed WAL frames back
 * into the database file with passive checkpoints on a connection of its own, so the writer
 * thread never stops to do it. A checkpoint syncs the WAL and the database file; run inside a
 * commit, as SQLite's automatic checkpoint does, that wait held up every write queued behind it.
 *
 * Passive checkpoints take no lock writers wait for. Once one has copied the whole WAL, the
 * writer's next transaction starts the WAL over from the beginning, so it stays small. If this
 * thread falls behind, the writer's own automatic checkpoint (at a higher threshold) still
 * bounds the WAL.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointerConfig } from './writes.js';

const port = parentPort;
if (port === null) throw new Error('checkpoint-thread runs as a worker thread only');
const config = workerData as CheckpointerConfig;
const db = new Database(config.path);

let timer: NodeJS.Timeout | null = null;

function checkpoint(): void {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // A failed pass (the file briefly locked, say) is retried on the next tick; the writer's
    // automatic checkpoint is the backstop meanwhile.
  }
  timer = setTimeout(checkpoint, config.intervalMs);
}

checkpoint();

port.on('message', () => {
  // The only message is "close".
  if (timer !== null) clearTimeout(timer);
  db.close();
  port.close();
});
