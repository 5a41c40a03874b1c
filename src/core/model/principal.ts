/**
 * Who is calling (§11): always from authentication, never from a request body.
 */
import { WardenError } from '../errors.js';
import { DEFAULT_TENANT } from './request.js';

export const ROLES = ['agent', 'worker', 'approver', 'admin', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** Stable id of the key (or `dev` in dev mode); recorded as `principal` and `actor`. */
  readonly id: string;
  /** The tenant the key belongs to, or `*` for all tenants. */
  readonly tenant: string;
  readonly roles: readonly Role[];
}

export function hasRole(principal: Principal, ...roles: readonly Role[]): boolean {
  return roles.some((role) => principal.roles.includes(role));
}

/** Whether the principal may see resources of `tenant` at all. */
export function inTenant(principal: Principal, tenant: string): boolean {
  return principal.tenant === '*' || principal.tenant === tenant;
}

/** The tenant a request names, else the key's own (`default` for a key of every tenant). */
export function requestedTenant(principal: Principal, requested: string | undefined): string {
  return requested ?? (principal.tenant === '*' ? DEFAULT_TENANT : principal.tenant);
}

/** The store filter that limits reads to what the principal's tenant may see. */
export function tenantFilter(principal: Principal): { readonly tenant_id?: string } {
  return principal.tenant === '*' ? {} : { tenant_id: principal.tenant };
}

/** Throws WARDEN_FORBIDDEN unless the principal holds one of the roles. */
export function requireRole(principal: Principal, ...roles: readonly Role[]): void {
  if (!hasRole(principal, ...roles)) {
    throw new WardenError('WARDEN_FORBIDDEN', `this needs one of the roles: ${roles.join(', ')}`, {
      required: roles,
    });
  }
}
