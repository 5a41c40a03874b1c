/**
 * Where the store's writes run. Both executors group the writes that arrive together into one
 * transaction (group commit) and answer each write only after its transaction committed.
 *
 * - `inlineWrites`: on the event loop, over the store's own connection. Only for in-memory
 *   databases, which a second connection cannot open.
 * - `threadWrites`: on a writer thread with its own connection to the file. The event loop only
 *   posts the batch and reads the answers: executing statements, sealing the audit chain and
 *   waiting for a lock held by another process (up to the busy timeout) all happen off it, so a
 *   slow or locked store never stalls the requests that do not write. WAL checkpoints run there
 *   too, inside the commit that crosses SQLite's automatic threshold.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Database as Db } from 'better-sqlite3';
import { WardenError } from '../../core/errors.js';
import type { ErrorCode } from '../../core/errors.js';
import { GroupCommit } from './group-commit.js';
import { runWrite } from './write-ops.js';
import type { WriteOps, WriteRequest } from './write-ops.js';

export interface Writes {
  /** Resolves with the operation's result once its transaction committed. */
  submit(request: WriteRequest): Promise<unknown>;
  /** Write transactions committed so far (each may hold many writes). */
  readonly transactions: number;
  /** Finishes the writes already submitted, then releases the executor. */
  close(): Promise<void>;
}

export function unavailable(error: unknown): WardenError {
  const message = error instanceof Error ? error.message : String(error);
  return new WardenError('WARDEN_STORE_UNAVAILABLE', `the store is unavailable: ${message}`);
}

/** Domain errors raised by an operation pass through; storage errors mean "unavailable". */
export function writeFailure(error: unknown): WardenError {
  return error instanceof WardenError ? error : unavailable(error);
}

/** Audit events a write dropped under audit fail mode `open` (see `AuditDropped`). */
export interface DroppedAudit {
  readonly events: number;
  readonly reason: string;
}

/**
 * Ties audit drops to the write that made them: reset when a write runs (group commit may run
 * it twice, fast then isolated), read when it has run, reported only once it committed.
 */
export class DropTally {
  private current: DroppedAudit | null = null;

  readonly record = (events: number, reason: string): void => {
    this.current = { events: (this.current?.events ?? 0) + events, reason };
  };

  run(ops: WriteOps, request: WriteRequest): { value: unknown; dropped: DroppedAudit | null } {
    this.current = null;
    const value = runWrite(ops, request);
    return { value, dropped: this.current };
  }
}

export function inlineWrites(
  db: Db,
  ops: WriteOps,
  tally: DropTally,
  onAuditDropped: (dropped: DroppedAudit) => void,
): Writes {
  const commits = new GroupCommit(db, unavailable, writeFailure);
  return {
    submit: async (request) => {
      const { value, dropped } = await commits.submit(() => tally.run(ops, request));
      if (dropped !== null) onAuditDropped(dropped);
      return value;
    },
    get transactions() {
      return commits.transactions;
    },
    close: () => commits.drained(),
  };
}

// ---------------------------------------------------------------------------------------------
// The writer thread
// ---------------------------------------------------------------------------------------------

/** What the writer thread is started with. */
export interface WriterConfig {
  readonly path: string;
  readonly synchronous: 'NORMAL' | 'FULL';
  readonly busyTimeoutMs: number;
  /** Audit fail mode `open`: a write whose audit append fails goes on without its events. */
  readonly auditFailOpen: boolean;
}

/** What the checkpointer thread is started with. */
export interface CheckpointerConfig {
  readonly path: string;
  /** Pause between passive checkpoints. */
  readonly intervalMs: number;
}

/** Pause between the checkpointer thread's passive checkpoints. */
const CHECKPOINT_INTERVAL_MS = 20;

/**
 * The writer's own automatic checkpoint threshold in WAL pages (SQLite's default is 1,000): only
 * reached when the checkpointer thread falls behind, it bounds the WAL at about 32 MB.
 */
export const WRITER_AUTOCHECKPOINT_PAGES = 8000;

/** Main thread → writer thread. */
export type ToWriter =
  | {
      readonly kind: 'writes';
      readonly writes: readonly { readonly id: number; readonly request: WriteRequest }[];
    }
  | { readonly kind: 'close' };

export interface SerializedError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export type WriteOutcome =
  | {
      readonly id: number;
      readonly ok: true;
      readonly value: unknown;
      readonly dropped: DroppedAudit | null;
    }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError };

/** Writer thread → main thread. */
export type FromWriter =
  | {
      readonly kind: 'done';
      readonly outcomes: readonly WriteOutcome[];
      /** Transactions committed so far. */
      readonly transactions: number;
    }
  | { readonly kind: 'failed'; readonly message: string }
  /** The writer answered everything and closed its connection; the thread may be ended. */
  | { readonly kind: 'closed' };

