/**
 * Agent risk profiles (§9): registered per tenant by admins, read by admins and auditors, and
 * looked up by the decider for every request that names an agent.
 */
import type { UnsealedEvent } from '../core/audit/chain.js';
import { WardenError } from '../core/errors.js';
import type { AgentRecord } from '../core/model/agent-profile.js';
import { inTenant, requestedTenant, requireRole, tenantFilter } from '../core/model/principal.js';
import type { Principal } from '../core/model/principal.js';
import type { AgentProfile } from '../core/model/request.js';
import { UNKNOWN_AGENT } from '../core/model/request.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';

export interface AgentServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  /**
   * How long a looked-up profile is reused for decisions (default 2 s). This service's own writes
   * replace their entry at once; the bound only matters for profiles written by another gateway
   * sharing the store.
   */
  readonly profileTtlMs?: number;
  /** Profiles (and "no profile" answers) kept at most; the oldest lookup is dropped first. */
  readonly profileCacheSize?: number;
  /** Milliseconds on a monotonic clock, for the cache's expiry. */
  readonly monotonicMs?: () => number;
}

interface CachedProfile {
  readonly profile: AgentProfile;
  readonly expiresAt: number;
}

export interface AgentPage {
  readonly items: readonly AgentRecord[];
  readonly next_cursor: string | null;
}

export class AgentService {
  /**
   * Profiles by tenant and agent id: every decision that names an agent needs one, and a store
   * read per decision costs more than the rest of the evaluation.
   */
  private readonly profiles = new Map<string, CachedProfile>();
  private readonly ttlMs: number;
  private readonly cacheSize: number;
  private readonly monotonicMs: () => number;

  constructor(private readonly deps: AgentServiceDeps) {
    this.ttlMs = deps.profileTtlMs ?? 2000;
    this.cacheSize = deps.profileCacheSize ?? 10_000;
    this.monotonicMs = deps.monotonicMs ?? (() => performance.now());
  }

  /** The profile a decision sees: the registered one, or `unknown` risk for an unregistered agent. */
  async profile(tenantId: string, agentId: string): Promise<AgentProfile> {
    const key = profileKey(tenantId, agentId);
    const cached = this.profiles.get(key);
    const now = this.monotonicMs();
    if (cached !== undefined && cached.expiresAt > now) return cached.profile;
    const record = await this.deps.store.getAgent(tenantId, agentId);
    const profile = record?.profile ?? UNKNOWN_AGENT;
    this.remember(key, profile);
    return profile;
  }

  /** Registers or replaces a profile; the tenant defaults to the key's own. */
  async put(
    principal: Principal,
    agentId: string,
    profile: AgentProfile,
    tenantId?: string,
  ): Promise<AgentRecord> {
    requireRole(principal, 'admin');
    const tenant = this.tenantFor(principal, tenantId);
    const now = this.deps.clock.now();
    const record: AgentRecord = {
      tenant_id: tenant,
      agent_id: agentId,
      profile,
      updated_at: now,
      updated_by: principal.id,
    };
    const event: UnsealedEvent = {
      at: now,
      type: 'agent.registered',
      tenant_id: tenant,
      trace_id: `agent:${agentId}`,
      job_id: null,
      actor: principal.id,
      data: { agent_id: agentId, profile },
    };
    const stored = await this.deps.store.putAgent(record, [event]);
    this.remember(profileKey(tenant, agentId), stored.profile);
    return stored;
  }

  async get(principal: Principal, agentId: string, tenantId?: string): Promise<AgentRecord> {
    requireRole(principal, 'admin', 'auditor');
    const tenant = this.tenantFor(principal, tenantId);
    const record = await this.deps.store.getAgent(tenant, agentId);
    if (record === null) {
      throw new WardenError('WARDEN_NOT_FOUND', `no agent ${agentId} in tenant ${tenant}`);
    }
    return record;
  }

  async list(
    principal: Principal,
    options: { cursor?: string; limit: number },
  ): Promise<AgentPage> {
    requireRole(principal, 'admin', 'auditor');
    const rows = await this.deps.store.listAgents({
      ...tenantFilter(principal),
      ...(options.cursor === undefined ? {} : { after: decodeCursor(options.cursor) }),
      limit: options.limit,
    });
    const last = rows.at(-1);
    return {
      items: rows,
      next_cursor: rows.length === options.limit && last !== undefined ? encodeCursor(last) : null,
    };
  }

  private remember(key: string, profile: AgentProfile): void {
    // Re-inserting moves the key to the end, so the first key is always the oldest lookup.
    this.profiles.delete(key);
    this.profiles.set(key, { profile, expiresAt: this.monotonicMs() + this.ttlMs });
    if (this.profiles.size > this.cacheSize) {
      const oldest = this.profiles.keys().next();
      if (oldest.done !== true) this.profiles.delete(oldest.value);
    }
  }

  private tenantFor(principal: Principal, tenantId: string | undefined): string {
    const tenant = requestedTenant(principal, tenantId);
    // Another tenant's agents are not visible at all, so they are "not found", never "forbidden".
    if (!inTenant(principal, tenant)) {
      throw new WardenError('WARDEN_NOT_FOUND', `no tenant ${tenant} visible to this key`);
    }
    return tenant;
  }
}

/** Tenant ids hold no NUL, so the pair maps to one key unambiguously. */
function profileKey(tenantId: string, agentId: string): string {
  return `${tenantId}\u0000${agentId}`;
}

function encodeCursor(record: AgentRecord): string {
  return Buffer.from(JSON.stringify([record.tenant_id, record.agent_id])).toString('base64url');
}

function decodeCursor(cursor: string): { tenant_id: string; agent_id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2) {
      const [tenant_id, agent_id] = value as unknown[];
      if (typeof tenant_id === 'string' && typeof agent_id === 'string')
        return { tenant_id, agent_id };
    }
  } catch {
    // Falls through to the validation error below.
  }
  throw new WardenError('WARDEN_VALIDATION', `cursor ${cursor} is not an agent list cursor`);
}
