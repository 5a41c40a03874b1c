/**
 * The writer thread (see `threadWrites` in writes.ts): owns the store's write connection, runs
 * the batches it is posted through group commit, and answers each write after its commit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { nativeSha256 } from '../system/native-sha256.js';
import { GroupCommit } from './group-commit.js';
import { createWriteOps } from './write-ops.js';
import { DropTally, WRITER_AUTOCHECKPOINT_PAGES, unavailable, writeFailure } from './writes.js';
import type { FromWriter, ToWriter, WriteOutcome, WriterConfig } from './writes.js';

const port = parentPort;
if (port === null) throw new Error('writer-thread runs as a worker thread only');
const config = workerData as WriterConfig;

function post(message: FromWriter): void {
  port?.postMessage(message);
}

function open(): Database.Database {
  const db = new Database(config.path);
  db.pragma(`synchronous = ${config.synchronous}`);
  db.pragma(`busy_timeout = ${String(config.busyTimeoutMs)}`);
  db.pragma('foreign_keys = ON');
  // The checkpointer thread keeps the WAL short; this is only its backstop.
  db.pragma(`wal_autocheckpoint = ${String(WRITER_AUTOCHECKPOINT_PAGES)}`);
  return db;
}

let db: Database.Database;
try {
  db = open();
} catch (error) {
  post({ kind: 'failed', message: unavailable(error).message });
  port.close();
  throw error;
}

const tally = new DropTally();
const ops = createWriteOps(db, nativeSha256, config.auditFailOpen ? tally.record : null);
const commits = new GroupCommit(db, unavailable, writeFailure);

/** Answers settled since the last post; sent together, once per turn of the thread's loop. */
let answers: WriteOutcome[] = [];

function answer(outcome: WriteOutcome): void {
  if (answers.length === 0) setImmediate(postAnswers);
  answers.push(outcome);
}

function postAnswers(): void {
  const outcomes = answers;
  answers = [];
  post({ kind: 'done', outcomes, transactions: commits.transactions });
}

function failed(id: number, error: unknown): WriteOutcome {
  const { code, message, details } = writeFailure(error);
  return { id, ok: false, error: { code, message, details } };
}

port.on('message', (message: ToWriter) => {
  if (message.kind === 'close') {
    void commits.drained().then(() => {
      db.close();
      post({ kind: 'closed' });
      port.close();
    });
    return;
  }
  // Every write joins the next group commit, with those of other messages that arrive first.
  for (const { id, request } of message.writes) {
    commits
      .submit(() => tally.run(ops, request))
      .then(
        ({ value, dropped }) => {
          answer({ id, ok: true, value, dropped });
        },
        (error: unknown) => {
          answer(failed(id, error));
        },
      );
  }
});
