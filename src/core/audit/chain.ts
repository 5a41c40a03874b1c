/**
 * The audit hash chain (§10): each event's hash covers the previous hash and the canonical JSON
 * of the event without its hash, so editing, deleting, reordering or inserting an event breaks
 * every hash after it. Verification reports the first bad sequence number.
 *
 * The SHA-256 function is an argument so the gateway can pass the platform's native one; the
 * result is the same bytes either way.
 */
import { canonicalJson } from '../hash/jcs.js';

export const GENESIS_HASH = '0'.repeat(64);

export type Sha256 = (text: string) => string;

/** An audit event as stored. `hash` = SHA-256(prev_hash || JCS(event without hash)). */
export interface AuditEvent {
  readonly seq: number;
  readonly at: string;
  readonly type: string;
  readonly tenant_id: string;
  readonly trace_id: string;
  readonly job_id: string | null;
  readonly actor: string;
  readonly data: unknown;
  readonly prev_hash: string;
  readonly hash: string;
}

export type UnsealedEvent = Omit<AuditEvent, 'seq' | 'prev_hash' | 'hash'>;

export function eventHash(event: Omit<AuditEvent, 'hash'>, sha256: Sha256): string {
  const body: Record<string, unknown> = {
    seq: event.seq,
    at: event.at,
    type: event.type,
    tenant_id: event.tenant_id,
    trace_id: event.trace_id,
    job_id: event.job_id,
    actor: event.actor,
    data: event.data,
    prev_hash: event.prev_hash,
  };
  return sha256(event.prev_hash + canonicalJson(body));
}

/** Appends events after `head` (the last stored event, or null), assigning seq and hashes. */
export function sealEvents(
  head: { readonly seq: number; readonly hash: string } | null,
  events: readonly UnsealedEvent[],
  sha256: Sha256,
): AuditEvent[] {
  let seq = head?.seq ?? 0;
  let prev = head?.hash ?? GENESIS_HASH;
  return events.map((event) => {
    seq += 1;
    const unhashed = { ...event, seq, prev_hash: prev };
    const hash = eventHash(unhashed, sha256);
    prev = hash;
    return { ...unhashed, hash };
  });
}

export interface ChainVerification {
  readonly ok: boolean;
  readonly count: number;
  readonly first_bad_seq: number | null;
  readonly reason: string;
}

/**
 * Streams through events in seq order. `start` is the trusted point to continue from (the
 * genesis, or a signed checkpoint after pruning).
 */
export class ChainVerifier {
  private expectedSeq: number;
  private prev: string;
  private counted = 0;
  private failure: ChainVerification | null = null;

  constructor(
    private readonly sha256: Sha256,
    start: { readonly seq: number; readonly hash: string } = { seq: 0, hash: GENESIS_HASH },
  ) {
    this.expectedSeq = start.seq + 1;
    this.prev = start.hash;
  }

  /** Feeds the next event; returns false once the chain is broken (later events are ignored). */
  push(event: AuditEvent): boolean {
    if (this.failure !== null) return false;
    const fail = (reason: string): boolean => {
      this.failure = { ok: false, count: this.counted, first_bad_seq: event.seq, reason };
      return false;
    };
    if (event.seq !== this.expectedSeq) {
      return fail(
        event.seq > this.expectedSeq
          ? `events ${this.expectedSeq}..${event.seq - 1} are missing`
          : `seq ${event.seq} is out of order (expected ${this.expectedSeq})`,
      );
    }
    if (event.prev_hash !== this.prev)
      return fail(`prev_hash of seq ${event.seq} does not link to seq ${event.seq - 1}`);
    if (eventHash(event, this.sha256) !== event.hash)
      return fail(`hash of seq ${event.seq} does not match its content`);
    this.prev = event.hash;
    this.expectedSeq += 1;
    this.counted += 1;
    return true;
  }

  /** The verdict so far. */
  result(): ChainVerification {
    return (
      this.failure ?? { ok: true, count: this.counted, first_bad_seq: null, reason: 'chain intact' }
    );
  }

  /** The last verified link, for truncation checks against a checkpoint. */
  head(): { seq: number; hash: string } {
    return { seq: this.expectedSeq - 1, hash: this.prev };
  }
}

export function verifyChain(events: Iterable<AuditEvent>, sha256: Sha256): ChainVerification {
  const verifier = new ChainVerifier(sha256);
  for (const event of events) if (!verifier.push(event)) break;
  return verifier.result();
}
