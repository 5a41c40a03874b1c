/**
 * Wire schemas (TypeBox → JSON Schema). The same objects validate requests and generate the
 * OpenAPI document, so the docs cannot drift from what the server accepts.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { MAX_WAIT_SEC } from '../app/job-changes.js';
import { DECISION_TYPES } from '../core/model/decision.js';
import { JOB_STATES } from '../core/jobs/states.js';

const Id = (description: string) => Type.String({ minLength: 1, maxLength: 128, description });

/** A tenant a resource belongs to: never `*`, which on keys means "every tenant". */
export const TenantId = (description: string) =>
  Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$', description });

/** Page size of list endpoints. */
export const PageLimit = Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 }));

/** The query of a list endpoint that has no filters: a cursor from the previous page and a size. */
export const PageQuery = (cursorMaxLength: number) =>
  Type.Object(
    { cursor: Type.Optional(Type.String({ maxLength: cursorMaxLength })), limit: PageLimit },
    { additionalProperties: false },
  );

/** The bounds of a job's labels (from the server's request limits). */
export interface LabelBounds {
  readonly labels: number;
  readonly label_key_chars: number;
  readonly label_value_chars: number;
}

/**
 * Labels: a map of strings, bounded in count, key and value length. Written as plain JSON Schema
 * because `Type.Record` drops the key's bounds (it becomes a pattern) and its `^(.*)$` pattern
 * does not match keys with a line break, whose values it would then not check at all.
 */
const Labels = (bounds: LabelBounds) =>
  Type.Unsafe<Record<string, string>>({
    type: 'object',
    maxProperties: bounds.labels,
    propertyNames: { minLength: 1, maxLength: bounds.label_key_chars },
    additionalProperties: { type: 'string', maxLength: bounds.label_value_chars },
    description:
      `At most ${String(bounds.labels)} labels, keys of 1–${String(bounds.label_key_chars)} ` +
      `characters, values of at most ${String(bounds.label_value_chars)}`,
  });

/** The job a client submits or evaluates (§3), with the server's label bounds. */
export const jobSubmitBody = (bounds: LabelBounds) =>
  Type.Object(
    {
      topic: Type.String({
        minLength: 1,
        maxLength: 256,
        pattern: '^[A-Za-z0-9_.:-]+$',
        description: 'Dot-separated action name, e.g. job.mcp-bridge.write.update_ticket',
      }),
      tenant_id: Type.Optional(TenantId('Tenant; defaults to the key’s tenant (or "default")')),
      agent_id: Type.Optional(Id('The agent acting; links to its risk profile')),
      risk_tags: Type.Optional(
        Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64 }),
      ),
      labels: Type.Optional(Labels(bounds)),
      payload: Type.Optional(
        Type.Unknown({ description: 'The action’s arguments: what will actually run' }),
      ),
      idempotency_key: Type.Optional(
        Id('Same key and content → same job; different content → 409'),
      ),
      dispatch: Type.Optional(Type.Union([Type.Literal('bus'), Type.Literal('inline')])),
      trace_id: Type.Optional(Id('Else taken from traceparent, else generated')),
    },
    { additionalProperties: false, $id: 'JobSubmit' },
  );
export type JobSubmitBody = Static<ReturnType<typeof jobSubmitBody>>;

export const Decision = Type.Object(
  {
    type: Type.Union(DECISION_TYPES.map((t) => Type.Literal(t))),
    rule_id: Type.Union([Type.String(), Type.Null()]),
    reason: Type.String(),
    policy_snapshot: Type.String(),
    constraints: Type.Record(Type.String(), Type.Unknown()),
    matched_rules: Type.Array(Type.String()),
    retry_after_sec: Type.Union([Type.Number(), Type.Null()]),
    diagnostics: Type.Array(Type.Unknown()),
  },
  { $id: 'Decision' },
);

const JobState = Type.Union(JOB_STATES.map((s) => Type.Literal(s)));

export const SubmitResponse = Type.Object({
  job_id: Type.String(),
  trace_id: Type.String(),
  state: JobState,
  job_hash: Type.String(),
  decision: Type.Ref('Decision'),
  /**
   * `store`: the store was down and the store fail mode is open, so this allowed inline job was
   * answered without being recorded; there is nothing to claim or report, run the action.
   */
  fail_open: Type.Optional(Type.Literal('store')),
});

export const JobView = Type.Object(
  {
    job_id: Type.String(),
    tenant_id: Type.String(),
    topic: Type.String(),
    agent_id: Type.Union([Type.String(), Type.Null()]),
    principal: Type.String(),
    trace_id: Type.String(),
    idempotency_key: Type.Union([Type.String(), Type.Null()]),
    dispatch: Type.String(),
    risk_tags: Type.Array(Type.String()),
    labels: Type.Record(Type.String(), Type.String()),
    payload: Type.Optional(Type.Unknown()),
    job_hash: Type.String(),
    state: JobState,
    decision: Type.Ref('Decision'),
    constraints: Type.Record(Type.String(), Type.Unknown()),
    attempt: Type.Integer(),
    created_at: Type.String(),
    updated_at: Type.String(),
    // The lease id is the worker's proof of holding the job: never shown to readers.
    lease: Type.Optional(Type.Object({ worker: Type.String(), expires_at: Type.String() })),
    deadline_at: Type.Optional(Type.String()),
    result: Type.Optional(Type.Ref('JobResult')),
  },
  { $id: 'Job' },
);

