/**
 * API keys: create (the secret is returned once), list, revoke, and authenticate requests.
 * Keys are stored as SHA-256 of the secret; the secret has 256 random bits, so a fast hash is
 * enough and lookups stay one indexed read.
 */
import type { Sha256, UnsealedEvent } from '../core/audit/chain.js';
import { WardenError } from '../core/errors.js';
import { API_KEY_PATTERN } from '../core/model/api-key.js';
import type { ApiKeyRecord } from '../core/model/api-key.js';
import { inTenant, requireRole } from '../core/model/principal.js';
import type { Principal, Role } from '../core/model/principal.js';
import type { Authenticator } from '../ports/authenticator.js';
import type { Clock } from '../ports/clock.js';
import type { Ids } from '../ports/ids.js';
import type { Store } from '../ports/store.js';

export interface KeyServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly sha256: Sha256;
}

export interface NewKey {
  readonly name: string;
  readonly tenant: string;
  readonly roles: readonly Role[];
}

/** A key as shown to admins: never the secret or its hash. */
export type KeyView = Omit<ApiKeyRecord, 'hash'>;

export interface CreatedKey extends KeyView {
  /** The secret, shown this once. */
  readonly key: string;
}

/** The operator acting from the command line or at first start. */
export const SYSTEM_PRINCIPAL: Principal = Object.freeze({
  id: 'system',
  tenant: '*',
  roles: ['admin'] as const,
});

export class KeyService implements Authenticator {
  constructor(private readonly deps: KeyServiceDeps) {}

  async create(actor: Principal, input: NewKey): Promise<CreatedKey> {
    requireRole(actor, 'admin');
    if (!inTenant(actor, input.tenant) || (input.tenant === '*' && actor.tenant !== '*')) {
      throw new WardenError(
        'WARDEN_FORBIDDEN',
        `this key cannot create keys for tenant "${input.tenant}"`,
      );
    }
    if (input.roles.length === 0)
      throw new WardenError('WARDEN_VALIDATION', 'a key needs at least one role');
    const now = this.deps.clock.now();
    const secret = this.deps.ids.apiKeySecret();
    const record: ApiKeyRecord = {
      id: `key_${this.deps.ids.jobId()}`,
      hash: this.deps.sha256(secret),
      name: input.name,
      tenant: input.tenant,
      roles: [...new Set(input.roles)].sort(),
      created_at: now,
      created_by: actor.id,
      revoked_at: null,
    };
    await this.deps.store.insertKey(record, [
      this.event(actor, now, input.tenant === '*' ? 'default' : input.tenant, 'key.created', {
        id: record.id,
        name: record.name,
        tenant: record.tenant,
        roles: record.roles,
      }),
    ]);
    return { ...view(record), key: secret };
  }

  async list(actor: Principal): Promise<KeyView[]> {
    requireRole(actor, 'admin');
    return (await this.deps.store.listKeys()).filter((k) => inTenant(actor, k.tenant)).map(view);
  }

  async revoke(actor: Principal, id: string): Promise<KeyView> {
    requireRole(actor, 'admin');
    const key = (await this.deps.store.listKeys()).find((k) => k.id === id);
    if (key === undefined || !inTenant(actor, key.tenant)) {
      throw new WardenError('WARDEN_NOT_FOUND', `no key ${id}`);
    }
    const now = this.deps.clock.now();
    const revoked = await this.deps.store.revokeKey(id, now, [
      this.event(actor, now, key.tenant === '*' ? 'default' : key.tenant, 'key.revoked', { id }),
    ]);
    if (revoked === null)
      throw new WardenError('WARDEN_INVALID_STATE', `key ${id} is already revoked`);
    return view(revoked);
  }

  /** On a store with no keys at all, creates the first admin key and returns it; else null. */
  async bootstrap(): Promise<CreatedKey | null> {
    if ((await this.deps.store.listKeys()).length > 0) return null;
    return this.create(SYSTEM_PRINCIPAL, {
      name: 'bootstrap admin',
      tenant: '*',
      roles: ['admin'],
    });
  }

  async authenticate(authorization: string | undefined): Promise<Principal | null> {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '');
    const secret = match?.[1];
    if (secret === undefined || !API_KEY_PATTERN.test(secret)) return null;
    const key = await this.deps.store.keyByHash(this.deps.sha256(secret));
    if (key === null || key.revoked_at !== null) return null;
    return { id: key.id, tenant: key.tenant, roles: key.roles };
  }

  private event(
    actor: Principal,
    at: string,
    tenant: string,
    type: string,
    data: unknown,
  ): UnsealedEvent {
    return {
      at,
      type,
      tenant_id: tenant,
      trace_id: `${type}:${at}`,
      job_id: null,
      actor: actor.id,
      data,
    };
  }
}

function view(key: ApiKeyRecord): KeyView {
  return {
    id: key.id,
    name: key.name,
    tenant: key.tenant,
    roles: key.roles,
    created_at: key.created_at,
    created_by: key.created_by,
    revoked_at: key.revoked_at,
  };
}
