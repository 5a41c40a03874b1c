/**
 * `/api/v1/traces/{trace_id}`, `/api/v1/audit`, `/api/v1/audit/verify`,
 * `/api/v1/audit/public-key`.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuditService } from '../../app/audit.js';
import { principalOf } from '../auth.js';
import { ErrorBody } from '../schemas.js';

const TimelineEvent = Type.Object({
  seq: Type.Integer(),
  at: Type.String(),
  type: Type.String(),
  actor: Type.String(),
  job_id: Type.Union([Type.String(), Type.Null()]),
  data: Type.Unknown(),
});
const AuditEvent = Type.Object({
  seq: Type.Integer(),
  at: Type.String(),
  type: Type.String(),
  tenant_id: Type.String(),
  trace_id: Type.String(),
  job_id: Type.Union([Type.String(), Type.Null()]),
  actor: Type.String(),
  data: Type.Unknown(),
  prev_hash: Type.String(),
  hash: Type.String(),
});
const TraceParams = Type.Object({ trace_id: Type.String({ minLength: 1, maxLength: 128 }) });
type TraceParams = Static<typeof TraceParams>;
const AuditQuery = Type.Object(
  {
    type: Type.Optional(Type.String({ maxLength: 64 })),
    job_id: Type.Optional(Type.String({ maxLength: 64 })),
    cursor: Type.Optional(Type.Integer({ minimum: 0, description: 'Events after this seq' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);
type AuditQuery = Static<typeof AuditQuery>;
const Verification = Type.Object({
  ok: Type.Boolean(),
  count: Type.Integer(),
  first_bad_seq: Type.Union([Type.Integer(), Type.Null()]),
  reason: Type.String(),
  checkpoints: Type.Integer({ description: 'Signed checkpoints verified' }),
});
const PublicKey = Type.Object({
  key_id: Type.String(),
  public_key_pem: Type.String({ description: 'Ed25519 public key (SPKI, PEM)' }),
});
const errors = { '4xx': ErrorBody, '5xx': ErrorBody };

export function auditRoutes(app: FastifyInstance, audit: AuditService): void {
  app.get<{ Params: TraceParams }>(
    '/api/v1/traces/:trace_id',
    {
      schema: {
        summary: 'The full timeline of a trace, in order',
        tags: ['audit'],
        params: TraceParams,
        response: {
          200: Type.Object({ trace_id: Type.String(), events: Type.Array(TimelineEvent) }),
          ...errors,
        },
      },
    },
    async (request) => audit.trace(request.params.trace_id, principalOf(request)),
  );

  app.get<{ Querystring: AuditQuery }>(
    '/api/v1/audit',
    {
      schema: {
        summary: 'Audit events, oldest first',
        tags: ['audit'],
        querystring: AuditQuery,
        response: {
          200: Type.Object({
            items: Type.Array(AuditEvent),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const { type, job_id, cursor, limit } = request.query;
      return audit.list(principalOf(request), {
        limit: limit ?? 100,
        ...(type === undefined ? {} : { type }),
        ...(job_id === undefined ? {} : { job_id }),
        ...(cursor === undefined ? {} : { cursor }),
      });
    },
  );

  app.get(
    '/api/v1/audit/verify',
    {
      schema: {
        summary: 'Verify the audit hash chain and its signed checkpoints',
        tags: ['audit'],
        response: { 200: Verification, ...errors },
      },
    },
    async (request) => audit.verify(principalOf(request)),
  );

  app.get(
    '/api/v1/audit/public-key',
    {
      schema: {
        summary: 'The public key audit checkpoints are signed with, for auditors',
        tags: ['audit'],
        response: { 200: PublicKey, ...errors },
      },
    },
    (request) => Promise.resolve(audit.publicKey(principalOf(request))),
  );
}
