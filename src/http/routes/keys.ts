/**
 * `/api/v1/keys`: create (the secret is in the response, once), list, revoke. Admin only.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { KeyService } from '../../app/keys.js';
import { ROLES } from '../../core/model/principal.js';
import { principalOf } from '../auth.js';
import { ErrorBody } from '../schemas.js';

const Role = Type.Union(ROLES.map((r) => Type.Literal(r)));
const KeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  tenant: Type.String(),
  roles: Type.Array(Role),
  created_at: Type.String(),
  created_by: Type.String(),
  revoked_at: Type.Union([Type.String(), Type.Null()]),
});
const CreatedKey = Type.Composite([
  KeyView,
  Type.Object({ key: Type.String({ description: 'Shown only in this response' }) }),
]);
const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    tenant: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'A tenant id, or * for all tenants',
    }),
    roles: Type.Array(Role, { minItems: 1, maxItems: ROLES.length }),
  },
  { additionalProperties: false },
);
type CreateBody = Static<typeof CreateBody>;
const KeyParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
type KeyParams = Static<typeof KeyParams>;
const errors = { '4xx': ErrorBody, '5xx': ErrorBody };

export function keyRoutes(app: FastifyInstance, keys: KeyService): void {
  app.post<{ Body: CreateBody }>(
    '/api/v1/keys',
    {
      schema: {
        summary: 'Create an API key',
        tags: ['keys'],
        body: CreateBody,
        response: { 201: CreatedKey, ...errors },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await keys.create(principalOf(request), request.body)),
  );
  app.get(
    '/api/v1/keys',
    {
      schema: {
        summary: 'List API keys (never their secrets)',
        tags: ['keys'],
        response: { 200: Type.Object({ items: Type.Array(KeyView) }), ...errors },
      },
    },
    async (request) => ({ items: await keys.list(principalOf(request)) }),
  );
  app.delete<{ Params: KeyParams }>(
    '/api/v1/keys/:id',
    {
      schema: {
        summary: 'Revoke an API key',
        tags: ['keys'],
        params: KeyParams,
        response: { 200: KeyView, ...errors },
      },
    },
    async (request) => keys.revoke(principalOf(request), request.params.id),
  );
}
