/**
 * The checkpoint witness port (§10): a copy of every signed checkpoint kept outside the database
 * (by default a JSON Lines file beside the signing key). Someone who deletes the tail of the
 * trail together with the checkpoint rows that vouch for it is still caught, because the witness
 * remembers how far the chain reached.
 */
import type { AuditCheckpoint } from '../core/audit/checkpoint.js';

export interface CheckpointWitness {
  /** Where it is, for messages. */
  readonly location: string;
  /** Records one checkpoint durably (written and flushed) before resolving. */
  append(checkpoint: AuditCheckpoint): Promise<void>;
  /**
   * The checkpoints recorded with a seq above `afterSeq` (all when absent), in the order
   * written; empty when nothing was recorded yet. Those at or below a pruning anchor are of no
   * use to verification, so they need not be held in memory.
   */
  read(afterSeq?: number): Promise<readonly AuditCheckpoint[]>;
}
