/**
 * The audit sink port: where the audit forwarder (app/audit-forwarder.ts) sends the trail, e.g.
 * a SIEM's HTTP collector. A sink delivers one batch or fails; it never retries, buffers or
 * drops on its own (the forwarder retries from its durable cursor, so nothing is lost).
 */
import type { AuditEvent } from '../core/audit/chain.js';

export interface AuditSink {
  /**
   * Delivers `batch` (non-empty, ascending by seq, consecutive seqs) and resolves once the
   * receiver has accepted all of it; rejects on any failure (refused, timed out, non-2xx,
   * aborted by `signal`). The same batch may be sent again after a failure or a crash; a
   * receiver drops the repeat by `batchKey(batch)` or by each event's `seq`.
   */
  send(batch: readonly AuditEvent[], signal?: AbortSignal): Promise<void>;
}

/** `<first seq>-<last seq>`: names a batch, so a receiver can recognise a repeat. */
export function batchKey(batch: readonly Pick<AuditEvent, 'seq'>[]): string {
  const first = batch[0];
  const last = batch.at(-1);
  if (first === undefined || last === undefined) throw new Error('an empty batch has no key');
  return `${String(first.seq)}-${String(last.seq)}`;
}
