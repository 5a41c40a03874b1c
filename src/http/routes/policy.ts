/**
 * `/api/v1/policy`: read, replace, history, rollback, and dry-run evaluation. Replacing accepts
 * the YAML as JSON (`{"source": ..., "message": ...}`) or as a raw `application/yaml` body.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { JobService } from '../../app/jobs.js';
import type { PolicyService } from '../../app/policy.js';
import { POLICY_ORIGINS } from '../../core/model/policy-activation.js';
import { principalOf } from '../auth.js';
import type { JobBodyRules } from '../limits.js';
import { ErrorBody, PageQuery } from '../schemas.js';
import type { JobSubmitBody } from '../schemas.js';

const errors = { '4xx': ErrorBody, '5xx': ErrorBody };
const Snapshot = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'A policy snapshot id' });
const Message = Type.String({ maxLength: 1024, description: 'Why; recorded with the change' });

const ActivationSummary = {
  seq: Type.Integer(),
  snapshot: Type.String(),
  origin: Type.Union(POLICY_ORIGINS.map((o) => Type.Literal(o))),
  author: Type.String(),
  message: Type.String(),
  activated_at: Type.String(),
};
const PolicyView = Type.Object({ ...ActivationSummary, source: Type.String() });
const ActivationResult = Type.Object({ changed: Type.Boolean(), policy: PolicyView });
const History = Type.Object({
  items: Type.Array(Type.Object({ ...ActivationSummary, active: Type.Boolean() })),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

const PutBody = Type.Object(
  {
    source: Type.String({ minLength: 1, maxLength: 4 * 1024 * 1024, description: 'Policy YAML' }),
    message: Type.Optional(Message),
  },
  { additionalProperties: false },
);
type PutBody = Static<typeof PutBody>;
const PutQuery = Type.Object({ message: Type.Optional(Message) }, { additionalProperties: false });
type PutQuery = Static<typeof PutQuery>;
const RollbackBody = Type.Object(
  { snapshot: Snapshot, message: Type.Optional(Message) },
  { additionalProperties: false },
);
type RollbackBody = Static<typeof RollbackBody>;
const HistoryQuery = PageQuery(32);
type HistoryQuery = Static<typeof HistoryQuery>;
const EvaluateQuery = Type.Object(
  { explain: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);
type EvaluateQuery = Static<typeof EvaluateQuery>;
const Evaluation = Type.Object({
  decision: Type.Ref('Decision'),
  job_hash: Type.String(),
  rules: Type.Optional(
    Type.Array(
      Type.Object({
        rule_id: Type.String(),
        decision: Type.String(),
        matched: Type.Boolean(),
        detail: Type.String(),
      }),
    ),
  ),
});

export function policyRoutes(
  app: FastifyInstance,
  policy: PolicyService,
  jobs: JobService,
  jobBody: JobBodyRules,
): void {
  app.get(
    '/api/v1/policy',
    {
      schema: {
        summary: 'The active policy: source, snapshot id, author',
        tags: ['policy'],
        response: { 200: PolicyView, ...errors },
      },
    },
    (request) => policy.view(principalOf(request)),
  );

  void app.register((scope, _options, done) => {
    // Raw YAML bodies, for `curl --data-binary @policy.yaml`; only this route accepts them.
    scope.addContentTypeParser(
      ['application/yaml', 'application/x-yaml', 'text/yaml'],
      { parseAs: 'string' },
      (_request, body, parsed) => {
        parsed(null, { source: body });
      },
    );
    scope.put<{ Body: PutBody; Querystring: PutQuery }>(
      '/api/v1/policy',
      {
        schema: {
          summary: 'Replace the policy (refused with every problem located if it does not load)',
          tags: ['policy'],
          body: PutBody,
          querystring: PutQuery,
          response: { 200: ActivationResult, ...errors },
        },
        // The source is bounded by its schema and the body limit, not the per-string limit.
        config: { longStrings: true },
      },
      async (request) => {
        const message = request.body.message ?? request.query.message ?? '';
        return policy.replace(principalOf(request), request.body.source, message);
      },
    );
    done();
  });

  app.get<{ Querystring: HistoryQuery }>(
    '/api/v1/policy/snapshots',
    {
      schema: {
        summary: 'Every activation, newest first',
        tags: ['policy'],
        querystring: HistoryQuery,
        response: { 200: History, ...errors },
      },
    },
    (request) =>
      policy.history(principalOf(request), {
        limit: request.query.limit ?? 50,
        ...(request.query.cursor === undefined ? {} : { cursor: request.query.cursor }),
      }),
  );

  app.post<{ Body: RollbackBody }>(
    '/api/v1/policy/rollback',
    {
      schema: {
        summary: 'Activate an earlier snapshot again',
        tags: ['policy'],
        body: RollbackBody,
        response: { 200: ActivationResult, ...errors },
      },
    },
    async (request) => {
      const { snapshot, message } = request.body;
      return policy.rollback(principalOf(request), snapshot, message ?? '');
    },
  );

  app.post<{ Body: JobSubmitBody; Querystring: EvaluateQuery }>(
    '/api/v1/policy/evaluate',
    {
      schema: {
        summary: 'The decision a job would get now, without recording anything',
        description: 'With `explain=true`, every rule in file order with why it matched or not.',
        tags: ['policy'],
        body: jobBody.schema,
        querystring: EvaluateQuery,
        response: { 200: Evaluation, ...errors },
      },
      preHandler: jobBody.preHandler,
    },
    async (request) => {
      const explain = request.query.explain === true;
      const preview = await jobs.preview(request.body, principalOf(request), explain);
      return {
        decision: preview.decision,
        job_hash: preview.job_hash,
        ...(preview.explanation === undefined ? {} : { rules: preview.explanation.rules }),
      };
    },
  );
}
