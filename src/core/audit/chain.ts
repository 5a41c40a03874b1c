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

/**
 * An event whose data is already in canonical JSON: the form a store seals and keeps (the text
 * is valid JSON, so it is the stored column as is). Encoding where the event is made leaves the
 * sealing, which runs inside the store's write transaction, only the envelope to write.
 */
export interface EncodedEvent extends Omit<UnsealedEvent, 'data'> {
  readonly data: string;
}

/** A sealed event as stored: data as canonical JSON text. */
export interface SealedEvent extends EncodedEvent {
  readonly seq: number;
  readonly prev_hash: string;
  readonly hash: string;
}

export function encodeEvent(event: UnsealedEvent): EncodedEvent {
  return {
    at: event.at,
    type: event.type,
    tenant_id: event.tenant_id,
    trace_id: event.trace_id,
    job_id: event.job_id,
    actor: event.actor,
    data: canonicalJson(event.data),
  };
}

/**
 * The same hash as `eventHash`, with the canonical JSON of the envelope written out: its members
 * in RFC 8785 order (actor, at, data, job_id, prev_hash, seq, tenant_id, trace_id, type) around
 * the already canonical data. `test/core/audit/chain.test.ts` pins the two to each other.
 */
function encodedHash(event: EncodedEvent, seq: number, prev: string, sha256: Sha256): string {
  const jobId = event.job_id === null ? 'null' : JSON.stringify(event.job_id);
  return sha256(
    `${prev}{"actor":${JSON.stringify(event.actor)},"at":${JSON.stringify(event.at)},"data":${event.data},"job_id":${jobId},"prev_hash":"${prev}","seq":${String(seq)},"tenant_id":${JSON.stringify(event.tenant_id)},"trace_id":${JSON.stringify(event.trace_id)},"type":${JSON.stringify(event.type)}}`,
  );
}

/** Appends encoded events after `head` (the last stored event, or null), assigning seq and hashes. */
export function sealEncoded(
  head: { readonly seq: number; readonly hash: string } | null,
  events: readonly EncodedEvent[],
  sha256: Sha256,
): SealedEvent[] {
  let seq = head?.seq ?? 0;
  let prev = head?.hash ?? GENESIS_HASH;
  const sealed: SealedEvent[] = [];
  for (const event of events) {
    seq += 1;
    const hash = encodedHash(event, seq, prev, sha256);
    sealed.push({ ...event, seq, prev_hash: prev, hash });
    prev = hash;
  }
  return sealed;
}

/** Appends events after `head` (the last stored event, or null), assigning seq and hashes. */
export function sealEvents(
  head: { readonly seq: number; readonly hash: string } | null,
  events: readonly UnsealedEvent[],
  sha256: Sha256,
): AuditEvent[] {
  return sealEncoded(head, events.map(encodeEvent), sha256).map((sealed, i) => ({
    ...sealed,
    data: events[i]?.data,
  }));
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
