/**
 * Dev mode (§11): no keys; every request acts as `dev` with every role. Only ever wired when the
 * server listens on loopback.
 */
import { ROLES } from '../core/model/principal.js';
import type { Principal } from '../core/model/principal.js';
import type { Authenticator } from '../ports/authenticator.js';

export const DEV_PRINCIPAL: Principal = Object.freeze({ id: 'dev', tenant: '*', roles: ROLES });

export const devAuthenticator: Authenticator = {
  authenticate: () => Promise.resolve(DEV_PRINCIPAL),
};
