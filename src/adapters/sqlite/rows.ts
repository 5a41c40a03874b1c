/**
 * How records map to SQLite rows: JSON columns for structured fields, shared by the store's reads
 * and its writes (which may run on another thread).
 */
import type { ApprovalRecord } from '../../core/approvals/approval.js';
import type { AuditEvent, SealedEvent } from '../../core/audit/chain.js';
import type { DeadLetter, JobRecord, JobResult, Lease } from '../../core/jobs/job.js';
import type { JobState } from '../../core/jobs/states.js';
import type { AgentRecord } from '../../core/model/agent-profile.js';
import type { ApiKeyRecord } from '../../core/model/api-key.js';
import type { Role } from '../../core/model/principal.js';
import type { AgentProfile } from '../../core/model/request.js';

export interface JobRow {
  job_id: string;
  tenant_id: string;
  topic: string;
  agent_id: string | null;
  principal: string;
  trace_id: string;
  idempotency_key: string | null;
  dispatch: string;
  risk_tags: string;
  labels: string;
  payload: string | null;
  job_hash: string;
  state: string;
  decision: string;
  constraints: string;
  attempt: number;
  created_at: string;
  updated_at: string;
  lease: string | null;
  lease_expires_at: string | null;
  deadline_at: string | null;
  result: string | null;
}

/** An audit row is the sealed event as the store keeps it: data as canonical JSON text. */
export type AuditRow = SealedEvent;

export function toJobRow(job: JobRecord): JobRow {
  return {
    job_id: job.job_id,
    tenant_id: job.tenant_id,
    topic: job.topic,
    agent_id: job.agent_id,
    principal: job.principal,
    trace_id: job.trace_id,
    idempotency_key: job.idempotency_key,
    dispatch: job.dispatch,
    risk_tags: JSON.stringify(job.risk_tags),
    labels: JSON.stringify(job.labels),
    // NULL is "no payload", the JSON text `null` is an explicit null: the job hash tells them apart.
    payload: job.payload === undefined ? null : JSON.stringify(job.payload),
    job_hash: job.job_hash,
    state: job.state,
    decision: JSON.stringify(job.decision),
    constraints: JSON.stringify(job.constraints),
    attempt: job.attempt,
    created_at: job.created_at,
    updated_at: job.updated_at,
    lease: job.lease === undefined ? null : JSON.stringify(job.lease),
    lease_expires_at: job.lease?.expires_at ?? null,
    deadline_at: job.deadline_at ?? null,
    result: job.result === undefined ? null : JSON.stringify(job.result),
  };
}

export function fromJobRow(row: JobRow): JobRecord {
  const job = {
    job_id: row.job_id,
    tenant_id: row.tenant_id,
    topic: row.topic,
    agent_id: row.agent_id,
    principal: row.principal,
    trace_id: row.trace_id,
    idempotency_key: row.idempotency_key,
    dispatch: row.dispatch as JobRecord['dispatch'],
    risk_tags: JSON.parse(row.risk_tags) as string[],
    labels: JSON.parse(row.labels) as Record<string, string>,
    job_hash: row.job_hash,
    state: row.state as JobState,
    decision: JSON.parse(row.decision) as JobRecord['decision'],
    constraints: JSON.parse(row.constraints) as JobRecord['constraints'],
    attempt: row.attempt,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
  return {
    ...job,
    ...(row.payload === null ? {} : { payload: JSON.parse(row.payload) as unknown }),
    ...(row.lease === null ? {} : { lease: JSON.parse(row.lease) as Lease }),
    ...(row.deadline_at === null ? {} : { deadline_at: row.deadline_at }),
    ...(row.result === null ? {} : { result: JSON.parse(row.result) as JobResult }),
  };
}

export interface KeyRow {
  id: string;
  hash: string;
  name: string;
  tenant: string;
  roles: string;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
}

export function fromKeyRow(row: KeyRow): ApiKeyRecord {
  return { ...row, roles: JSON.parse(row.roles) as Role[] };
}

export interface AgentRow {
  tenant_id: string;
  agent_id: string;
  profile: string;
  updated_at: string;
  updated_by: string;
}

export function fromAgentRow(row: AgentRow): AgentRecord {
  return { ...row, profile: JSON.parse(row.profile) as AgentProfile };
}

export function fromAuditRow(row: AuditRow): AuditEvent {
  return { ...row, data: JSON.parse(row.data) as unknown };
}

export interface ApprovalRow {
  job_id: string;
  tenant_id: string;
  topic: string;
  agent_id: string | null;
  status: string;
  requested_at: string;
  expires_at: string;
  version: number;
  record: string;
}

export function toApprovalRow(record: ApprovalRecord): ApprovalRow {
  return {
    job_id: record.job_id,
    tenant_id: record.tenant_id,
    topic: record.topic,
    agent_id: record.agent_id,
    status: record.status,
    requested_at: record.requested_at,
    expires_at: record.expires_at,
    version: record.version,
    record: JSON.stringify(record),
  };
}

export function fromApprovalRow(row: ApprovalRow): ApprovalRecord {
  return JSON.parse(row.record) as ApprovalRecord;
}

export interface DeadLetterRow extends JobRow {
  reason: string;
  dead_at: string;
  retried_as: string | null;
}

export function fromDeadLetterRow(row: DeadLetterRow): DeadLetter {
  const { reason, dead_at, retried_as, ...job } = row;
  return { job: fromJobRow(job), reason, dead_at, retried_as };
}