interface Waiting {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The module a thread runs: the compiled `.js` beside this file, or, when the gateway runs
 * from source under tsx, the `.ts` through tsx's loader (a thread does not inherit it).
 */
function threadProgram(name: 'writer-thread' | 'checkpoint-thread'): string {
  const here = fileURLToPath(import.meta.url);
  const extension = extname(here);
  const entry = new URL(`./${name}${extension}`, import.meta.url).href;
  if (extension !== '.ts') return `import(${JSON.stringify(entry)});`;
  const tsx = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(tsx)}).then((api) => api.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}));`;
}

/**
 * Writes posted as soon as this many are waiting, not only at the end of the turn. When every
 * client's request arrives in the same turn, posting them all at once makes the two threads take
 * turns (the loop decides all of them while the writer idles, then the writer commits all of them
 * while the loop idles); posting early lets the writer commit the first ones while the loop is
 * still deciding the rest. Measured +15% decided jobs per second at 50 connections (docs/benchmarks.md).
 */
const POST_AT = 8;

export function threadWrites(
  config: WriterConfig,
  onAuditDropped: (dropped: DroppedAudit) => void,
): Writes {
  const worker = new Worker(threadProgram('writer-thread'), { eval: true, workerData: config });
  const checkpointer = new Worker(threadProgram('checkpoint-thread'), {
    eval: true,
    workerData: {
      path: config.path,
      intervalMs: CHECKPOINT_INTERVAL_MS,
    } satisfies CheckpointerConfig,
  });
  // Checkpoints are housekeeping: they never keep the process alive, and a checkpointer that
  // fails leaves the writer's automatic checkpoint to bound the WAL.
  checkpointer.unref();
  checkpointer.on('error', () => undefined);
  const checkpointerExited = new Promise<void>((done) =>
    checkpointer.once('exit', () => {
      done();
    }),
  );
  const stopCheckpointer = (): Promise<void> => {
    checkpointer.postMessage('close');
    // Held until it has exited, so closing the store keeps the process alive that long.
    checkpointer.ref();
    return checkpointerExited;
  };
  const waiting = new Map<number, Waiting>();
  let outbox: { id: number; request: WriteRequest }[] = [];
  let nextId = 0;
  let committed = 0;
  let stopped: WardenError | null = null;
  let closing: Promise<void> | null = null;
  // Pending writes keep the process alive; an idle writer does not.
  worker.unref();

  const failAll = (error: WardenError): void => {
    stopped ??= error;
    for (const entry of waiting.values()) entry.reject(error);
    waiting.clear();
    outbox = [];
    worker.unref();
  };

  worker.on('message', (message: FromWriter) => {
    if (message.kind === 'closed') {
      // Nothing is left to lose: end the thread rather than wait for its loop to drain (a thread
      // started through tsx's loader was seen not to exit on its own under load).
      void worker.terminate();
      return;
    }
    if (message.kind === 'failed') {
      failAll(unavailable(new Error(message.message)));
      return;
    }
    committed = message.transactions;
    for (const outcome of message.outcomes) {
      const entry = waiting.get(outcome.id);
      if (entry === undefined) continue;
      waiting.delete(outcome.id);
      if (outcome.ok) {
        if (outcome.dropped !== null) onAuditDropped(outcome.dropped);
        entry.resolve(outcome.value);
      } else {
        const { code, message: text, details } = outcome.error;
        entry.reject(new WardenError(code, text, details));
      }
    }
    if (waiting.size === 0) worker.unref();
  });
  worker.on('error', (error) => {
    failAll(unavailable(error));
  });
  worker.on('exit', (code) => {
    failAll(unavailable(new Error(`the writer thread exited with code ${String(code)}`)));
  });

  /** Posts everything submitted in this turn of the event loop as one message. */
  const flush = (): void => {
    if (outbox.length === 0) return;
    const writes = outbox;
    outbox = [];
    worker.postMessage({ kind: 'writes', writes } satisfies ToWriter);
  };

  return {
    submit(request) {
      if (stopped !== null) return Promise.reject(stopped);
      if (closing !== null) return Promise.reject(unavailable(new Error('the store is closing')));
      return new Promise((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        if (outbox.length === 0) setImmediate(flush);
        outbox.push({ id, request });
        if (outbox.length >= POST_AT) flush();
        worker.ref();
      });
    },
    get transactions() {
      return committed;
    },
    close() {
      closing ??= (async () => {
        flush();
        // The checkpointer stops first; closing the last connection checkpoints what is left.
        await stopCheckpointer();
        if (stopped !== null) return;
        const exited = new Promise<void>((done) =>
          worker.once('exit', () => {
            done();
          }),
        );
        // The thread answers what it already holds, closes its connection, then exits.
        worker.postMessage({ kind: 'close' } satisfies ToWriter);
        worker.ref();
        await exited;
      })();
      return closing;
    },
  };
}
