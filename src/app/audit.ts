/**
 * Reading the audit trail: the timeline of a trace, paged event queries, and chain verification.
 * Every read is scoped to the caller's tenant; verification covers the whole chain, because the
 * chain is one sequence across tenants.
 */
import { ChainVerifier } from '../core/audit/chain.js';
import type { AuditEvent, ChainVerification, Sha256 } from '../core/audit/chain.js';
import { WardenError } from '../core/errors.js';
import type { Principal } from '../core/model/principal.js';
import { hasRole, requireRole, tenantFilter } from '../core/model/principal.js';
import type { Store } from '../ports/store.js';

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
  constructor(
    private readonly store: Store,
    /** Any SHA-256; the composition root passes the native one for speed. */
    private readonly sha256: Sha256,
  ) {}

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

  /** Walks the whole chain in pages; reports the first bad sequence number. */
  async verify(principal: Principal): Promise<ChainVerification> {
    requireRole(principal, 'auditor', 'admin');
    const verifier = new ChainVerifier(this.sha256);
    let after = 0;
    for (;;) {
      const page = await this.store.queryAudit({ after_seq: after, limit: VERIFY_PAGE });
      for (const event of page) if (!verifier.push(event)) return verifier.result();
      const last = page.at(-1);
      if (page.length < VERIFY_PAGE || last === undefined) return verifier.result();
      after = last.seq;
    }
  }
}
