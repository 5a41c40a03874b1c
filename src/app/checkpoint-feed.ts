/**
 * The checkpoints a streaming verification needs, range by range: the store's (paged) merged
 * with the witness's, so only the checkpoints of the events about to be checked are held.
 *
 * INVARIANT: only checkpoints at or below `limit` are handed out. `limit` is the highest seq
 * checkpointed when the verification began; every event up to it was committed by then, so a
 * checkpoint signed while a live gateway is being verified never passes for a truncation.
 */
import type { AuditCheckpoint } from '../core/audit/checkpoint.js';
import type { Store } from '../ports/store.js';

const STORE_PAGE = 1000;

export class CheckpointFeed {
  private storeAfter: number;
  private storeDone = false;
  private buffered: AuditCheckpoint[] = [];
  private readonly witnessed: readonly AuditCheckpoint[];
  private witnessNext = 0;

  constructor(
    private readonly store: Store,
    witnessed: readonly AuditCheckpoint[],
    /** The seq the trail starts after (0, or the pruning anchor's): older ones are pruned. */
    start: number,
    private readonly limit: number,
  ) {
    this.storeAfter = start;
    this.witnessed = witnessed.filter((c) => c.seq > start).sort((a, b) => a.seq - b.seq);
  }

  /** The highest seq either source had checkpointed: the `limit` to construct with. */
  static limitOf(latest: AuditCheckpoint | null, witnessed: readonly AuditCheckpoint[]): number {
    let limit = latest?.seq ?? 0;
    for (const checkpoint of witnessed) if (checkpoint.seq > limit) limit = checkpoint.seq;
    return limit;
  }

  /** The checkpoints after the previous call's seq, through `seq` (capped at the limit). */
  async through(seq: number): Promise<AuditCheckpoint[]> {
    const upTo = Math.min(seq, this.limit);
    for (;;) {
      const last = this.buffered.at(-1);
      if (this.storeDone || this.storeAfter >= upTo || (last !== undefined && last.seq > upTo))
        break;
      const page = await this.store.listCheckpoints({
        after_seq: this.storeAfter,
        limit: STORE_PAGE,
      });
      this.buffered.push(...page);
      this.storeAfter = page.at(-1)?.seq ?? this.storeAfter;
      if (page.length < STORE_PAGE) this.storeDone = true;
    }
    const split = this.buffered.findIndex((c) => c.seq > upTo);
    const fromStore = split === -1 ? this.buffered : this.buffered.slice(0, split);
    this.buffered = split === -1 ? [] : this.buffered.slice(split);
    const fromWitness: AuditCheckpoint[] = [];
    for (let next = this.witnessed[this.witnessNext]; next !== undefined && next.seq <= upTo;) {
      fromWitness.push(next);
      this.witnessNext += 1;
      next = this.witnessed[this.witnessNext];
    }
    return [...fromStore, ...fromWitness];
  }

  /** Everything still to come, up to the limit. */
  rest(): Promise<AuditCheckpoint[]> {
    return this.through(this.limit);
  }
}
