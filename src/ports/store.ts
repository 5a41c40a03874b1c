/**
 * The store port: durable jobs, decisions and the audit chain. Narrow on purpose; every adapter
 * (SQLite, PostgreSQL) passes the same conformance suite (`test/conformance/store.ts`).
 *
 * INVARIANT: a job row, its decision and its audit events commit in one transaction, or none
 * of them do. The audit chain is sealed inside that transaction, so it has no gaps or forks.
 */
import type { ApprovalRecord, ApprovalStatus } from '../core/approvals/approval.js';
import type { AuditEvent, UnsealedEvent } from '../core/audit/chain.js';
import type { AuditCheckpoint } from '../core/audit/checkpoint.js';
import type { DeadLetter, JobGuard, JobPatch, JobRecord } from '../core/jobs/job.js';

export type { JobGuard } from '../core/jobs/job.js';
import type { JobState } from '../core/jobs/states.js';
import type { AgentRecord } from '../core/model/agent-profile.js';
import type { ApiKeyRecord } from '../core/model/api-key.js';
import type { NewPolicyActivation, PolicyActivation } from '../core/model/policy-activation.js';

export type InsertOutcome =
  | { readonly kind: 'inserted'; readonly job: JobRecord }
  /** The tenant already has a job with this idempotency key; nothing was written. */
  | { readonly kind: 'existing'; readonly job: JobRecord };

export interface JobFilter {
  readonly tenant_id?: string;
  readonly state?: JobState;
  readonly topic?: string;
  /** Jobs strictly after this job id (ids sort by creation). */
  readonly after?: string;
  readonly limit: number;
}

export interface AuditQuery {
  readonly tenant_id?: string;
  readonly type?: string;
  readonly job_id?: string;
  readonly trace_id?: string;
  /** Events with seq strictly greater than this. */
  readonly after_seq?: number;
  readonly limit: number;
}

export interface PolicyHistoryQuery {
  /** Activations with seq strictly below this (newest first paging). */
  readonly before_seq?: number;
  readonly limit: number;
}

export interface AgentQuery {
  readonly tenant_id?: string;
  /** Agents strictly after this (tenant_id, agent_id) position. */
  readonly after?: { readonly tenant_id: string; readonly agent_id: string };
  readonly limit: number;
}

/** An approval created in the same transaction as its job. */
export interface NewApproval {
  readonly record: ApprovalRecord;
  /** Pending approvals the tenant may hold; at the bound, `when_full` is stored instead. */
  readonly max_pending: number;
  /** The job (and its events) to store when the queue is full: denied, with no approval. */
  readonly when_full: { readonly job: JobRecord; readonly events: readonly UnsealedEvent[] };
}

export interface ApprovalQuery {
  readonly tenant_id?: string;
  readonly status?: ApprovalStatus;
  readonly topic?: string;
  readonly agent_id?: string;
  /** Approvals strictly after this job id (ids sort by creation, so the queue is oldest first). */
  readonly after?: string;
  readonly limit: number;
}

export interface ApprovalUpdate {
  /** The new record: written only while the stored one is PENDING at `record.version - 1`. */
  readonly record: ApprovalRecord;
  /** A job state change in the same transaction, itself a compare-and-set on the job's state. */
  readonly job?: { readonly from: readonly JobState[]; readonly patch: JobPatch };
}

export interface DeadLetterQuery {
  readonly tenant_id?: string;
  /** Dead letters strictly after this job id. */
  readonly after?: string;
  readonly limit: number;
}

export interface ApprovalQueueStats {
  readonly pending: number;
  readonly oldest_requested_at: string | null;
}