export const JobResultView = Type.Object(
  {
    status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
    output: Type.Optional(Type.Unknown()),
    error: Type.Optional(Type.String()),
    output_action: Type.Optional(
      Type.Union(['allow', 'redact', 'quarantine', 'block'].map((a) => Type.Literal(a))),
    ),
    findings: Type.Optional(
      Type.Array(
        Type.Object({
          rule_id: Type.String(),
          scanner: Type.String(),
          kind: Type.String(),
          path: Type.String(),
        }),
      ),
    ),
    attempt: Type.Integer(),
    reported_by: Type.String(),
    reported_at: Type.String(),
  },
  { $id: 'JobResult' },
);

/** A topic glob a worker leases by: the topic alphabet plus `*`. */
const TopicGlob = Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9_.:*-]+$' });

export const LeaseBody = Type.Object(
  {
    topics: Type.Array(TopicGlob, { minItems: 1, maxItems: 32 }),
    wait: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_WAIT_SEC,
        default: 0,
        description: 'Seconds to wait for a job when none is ready (long-poll)',
      }),
    ),
    max: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 1 })),
    lease_sec: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 3600,
        default: 30,
        description: 'Lease length; heartbeats extend it, an expired lease returns the job',
      }),
    ),
  },
  { additionalProperties: false },
);
export type LeaseBody = Static<typeof LeaseBody>;

const LeasedJobView = Type.Object({
  lease_id: Type.String(),
  lease_expires_at: Type.String(),
  deadline_at: Type.Union([Type.String(), Type.Null()]),
  job: Type.Ref('Job'),
});

export const LeaseResponse = Type.Object({ items: Type.Array(LeasedJobView) });

export const HeartbeatBody = Type.Object(
  {
    lease_id: Type.String({ minLength: 1, maxLength: 128 }),
    lease_sec: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, default: 30 })),
  },
  { additionalProperties: false },
);
export type HeartbeatBody = Static<typeof HeartbeatBody>;

export const HeartbeatResponse = Type.Object({
  state: JobState,
  cancel: Type.Boolean({
    description: 'True when the worker must stop: timed out, cancelled, lost',
  }),
  lease_expires_at: Type.Union([Type.String(), Type.Null()]),
  deadline_at: Type.Union([Type.String(), Type.Null()]),
});

export const ResultBody = Type.Object(
  {
    status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
    output: Type.Optional(Type.Unknown()),
    error: Type.Optional(Type.String({ maxLength: 4096 })),
    retryable: Type.Optional(Type.Boolean({ default: true })),
    lease_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type ResultBody = Static<typeof ResultBody>;

export const ClaimBody = Type.Object(
  { job_hash: Type.String({ pattern: '^[0-9a-f]{64}$' }) },
  { additionalProperties: false },
);
export type ClaimBody = Static<typeof ClaimBody>;

export const NoteBody = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: 4096 })) },
  { additionalProperties: false },
);
export type NoteBody = Static<typeof NoteBody>;

const DeadLetterView = Type.Object({
  job: Type.Ref('Job'),
  reason: Type.String(),
  dead_at: Type.String(),
  retried_as: Type.Union([Type.String(), Type.Null()]),
});

export const DeadLetterResponse = DeadLetterView;

export const DeadLetterList = Type.Object({
  items: Type.Array(DeadLetterView),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

export const JobGetQuery = Type.Object(
  {
    wait_for: Type.Optional(
      Type.Literal('terminal', { description: 'Long-poll until the job reaches a terminal state' }),
    ),
    wait: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_WAIT_SEC, description: 'Longest wait in seconds' }),
    ),
  },
  { additionalProperties: false },
);
export type JobGetQuery = Static<typeof JobGetQuery>;

export const JobParams = Type.Object({ job_id: Type.String({ minLength: 1, maxLength: 64 }) });
export type JobParams = Static<typeof JobParams>;

export const JobListQuery = Type.Object(
  {
    state: Type.Optional(JobState),
    topic: Type.Optional(Type.String({ maxLength: 256 })),
    cursor: Type.Optional(Type.String({ maxLength: 64 })),
    limit: PageLimit,
  },
  { additionalProperties: false },
);
export type JobListQuery = Static<typeof JobListQuery>;

export const JobList = Type.Object({
  items: Type.Array(Type.Ref('Job')),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Record(Type.String(), Type.Unknown()),
    }),
  },
  { $id: 'Error' },
);
