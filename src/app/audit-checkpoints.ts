/**
 * Signed audit checkpoints and retention (§10), run by the gateway's background loop.
 *
 * `checkpointIfDue` signs the head of the chain (`{seq, hash, at}`) every `everyEvents` events,
 * or once `everyMs` passed since the last checkpoint and the chain grew; each checkpoint goes to
 * the witness (outside the database) first, then to the store, so the witness holds every
 * checkpoint the store does. Events after the newest checkpoint are covered by the chain alone:
 * that tail is the bound of what can be dropped unnoticed (see docs/adr/0007).
 *
 * `pruneExpired` deletes events older than the retention period, always up to a signed
 * checkpoint (the anchor the rest then verifies from), one checkpoint at a time so no single
 * transaction deletes an unbounded number of rows, and records `audit.pruned`.
 *
 * This module never reads key material: signing is the `AuditSigner` port's.
 */
import type { AuditEvent } from '../core/audit/chain.js';
import type { AuditCheckpoint } from '../core/audit/checkpoint.js';
import { checkpointPayload } from '../core/audit/checkpoint.js';
import type { AuditSigner } from '../ports/audit-signer.js';
import type { CheckpointWitness } from '../ports/checkpoint-witness.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';

export const DEFAULT_CHECKPOINT_EVERY_EVENTS = 1000;
export const DEFAULT_CHECKPOINT_EVERY_MS = 60_000;
export const DEFAULT_RETENTION_DAYS = 400;

const DAY_MS = 86_400_000;
/** Checkpoints read per page while looking for what retention may prune. */
const PRUNE_PAGE = 100;

export interface CheckpointSettings {
  /** Sign once the chain grew by this many events since the last checkpoint (default 1000). */
  readonly everyEvents?: number;
  /** Sign once this long passed since the last checkpoint, if the chain grew (default 60 s). */
  readonly everyMs?: number;
  /** Delete events older than this many days (default 400); null keeps them forever. */
  readonly retentionDays?: number | null;
}

export interface AuditCheckpointerDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly signer: AuditSigner;
  /** Where each checkpoint is also recorded outside the database; none when null. */
  readonly witness: CheckpointWitness | null;
  readonly settings?: CheckpointSettings;
}

export interface PruneOutcome {
  /** The new anchor: every event up to and including it is gone. */
  readonly through_seq: number;
  readonly events: number;
}

export class AuditCheckpointer {
  private readonly everyEvents: number;
  private readonly everyMs: number;
  private readonly retentionDays: number | null;

  constructor(private readonly deps: AuditCheckpointerDeps) {
    const settings = deps.settings ?? {};
    this.everyEvents = settings.everyEvents ?? DEFAULT_CHECKPOINT_EVERY_EVENTS;
    this.everyMs = settings.everyMs ?? DEFAULT_CHECKPOINT_EVERY_MS;
    this.retentionDays =
      settings.retentionDays === undefined ? DEFAULT_RETENTION_DAYS : settings.retentionDays;
  }

  /**
   * The background task: a checkpoint when one is due, then retention. The signal (the loop
   * stopping) ends pruning between two steps.
   */
  readonly run = async (signal: AbortSignal): Promise<void> => {
    const now = this.deps.clock.now();
    await this.checkpointIfDue(now);
    if (this.retentionDays !== null && !signal.aborted) {
      await this.pruneExpired(now, this.retentionDays, signal);
    }
  };

  /** Signs and stores a checkpoint of the head when one is due; returns it, or null. */
  async checkpointIfDue(now: string = this.deps.clock.now()): Promise<AuditCheckpoint | null> {
    return this.checkpoint(now, (head, last) => {
      const grown = head.seq - last.seq >= this.everyEvents;
      return grown || Date.parse(now) - Date.parse(last.at) >= this.everyMs;
    });
  }

  /**
   * Signs the head whenever the chain grew since the last checkpoint, whatever the cadence: at a
   * graceful shutdown, so a stopped gateway leaves no tail that no checkpoint covers.
   */
  async checkpointHead(now: string = this.deps.clock.now()): Promise<AuditCheckpoint | null> {
    return this.checkpoint(now, () => true);
  }

  private async checkpoint(
    now: string,
    due: (head: AuditEvent, last: AuditCheckpoint) => boolean,
  ): Promise<AuditCheckpoint | null> {
    const { store, signer, witness } = this.deps;
    const head = await store.auditHead();
    if (head === null) return null;
    const last = await store.latestCheckpoint();
    if (last !== null && (head.seq <= last.seq || !due(head, last))) return null;
    const claim = { seq: head.seq, hash: head.hash, at: now };
    const checkpoint: AuditCheckpoint = {
      ...claim,
      key_id: signer.keyId,
      signature: signer.sign(checkpointPayload(claim)),
    };
    // Witness first: if the store write then fails, the witness merely holds one checkpoint
    // more, which still matches the chain; the reverse order could leave the store ahead of it.
    await witness?.append(checkpoint);
    await store.addCheckpoint(checkpoint);
    return checkpoint;
  }

  /**
   * Deletes the events older than `retentionDays` before `now`, up to the newest checkpoint
   * signed before the cutoff that is below the head, one checkpoint per transaction; records
   * `audit.pruned` with the new anchor and how many events went. Null when nothing was due.
   */
  async pruneExpired(
    now: string = this.deps.clock.now(),
    retentionDays: number = this.retentionDays ?? DEFAULT_RETENTION_DAYS,
    signal?: AbortSignal,
  ): Promise<PruneOutcome | null> {
    const { store } = this.deps;
    const cutoff = Date.parse(now) - retentionDays * DAY_MS;
    const head = await store.auditHead();
    const first = (await store.queryAudit({ limit: 1 }))[0];
    if (head === null || first === undefined) return null;
    let through = first.seq - 1;
    let events = 0;
    try {
      let after = through;
      for (;;) {
        const page = await store.listCheckpoints({ after_seq: after, limit: PRUNE_PAGE });
        let done = page.length < PRUNE_PAGE;
        for (const checkpoint of page) {
          const expired = Date.parse(checkpoint.at) < cutoff && checkpoint.seq < head.seq;
          if (!expired || signal?.aborted === true) {
            done = true;
            break;
          }
          events += await store.pruneAudit(checkpoint.seq);
          through = checkpoint.seq;
        }
        const last = page.at(-1);
        if (done || last === undefined) break;
        after = last.seq;
      }
    } finally {
      // Also after a failed step: what the earlier steps deleted is recorded.
      if (events > 0) await this.recordPruned(now, { through_seq: through, events });
    }
    return events === 0 ? null : { through_seq: through, events };
  }

  private async recordPruned(at: string, outcome: PruneOutcome): Promise<void> {
    await this.deps.store.appendAudit([
      {
        at,
        type: 'audit.pruned',
        tenant_id: '*',
        trace_id: 'audit',
        job_id: null,
        actor: 'system',
        data: { through_seq: outcome.through_seq, events: outcome.events },
      },
    ]);
  }
}
