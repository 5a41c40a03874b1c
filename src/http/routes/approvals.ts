/**
 * `/api/v1/approvals`: the queue of actions waiting for a human, and their resolution.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ApprovalService } from '../../app/approvals.js';
import { principalOf } from '../auth.js';
import { APPROVAL_STATUSES } from '../../core/approvals/approval.js';
import { MAX_WAIT_SEC } from '../../app/job-changes.js';
import { ErrorBody, JobParams, PageLimit, TenantId } from '../schemas.js';

const Approval = Type.Object({
  job_id: Type.String(),
  tenant_id: Type.String(),
  topic: Type.String(),
  agent_id: Type.Union([Type.String(), Type.Null()]),
  job_hash: Type.String({ description: 'What the approval binds to; send it back when approving' }),
  policy_snapshot: Type.String(),
  rule_id: Type.Union([Type.String(), Type.Null()]),
  reason: Type.String(),
  requested_by: Type.String(),
  requested_at: Type.String(),
  expires_at: Type.String(),
  quorum: Type.Integer(),
  approver_roles: Type.Array(Type.String()),
  allow_self_approval: Type.Boolean(),
  status: Type.Union(APPROVAL_STATUSES.map((s) => Type.Literal(s))),
  resolutions: Type.Array(
    Type.Object({
      by: Type.String(),
      decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')]),
      note: Type.String(),
      at: Type.String(),
    }),
  ),
  resolved_at: Type.Union([Type.String(), Type.Null()]),
  closed_reason: Type.Union([Type.String(), Type.Null()]),
  version: Type.Integer({ description: 'Increases with every change to the approval' }),
  risk_tags: Type.Array(Type.String()),
  labels: Type.Record(Type.String(), Type.String()),
  payload: Type.Optional(Type.Unknown()),
});

const ListQuery = Type.Object(
  {
    include_resolved: Type.Optional(Type.Boolean({ default: false })),
    topic: Type.Optional(Type.String({ maxLength: 256 })),
    agent_id: Type.Optional(Type.String({ maxLength: 256 })),
    tenant_id: Type.Optional(TenantId('Only this tenant (within what the key may see)')),
    cursor: Type.Optional(Type.String({ maxLength: 64 })),
    limit: PageLimit,
  },
  { additionalProperties: false },
);
type ListQuery = Static<typeof ListQuery>;

const GetQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_WAIT_SEC,
        description: 'Seconds to wait for the approval to leave PENDING',
      }),
    ),
  },
  { additionalProperties: false },
);
type GetQuery = Static<typeof GetQuery>;

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
    async (request) => {
      const { query } = request;
      return approvals.list(principalOf(request), {
        includeResolved: query.include_resolved ?? false,
        limit: query.limit ?? 50,
        ...(query.topic === undefined ? {} : { topic: query.topic }),
        ...(query.agent_id === undefined ? {} : { agentId: query.agent_id }),
        ...(query.tenant_id === undefined ? {} : { tenantId: query.tenant_id }),
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
    },
  );

  app.get<{ Params: JobParams; Querystring: GetQuery }>(
    '/api/v1/approvals/:job_id',
    {
      schema: {
        summary: 'One approval',
        description:
          'With `wait=N`, answers once the approval is no longer PENDING or after N seconds, ' +
          'whichever comes first; the status tells which.',
        tags: ['approvals'],
        params: JobParams,
        querystring: GetQuery,
        response: { 200: Approval, ...errors },
      },
    },
    async (request) => {
      const { wait } = request.query;
      const principal = principalOf(request);
      return wait === undefined || wait === 0
        ? approvals.get(request.params.job_id, principal)
        : approvals.wait(request.params.job_id, principal, wait);
    },
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