export interface Store {
  /**
   * Inserts the job and appends its events atomically, unless its idempotency key exists. With an
   * approval, the approval is created in the same transaction, or, when the tenant's queue is
   * full, `when_full` is stored instead (the outcome carries the job actually stored).
   */
  insertJob(
    job: JobRecord,
    events: readonly UnsealedEvent[],
    approval?: NewApproval,
  ): Promise<InsertOutcome>;
  getJob(jobId: string): Promise<JobRecord | null>;
  /** Ascending by job id. */
  listJobs(filter: JobFilter): Promise<readonly JobRecord[]>;
  /**
   * Compare-and-set: applies the patch only when the job's state is one of `from` (and the guard
   * holds), appending the events in the same transaction. Null when the job does not exist or
   * did not match. A patch with `dead_letter` also puts the job on the dead-letter list.
   *
   * INVARIANT (outbox, §7): whenever a write leaves a `bus` job QUEUED or DISPATCHED, the same
   * transaction keeps it in the outbox; any other state takes it out.
   * `pendingDispatches` and `unleasedDispatches` read it.
   */
  updateJob(
    jobId: string,
    from: readonly JobState[],
    patch: JobPatch,
    events: readonly UnsealedEvent[],
    guard?: JobGuard,
  ): Promise<JobRecord | null>;
  /** QUEUED bus jobs in the outbox (not published yet), in the order they were queued. */
  pendingDispatches(limit: number): Promise<readonly JobRecord[]>;
  /** DISPATCHED bus jobs no worker leased yet, by job id after `after`. */
  unleasedDispatches(after: string | null, limit: number): Promise<readonly JobRecord[]>;
  /** RUNNING jobs whose lease expired at or before `at`, earliest first. */
  dueLeases(at: string, limit: number): Promise<readonly JobRecord[]>;
  /** RUNNING jobs whose deadline passed at or before `at`, earliest first. */
  dueDeadlines(at: string, limit: number): Promise<readonly JobRecord[]>;
  getDeadLetter(jobId: string): Promise<DeadLetter | null>;
  /** Ascending by job id. */
  listDeadLetters(query: DeadLetterQuery): Promise<readonly DeadLetter[]>;
  /** Records the job a retry of a dead letter created; false when there is no such dead letter. */
  markRetried(jobId: string, retriedAs: string, events: readonly UnsealedEvent[]): Promise<boolean>;
  /** Appends events that belong to no job change (policy changes, key changes). */
  appendAudit(events: readonly UnsealedEvent[]): Promise<readonly AuditEvent[]>;
  /** Ascending by seq. */
  queryAudit(query: AuditQuery): Promise<readonly AuditEvent[]>;
  /** The newest event, or null when the trail is empty. */
  auditHead(): Promise<AuditEvent | null>;
  /** Stores a signed checkpoint; one already stored at the same seq is kept as it is. */
  addCheckpoint(checkpoint: AuditCheckpoint): Promise<void>;
  /** Ascending by seq, strictly after `after_seq`. */
  listCheckpoints(query: {
    readonly after_seq?: number;
    readonly limit: number;
  }): Promise<readonly AuditCheckpoint[]>;
  /** The checkpoint with the highest seq, or null before the first. */
  latestCheckpoint(): Promise<AuditCheckpoint | null>;
  /**
   * Retention: deletes the events up to and including `throughSeq` and the checkpoints before
   * it, in one transaction; returns how many events went. The checkpoint at `throughSeq` stays
   * as the anchor the remainder verifies from. Refused (WARDEN_INVALID_STATE, nothing deleted)
   * unless a checkpoint exists at `throughSeq` and a newer event exists, so the chain always
   * keeps a head to grow from.
   */
  pruneAudit(throughSeq: number): Promise<number>;
  /** The seq a named reader (e.g. a SIEM forwarder) has consumed through; 0 before its first. */
  auditCursor(name: string): Promise<number>;
  /**
   * Compare-and-set: moves the named cursor from `from` to `to`; false, with nothing written,
   * when it no longer stands at `from` (another reader moved it).
   */
  advanceAuditCursor(name: string, from: number, to: number, at: string): Promise<boolean>;
  /** Stores a new key with its audit events. */
  insertKey(key: ApiKeyRecord, events: readonly UnsealedEvent[]): Promise<void>;
  keyByHash(hash: string): Promise<ApiKeyRecord | null>;
  /** Every key, revoked ones included, oldest first. */
  listKeys(): Promise<readonly ApiKeyRecord[]>;
  /** Marks a live key revoked; null when it does not exist or is already revoked. */
  revokeKey(id: string, at: string, events: readonly UnsealedEvent[]): Promise<ApiKeyRecord | null>;
  /** Records an activation (with its audit events); the newest activation is the active policy. */
  activatePolicy(
    activation: NewPolicyActivation,
    events: readonly UnsealedEvent[],
  ): Promise<PolicyActivation>;
  /** The newest activation, or null before the first. */
  activePolicy(): Promise<PolicyActivation | null>;
  /** The newest activation of a snapshot id. */
  policyBySnapshot(snapshot: string): Promise<PolicyActivation | null>;
  /** Newest first. */
  listPolicyActivations(query: PolicyHistoryQuery): Promise<readonly PolicyActivation[]>;
  /** Creates or replaces an agent's profile, with its audit events. */
  putAgent(agent: AgentRecord, events: readonly UnsealedEvent[]): Promise<AgentRecord>;
  getAgent(tenantId: string, agentId: string): Promise<AgentRecord | null>;
  /** Ascending by (tenant_id, agent_id). */
  listAgents(query: AgentQuery): Promise<readonly AgentRecord[]>;
  getApproval(jobId: string): Promise<ApprovalRecord | null>;
  /** Ascending by job id: the queue, oldest first. */
  listApprovals(query: ApprovalQuery): Promise<readonly ApprovalRecord[]>;
  /** Pending approvals whose deadline is at or before `at`, earliest deadline first. */
  dueApprovals(at: string, limit: number): Promise<readonly ApprovalRecord[]>;
  /** Depth and age of the pending queue, across tenants. */
  approvalQueue(): Promise<ApprovalQueueStats>;
  /** The tenant holding the most pending approvals, or null when none is pending. */
  busiestApprovalQueue(): Promise<{ readonly tenant_id: string; readonly pending: number } | null>;
  /**
   * Jobs created at or after `since` that reached a worker (dispatched, running or finished)
   * without an audited decision that let them: no `job.decided` event, or one that did not
   * allow the job and no approval that did. Empty on a healthy gateway (governance checklist).
   */
  dispatchedWithoutDecision(since: string, limit: number): Promise<readonly string[]>;
  /**
   * Compare-and-set on an approval (and optionally its job), with events, in one transaction.
   * Null, with nothing written, when either no longer matches.
   */
  updateApproval(
    update: ApprovalUpdate,
    events: readonly UnsealedEvent[],
  ): Promise<{ readonly record: ApprovalRecord; readonly job: JobRecord | null } | null>;
  /** Resolves when the store answers a trivial read; rejects with WARDEN_STORE_UNAVAILABLE. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
