/**
 * `/api/v1/approvals`: the queue of actions waiting for a human, and their resolution.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApprovalService } from '../../app/approvals.js';
import { principalOf } from '../auth.js';
import { ErrorBody, JobParams, PageLimit } from '../schemas.js';

const Approval = Type.Object({
  job_id: Type.String(),
  tenant_id: Type.String(),
  topic: Type.String(),
  job_hash: Type.String(),
  rule_id: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String(),
  requested_by: Type.String(),
  requested_at: Type.String(),
  expires_at: Type.String(),
  quorum: Type.Integer(),
  status: Type.Union(['PENDING', 'APPROVED', 'REJECTED', 'EXPIRED'].map((s) => Type.Literal(s))),
  resolutions: Type.Array(
    Type.Object({
      by: Type.String(),
      decision: Type.String(),
      note: Type.String(),
      at: Type.String(),
    }),
  ),
  payload: Type.Optional(Type.Unknown()),
});

const ListQuery = Type.Object(
  {
    include_resolved: Type.Optional(Type.Boolean({ default: false })),
    cursor: Type.Optional(Type.String({ maxLength: 64 })),
    limit: PageLimit,
  },
  { additionalProperties: false },
);
type ListQuery = Static<typeof ListQuery>;

const ApproveBody = Type.Object(
  {
    note: Type.Optional(Type.String({ maxLength: 4096 })),
    job_hash: Type.Optional(
      Type.String({ pattern: '^[0-9a-f]{64}$', description: 'The hash the approver reviewed' }),
    ),
  },
  { additionalProperties: false },
);
type ApproveBody = Static<typeof ApproveBody>;

const RejectBody = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: 4096 })) },
  { additionalProperties: false },
);
type RejectBody = Static<typeof RejectBody>;

const errors = { '4xx': ErrorBody, '5xx': ErrorBody };

export function approvalRoutes(app: FastifyInstance, approvals: ApprovalService): void {
  app.get<{ Querystring: ListQuery }>(
    '/api/v1/approvals',
    {
      schema: {
        summary: 'Approvals, oldest first',
        tags: ['approvals'],
        querystring: ListQuery,
        response: {
          200: Type.Object({
            items: Type.Array(Approval),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors,
        },
      },
    },
    async (request) =>
      approvals.list(principalOf(request), {
        includeResolved: request.query.include_resolved ?? false,
        limit: request.query.limit ?? 50,
        ...(request.query.cursor === undefined ? {} : { cursor: request.query.cursor }),
      }),
  );

  app.get<{ Params: JobParams }>(
    '/api/v1/approvals/:job_id',
    {
      schema: {
        summary: 'One approval',
        tags: ['approvals'],
        params: JobParams,
        response: { 200: Approval, ...errors },
      },
    },
    async (request) => approvals.get(request.params.job_id, principalOf(request)),
  );

  app.post<{ Params: JobParams; Body: ApproveBody | undefined }>(
    '/api/v1/approvals/:job_id/approve',
    {
      schema: {
        summary: 'Approve, optionally binding to the job hash you reviewed',
        tags: ['approvals'],
        params: JobParams,
        body: ApproveBody,
        response: { 200: Approval, ...errors },
      },
    },
    async (request) =>
      approvals.resolve(
        request.params.job_id,
        principalOf(request),
        'approve',
        request.body?.note ?? '',
        request.body?.job_hash,
      ),
  );

  app.post<{ Params: JobParams; Body: RejectBody | undefined }>(
    '/api/v1/approvals/:job_id/reject',
    {
      schema: {
        summary: 'Reject',
        tags: ['approvals'],
        params: JobParams,
        body: RejectBody,
        response: { 200: Approval, ...errors },
      },
    },
    async (request) =>
      approvals.resolve(
        request.params.job_id,
        principalOf(request),
        'reject',
        request.body?.note ?? '',
      ),
  );
}
