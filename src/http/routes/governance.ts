/**
 * `/api/v1/governance/checklist` (§11): the four governance checks, computed from live state.
 * A failing check is still a 200: the report is the answer, `ok` says whether all passed.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { GovernanceChecklist } from '../../app/checklist.js';
import { principalOf } from '../auth.js';
import { ErrorBody } from '../schemas.js';

const Check = Type.Object({
  id: Type.Union(
    [
      'policy_on_every_dispatch',
      'approval_queue_bounded',
      'fail_mode_explicit',
      'audit_queryable',
    ].map((id) => Type.Literal(id)),
  ),
  title: Type.String(),
  pass: Type.Boolean(),
  detail: Type.String(),
});

export function governanceRoutes(app: FastifyInstance, checklist: GovernanceChecklist): void {
  app.get(
    '/api/v1/governance/checklist',
    {
      schema: {
        summary: 'The governance checklist, computed from live state',
        tags: ['governance'],
        response: {
          200: Type.Object({
            ok: Type.Boolean(),
            checked_at: Type.String(),
            checks: Type.Array(Check),
          }),
          '4xx': ErrorBody,
          '5xx': ErrorBody,
        },
      },
    },
    async (request) => checklist.run(principalOf(request)),
  );
}
