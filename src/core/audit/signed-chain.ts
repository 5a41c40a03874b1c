/**
 * Verifying the audit trail against its signed checkpoints (§10), streaming: the hash chain
 * (`ChainVerifier`) shows an edited, reordered or deleted row; a checkpoint, signed with a key
 * kept outside the database, additionally pins what the chain looked like when it was signed:
 *
 * - the event at the checkpoint's seq must still have the signed hash, so a chain rewritten with
 *   recomputed hashes fails, naming the range since the last checkpoint that still matched;
 * - a checkpoint beyond the last event shows the tail was cut off (truncation);
 * - a trail that does not start at seq 1 must start right after a signed checkpoint (the anchor
 *   retention pruning leaves), else its head was cut off.
 *
 * What no checkpoint covers yet — events after the newest one — verifies by the chain alone.
 *
 * Pure: signature checking is an argument, checkpoints arrive from the caller (store pages, the
 * witness file). The per-event cost beyond the chain's hash is one integer comparison: the next
 * checkpoint's seq is kept at hand and matched as the stream passes it.
 */
import { ChainVerifier, GENESIS_HASH } from './chain.js';
import type { AuditEvent, ChainVerification, Sha256 } from './chain.js';
import { checkpointPayload } from './checkpoint.js';
import type { AuditCheckpoint } from './checkpoint.js';

/** A public key checkpoints may be signed with. */
export interface CheckpointKey {
  /** The `key_id` its checkpoints carry. */
  readonly keyId: string;
  /** True when `signature` (base64) is this key's signature over `payload`; never throws. */
  verify(payload: string, signature: string): boolean;
}

export interface SignedChainVerification extends ChainVerification {
  /**
   * Sequence numbers vouched for by a checkpoint whose signature verified and whose event
   * matched (the pruning anchor included); copies at one seq count once.
   */
  readonly checkpoints: number;
}

export interface SignedChainOptions {
  readonly sha256: Sha256;
  /**
   * The keys checkpoints may be signed with; null when no public key is available. Then every
   * other check still runs, but a trail that relies on a checkpoint is not reported OK.
   */
  readonly keys: readonly CheckpointKey[] | null;
  /** The checkpoint right before the first kept event of a pruned trail, or null. */
  readonly anchor: AuditCheckpoint | null;
}

const bySeq = (a: AuditCheckpoint, b: AuditCheckpoint): number => a.seq - b.seq;

/**
 * Feed it with `expect` (checkpoints, before the stream reaches their seq) and `push` (events in
 * seq order), then read `result()` once everything was fed.
 */
export class SignedChainVerifier {
  private readonly sha256: Sha256;
  private readonly keys: ReadonlyMap<string, CheckpointKey> | null;
  private readonly anchor: AuditCheckpoint | null;
  /** The seq the chain continues from: 0 (the genesis) or the anchor's. */
  private readonly startSeq: number;
  private readonly chain: ChainVerifier;
  /** Checkpoints not yet reached, ascending from `next`. */
  private queue: AuditCheckpoint[] = [];
  private next = 0;
  /** `queue[next].seq`, or +Infinity: the one comparison made per event. */
  private nextSeq = Number.POSITIVE_INFINITY;
  /** The highest seq a matching checkpoint (or the start) vouches for. */
  private covered: number;
  /** The seq of the last event pushed (the start before the first). */
  private lastSeq: number;
  private started = false;
  private verified = 0;
  /** Checkpoints relied on without checking their signature (no key). */
  private unchecked = 0;
  private failure: SignedChainVerification | null = null;

  constructor(options: SignedChainOptions) {
    this.sha256 = options.sha256;
    this.keys = options.keys === null ? null : new Map(options.keys.map((key) => [key.keyId, key]));
    this.anchor = options.anchor;
    this.startSeq = options.anchor?.seq ?? 0;
    this.chain = new ChainVerifier(
      this.sha256,
      options.anchor === null
        ? { seq: 0, hash: GENESIS_HASH }
        : { seq: options.anchor.seq, hash: options.anchor.hash },
    );
    this.covered = this.startSeq;
    this.lastSeq = this.startSeq;
  }

  /**
   * Adds checkpoints to check, in any order. Those at or below the start were pruned with their
   * events and are ignored; one whose seq the stream has already passed is a caller error.
   */
  expect(checkpoints: readonly AuditCheckpoint[]): void {
    const fresh = checkpoints.filter((c) => c.seq > this.startSeq).sort(bySeq);
    const first = fresh[0];
    if (first === undefined) return;
    if (first.seq <= this.lastSeq && this.started) {
      throw new Error(`checkpoint at seq ${String(first.seq)} arrived after the stream passed it`);
    }
    const tail = this.queue.at(-1);
    // Compact what was consumed, so a long run does not keep every checkpoint it passed.
    if (this.next > 1024) {
      this.queue = this.queue.slice(this.next);
      this.next = 0;
    }
    if (tail === undefined || this.next >= this.queue.length || tail.seq <= first.seq) {
      this.queue.push(...fresh);
    } else {
      this.queue = [...this.queue.slice(this.next), ...fresh].sort(bySeq);
      this.next = 0;
    }
    this.nextSeq = this.queue[this.next]?.seq ?? Number.POSITIVE_INFINITY;
  }

