/**
 * API keys (§11): stored hashed; each has a tenant (or `*`) and roles. The secret itself is shown
 * once, at creation, and never stored.
 */
import type { Role } from './principal.js';

export interface ApiKeyRecord {
  /** Public identifier; the principal id of requests made with the key. */
  readonly id: string;
  /** Lowercase hex SHA-256 of the whole secret. */
  readonly hash: string;
  readonly name: string;
  readonly tenant: string;
  readonly roles: readonly Role[];
  readonly created_at: string;
  readonly created_by: string;
  readonly revoked_at: string | null;
}

/** Secrets look like `wdn_` followed by 43 URL-safe base64 characters (256 random bits). */
export const API_KEY_PATTERN = /^wdn_[A-Za-z0-9_-]{43}$/;
