/** Resolves a request's credentials to a principal (§11). */
import type { Principal } from '../core/model/principal.js';

export interface Authenticator {
  /** The principal for an `Authorization` header value, or null when it proves nothing. */
  authenticate(authorization: string | undefined): Promise<Principal | null>;
}
