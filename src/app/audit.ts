/**
 * Reading the audit trail: the timeline of a trace, paged event queries, and chain verification
 * against the signed checkpoints (§10). Every read is scoped to the caller's tenant; verification
 * covers the whole chain, because the chain is one sequence across tenants.
 */
import { ChainVerifier } from '../core/audit/chain.js';
import type { AuditEvent, Sha256 } from '../core/audit/chain.js';
import type { AuditCheckpoint } from '../core/audit/checkpoint.js';
import { SignedChainVerifier } from '../core/audit/signed-chain.js';
import type { SignedChainVerification } from '../core/audit/signed-chain.js';
import { WardenError } from '../core/errors.js';
import type { Principal } from '../core/model/principal.js';
import { hasRole, requireRole, tenantFilter } from '../core/model/principal.js';
import type { AuditPublicKey } from '../ports/audit-signer.js';
import type { CheckpointWitness } from '../ports/checkpoint-witness.js';
import type { Store } from '../ports/store.js';
import { CheckpointFeed } from './checkpoint-feed.js';

export interface TimelineEvent {
  readonly seq: number;
  readonly at: string;
  readonly type: string;
  readonly actor: string;
  readonly job_id: string | null;
  readonly data: unknown;
}

const VERIFY_PAGE = 5000;
const TRACE_LIMIT = 10_000;
/** Reads of the whole trail when retention pruning moved its start meanwhile. */
const VERIFY_ATTEMPTS = 3;

/** `{ok, count, first_bad_seq, reason}` and how many signed checkpoints verified. */
export type AuditVerification = SignedChainVerification;

export interface AuditTrustOptions {
  /**
   * The keys checkpoints are checked with; the first is the gateway's own, served to auditors.
   * None: signatures cannot be checked, and a trail with checkpoints is not reported OK.
   */
  readonly publicKeys?: readonly AuditPublicKey[];
  /** The copy of the checkpoints kept outside the database; none when null. */
  readonly witness?: CheckpointWitness | null;
}

function timeline(event: AuditEvent): TimelineEvent {
  return {
    seq: event.seq,
    at: event.at,
    type: event.type,
    actor: event.actor,
    job_id: event.job_id,
    data: event.data,
  };
}

/**
 * An agent sees the events of the jobs it submitted, as with `GET /jobs/{id}`; a trace shared by
 * several agents shows each only its own part.
 */
function ownJobsOnly(events: readonly AuditEvent[], principal: Principal): readonly AuditEvent[] {
  const own = new Set(
    events
      .filter((e) => e.type === 'job.decided' && e.actor === principal.id && e.job_id !== null)
      .map((e) => e.job_id),
  );
  return events.filter((e) => e.job_id !== null && own.has(e.job_id));
}

export class AuditService {
  private readonly publicKeys: readonly AuditPublicKey[];
  private readonly witness: CheckpointWitness | null;

  constructor(
    private readonly store: Store,
    /** Any SHA-256; the composition root passes the native one for speed. */
    private readonly sha256: Sha256,
    trust: AuditTrustOptions = {},
  ) {
    this.publicKeys = trust.publicKeys ?? [];
    this.witness = trust.witness ?? null;
  }

  /** The full ordered timeline of one trace: decision, approvals, execution, terminal state. */
  async trace(
    traceId: string,
    principal: Principal,
  ): Promise<{ trace_id: string; events: TimelineEvent[] }> {
    requireRole(principal, 'auditor', 'agent', 'admin');
    const events = await this.store.queryAudit({
      trace_id: traceId,
      limit: TRACE_LIMIT,
      ...tenantFilter(principal),
    });
    const visible = hasRole(principal, 'auditor', 'admin')
      ? events
      : ownJobsOnly(events, principal);
    if (visible.length === 0)
      throw new WardenError('WARDEN_NOT_FOUND', `no events for trace ${traceId}`);
    return { trace_id: traceId, events: visible.map(timeline) };
  }

