/**
 * Authentication at the edge: every `/api/v1` request gets a principal from its credentials, or
 * a 401. Handlers then check roles with `requireRole`. `/healthz`, `/readyz`, `/metrics` and the
 * API docs need no key.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WardenError } from '../core/errors.js';
import type { Principal } from '../core/model/principal.js';
import type { Authenticator } from '../ports/authenticator.js';

const principals = new WeakMap<FastifyRequest, Principal>();
const PUBLIC_PATHS = new Set(['/api/v1/openapi.json']);

export function installAuthentication(app: FastifyInstance, authenticator: Authenticator): void {
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0] ?? '';
    if (!path.startsWith('/api/v1/') || PUBLIC_PATHS.has(path)) return;
    const principal = await authenticator.authenticate(request.headers.authorization);
    if (principal === null) {
      throw new WardenError(
        'WARDEN_UNAUTHENTICATED',
        'send an API key as "Authorization: Bearer wdn_..."',
      );
    }
    principals.set(request, principal);
  });
}

/** The principal the request authenticated as; undefined on routes that need no key. */
export function authenticatedAs(request: FastifyRequest): Principal | undefined {
  return principals.get(request);
}

export function principalOf(request: FastifyRequest): Principal {
  const principal = principals.get(request);
  if (principal === undefined) throw new WardenError('WARDEN_UNAUTHENTICATED');
  return principal;
}
