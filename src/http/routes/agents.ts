/**
 * `/api/v1/agents`: risk profiles (§9). Admins register; admins and auditors read.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AgentService } from '../../app/agents.js';
import { RISK_LEVELS } from '../../core/model/request.js';
import { principalOf } from '../auth.js';
import { ErrorBody, PageQuery, TenantId } from '../schemas.js';

const errors = { '4xx': ErrorBody, '5xx': ErrorBody };
const Name = Type.String({ minLength: 1, maxLength: 256 });

const Profile = Type.Object(
  {
    name: Type.Optional(Name),
    risk_level: Type.Union(RISK_LEVELS.map((r) => Type.Literal(r))),
    capabilities: Type.Optional(
      Type.Object(
        {
          write_data: Type.Optional(Type.Boolean()),
          external_messages: Type.Optional(Type.Boolean()),
          execute_code: Type.Optional(Type.Boolean()),
          financial_transactions: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    max_transaction_amount: Type.Optional(Type.Number({ minimum: 0 })),
    requires_human_approval: Type.Optional(Type.Boolean()),
    owner: Type.Optional(Name),
  },
  { additionalProperties: false },
);
const PutBody = Type.Composite(
  [
    Profile,
    Type.Object({
      tenant_id: Type.Optional(TenantId('Defaults to the key’s tenant')),
    }),
  ],
  { additionalProperties: false },
);
type PutBody = Static<typeof PutBody>;
const AgentParams = Type.Object({
  agent_id: Type.String({ minLength: 1, maxLength: 128 }),
});
type AgentParams = Static<typeof AgentParams>;
const TenantQuery = Type.Object(
  { tenant_id: Type.Optional(TenantId('Defaults to the key’s tenant')) },
  { additionalProperties: false },
);
type TenantQuery = Static<typeof TenantQuery>;
const ListQuery = PageQuery(512);
type ListQuery = Static<typeof ListQuery>;
const AgentView = Type.Object({
  tenant_id: Type.String(),
  agent_id: Type.String(),
  profile: Profile,
  updated_at: Type.String(),
  updated_by: Type.String(),
});

export function agentRoutes(app: FastifyInstance, agents: AgentService): void {
  app.put<{ Params: AgentParams; Body: PutBody }>(
    '/api/v1/agents/:agent_id',
    {
      schema: {
        summary: 'Register or replace an agent’s risk profile',
        tags: ['agents'],
        params: AgentParams,
        body: PutBody,
        response: { 200: AgentView, ...errors },
      },
    },
    (request) => {
      const { tenant_id: tenantId, ...profile } = request.body;
      return agents.put(principalOf(request), request.params.agent_id, profile, tenantId);
    },
  );

  app.get<{ Params: AgentParams; Querystring: TenantQuery }>(
    '/api/v1/agents/:agent_id',
    {
      schema: {
        summary: 'One agent’s risk profile',
        tags: ['agents'],
        params: AgentParams,
        querystring: TenantQuery,
        response: { 200: AgentView, ...errors },
      },
    },
    (request) => agents.get(principalOf(request), request.params.agent_id, request.query.tenant_id),
  );

  app.get<{ Querystring: ListQuery }>(
    '/api/v1/agents',
    {
      schema: {
        summary: 'Registered agents, by tenant and id',
        tags: ['agents'],
        querystring: ListQuery,
        response: {
          200: Type.Object({
            items: Type.Array(AgentView),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errors,
        },
      },
    },
    (request) =>
      agents.list(principalOf(request), {
        limit: request.query.limit ?? 50,
        ...(request.query.cursor === undefined ? {} : { cursor: request.query.cursor }),
      }),
  );
}