  async list(
    principal: Principal,
    query: {
      readonly type?: string;
      readonly job_id?: string;
      readonly cursor?: number;
      readonly limit: number;
    },
  ): Promise<{ items: AuditEvent[]; next_cursor: string | null }> {
    requireRole(principal, 'auditor', 'admin');
    const items = [
      ...(await this.store.queryAudit({
        limit: query.limit,
        ...tenantFilter(principal),
        ...(query.type === undefined ? {} : { type: query.type }),
        ...(query.job_id === undefined ? {} : { job_id: query.job_id }),
        ...(query.cursor === undefined ? {} : { after_seq: query.cursor }),
      })),
    ];
    const last = items.at(-1);
    return {
      items,
      next_cursor: items.length === query.limit && last !== undefined ? String(last.seq) : null,
    };
  }

  /** The public key checkpoints are signed with, for auditors to verify with on their own. */
  publicKey(principal: Principal): { key_id: string; public_key_pem: string } {
    requireRole(principal, 'auditor', 'admin');
    const key = this.publicKeys[0];
    if (key === undefined) throw new WardenError('WARDEN_NOT_FOUND', 'no audit signing key');
    return { key_id: key.keyId, public_key_pem: key.pem };
  }

  /**
   * Walks the whole chain in pages, checking each signed checkpoint as the stream passes its
   * seq; reports the first bad sequence number. `skipCheckpoints` checks the hash chain alone.
   */
  async verify(
    principal: Principal,
    options: { readonly skipCheckpoints?: boolean } = {},
  ): Promise<AuditVerification> {
    requireRole(principal, 'auditor', 'admin');
    for (let attempt = 1; ; attempt++) {
      const first = await this.firstSeq();
      const result = options.skipCheckpoints
        ? await this.verifyChain(first)
        : await this.verifySigned(first);
      // On a live gateway retention may prune the start of the trail while it is read, which
      // looks like missing events; a second read starts from the new anchor.
      if (result.ok || attempt >= VERIFY_ATTEMPTS || (await this.firstSeq()) === first) {
        return result;
      }
    }
  }

  private async firstSeq(): Promise<number | null> {
    return (await this.store.queryAudit({ limit: 1 }))[0]?.seq ?? null;
  }

  /** The stored checkpoint a trail starting at `first` continues from, when pruned. */
  private async anchorFor(first: number | null): Promise<AuditCheckpoint | null> {
    if (first === null || first <= 1) return null;
    const [found] = await this.store.listCheckpoints({ after_seq: first - 2, limit: 1 });
    return found?.seq === first - 1 ? found : null;
  }

  private async verifySigned(first: number | null): Promise<AuditVerification> {
    const anchor = await this.anchorFor(first);
    const start = anchor?.seq ?? 0;
    const witnessed = (await this.witness?.read(start)) ?? [];
    const limit = CheckpointFeed.limitOf(await this.store.latestCheckpoint(), witnessed);
    const verifier = new SignedChainVerifier({
      sha256: this.sha256,
      keys: this.publicKeys.length === 0 ? null : this.publicKeys,
      anchor,
    });
    const feed = new CheckpointFeed(this.store, witnessed, start, limit);
    const whole = await this.stream(async (page, last) => {
      verifier.expect(await feed.through(last));
      return page.every((event) => verifier.push(event));
    });
    // Checkpoints beyond the last event mean truncation; not needed once the chain broke.
    if (whole) verifier.expect(await feed.rest());
    return verifier.result();
  }

  /** The hash chain alone, from the stored anchor (unchecked) when the trail was pruned. */
  private async verifyChain(first: number | null): Promise<AuditVerification> {
    const anchor = await this.anchorFor(first);
    const verifier = new ChainVerifier(this.sha256, anchor ?? undefined);
    await this.stream((page) => Promise.resolve(page.every((event) => verifier.push(event))));
    return { ...verifier.result(), checkpoints: 0 };
  }

  /** Reads the trail in pages; `onPage` returns false to stop. True when read to the end. */
  private async stream(
    onPage: (page: readonly AuditEvent[], lastSeq: number) => Promise<boolean>,
  ): Promise<boolean> {
    let after = 0;
    for (;;) {
      const page = await this.store.queryAudit({ after_seq: after, limit: VERIFY_PAGE });
      const last = page.at(-1);
      if (last === undefined) return true;
      if (!(await onPage(page, last.seq))) return false;
      if (page.length < VERIFY_PAGE) return true;
      after = last.seq;
    }
  }
}