  /** Feeds the next event; false once the trail is found broken (later events are ignored). */
  push(event: AuditEvent): boolean {
    if (this.failure !== null) return false;
    if (!this.started && !this.begin(event.seq)) return false;
    if (!this.chain.push(event)) {
      this.failure = { ...this.chain.result(), checkpoints: this.verified };
      return false;
    }
    this.lastSeq = event.seq;
    return event.seq === this.nextSeq ? this.reach(event) : true;
  }

  /** The verdict over everything fed. */
  result(): SignedChainVerification {
    if (this.failure !== null) return this.failure;
    if (!this.started && !this.begin(null)) return this.verdict();
    const beyond = this.queue.slice(this.next);
    for (const checkpoint of beyond) {
      const problem = this.signatureProblem(checkpoint);
      if (problem !== null) return this.fail(checkpoint.seq, problem);
    }
    const last = beyond.at(-1);
    if (last !== undefined) {
      const from = this.lastSeq + 1;
      return this.fail(
        from,
        `the signed checkpoint at seq ${String(last.seq)} (${last.at}) vouches for events through seq ${String(last.seq)}, but the trail ends at seq ${String(this.lastSeq)}: events ${String(from)}..${String(last.seq)} are missing (truncated)`,
      );
    }
    if (this.unchecked > 0) {
      return {
        ok: false,
        count: this.chain.result().count,
        first_bad_seq: null,
        reason: `chain intact, but ${String(this.unchecked)} checkpoint(s) could not be checked: no public key to verify their signatures`,
        checkpoints: 0,
      };
    }
    return this.intact();
  }

  /** The failure recorded, else the intact verdict. */
  private verdict(): SignedChainVerification {
    return this.failure ?? this.intact();
  }

  private intact(): SignedChainVerification {
    return { ...this.chain.result(), checkpoints: this.verified };
  }

  /**
   * Checks where the trail starts (`firstSeq`, null when it is empty): at seq 1, or right after
   * a signed anchor.
   */
  private begin(firstSeq: number | null): boolean {
    this.started = true;
    const anchor = this.anchor;
    if (anchor === null) {
      if (firstSeq === null || firstSeq <= 1) return true;
      return this.failAt(
        1,
        0,
        `the trail starts at seq ${String(firstSeq)} with no signed checkpoint at seq ${String(firstSeq - 1)} to anchor it: events 1..${String(firstSeq - 1)} are missing`,
      );
    }
    const problem = this.signatureProblem(anchor);
    if (problem !== null) {
      return this.failAt(
        1,
        0,
        `the trail starts after seq ${String(anchor.seq)}, but the checkpoint anchoring it there is not trusted (${problem}): events 1..${String(anchor.seq)} are unaccounted for`,
      );
    }
    this.count();
    return true;
  }

  /** The stream reached the next checkpoint's seq: each checkpoint there must match the event. */
  private reach(event: AuditEvent): boolean {
    let checkpoint = this.queue[this.next];
    while (checkpoint?.seq === event.seq) {
      const problem = this.signatureProblem(checkpoint);
      if (problem !== null) return this.failAt(event.seq, event.seq - 1, problem);
      if (checkpoint.hash !== event.hash) {
        const from = this.covered + 1;
        return this.failAt(
          from,
          this.covered,
          `events ${String(from)}..${String(event.seq)} do not match the checkpoint signed at seq ${String(event.seq)} (${checkpoint.at}): the chain was rewritten after it was signed`,
        );
      }
      this.next += 1;
      checkpoint = this.queue[this.next];
    }
    // Several checkpoints at one seq (the store's and the witness's copy) count once.
    this.count();
    this.covered = event.seq;
    this.nextSeq = checkpoint?.seq ?? Number.POSITIVE_INFINITY;
    return true;
  }

  private count(): void {
    if (this.keys === null) this.unchecked += 1;
    else this.verified += 1;
  }

  /** Why a checkpoint's signature is not to be trusted, or null (also when there is no key). */
  private signatureProblem(checkpoint: AuditCheckpoint): string | null {
    if (this.keys === null) return null;
    const key = this.keys.get(checkpoint.key_id);
    const at = `checkpoint at seq ${String(checkpoint.seq)}`;
    if (key === undefined) return `${at} is signed by unknown key ${checkpoint.key_id}`;
    return key.verify(checkpointPayload(checkpoint), checkpoint.signature)
      ? null
      : `${at} has a signature that does not verify with key ${checkpoint.key_id}`;
  }

  /** Fails at `seq`; `through` is the last seq verified good before it. */
  private failAt(seq: number, through: number, reason: string): false {
    this.failure = {
      ok: false,
      count: Math.max(0, through - this.startSeq),
      first_bad_seq: seq,
      reason,
      checkpoints: this.verified,
    };
    return false;
  }

  /** Fails once the whole stream was read: every event pushed verified. */
  private fail(seq: number, reason: string): SignedChainVerification {
    this.failAt(seq, this.lastSeq, reason);
    return this.verdict();
  }
}
