/**
 * Every write the SQLite store makes, as synchronous operations on one connection, each run
 * inside the caller's transaction. Written once and run wherever the write connection lives: on
 * the event loop for an in-memory database, on the writer thread for a file.
 *
 * A write is plain data (`WriteRequest`), so it can cross to another thread: an operation name
 * and its arguments, all structured-cloneable.
 */
import type { Database as Db } from 'better-sqlite3';
import type { ApprovalRecord } from '../../core/approvals/approval.js';
import { sealEncoded } from '../../core/audit/chain.js';
import type { EncodedEvent, SealedEvent, Sha256 } from '../../core/audit/chain.js';
import type { AuditCheckpoint } from '../../core/audit/checkpoint.js';
import { WardenError } from '../../core/errors.js';
import type { JobPatch, JobRecord } from '../../core/jobs/job.js';
import type { JobState } from '../../core/jobs/states.js';
import type { AgentRecord } from '../../core/model/agent-profile.js';
import type { ApiKeyRecord } from '../../core/model/api-key.js';
import type { NewPolicyActivation, PolicyActivation } from '../../core/model/policy-activation.js';
import { applyPatch, awaitsWorker } from '../../core/jobs/job.js';
import type { ApprovalUpdate, JobGuard } from '../../ports/store.js';
import { fromJobRow, fromKeyRow, toApprovalRow, toJobRow } from './rows.js';
import type { ApprovalRow, JobRow, KeyRow } from './rows.js';

/**
 * A new job as the rows it becomes, encoded on the calling thread: what crosses to the writer is
 * flat text, cheap to copy, and the writer only binds it.
 */
export interface NewJobRows {
  readonly job: JobRow;
  /** Whether the job goes into the outbox (a bus job that is QUEUED). */
  readonly queued: boolean;
  readonly events: readonly EncodedEvent[];
  /** Its approval, created only while the tenant holds fewer than `max_pending` pending ones. */
  readonly approval?: { readonly row: ApprovalRow; readonly max_pending: number };
}

/** What inserting a job did; the caller already holds the job it sent. */
export type InsertAnswer =
  | { readonly kind: 'inserted' }
  /** Nothing was written: the tenant's approval queue is at its bound. */
  | { readonly kind: 'queue_full' }
  /** Nothing was written: the tenant already has a job with this idempotency key. */
  | { readonly kind: 'existing'; readonly job: JobRow };

export interface WriteOps {
  readonly insertJob: (rows: NewJobRows) => InsertAnswer;
  readonly updateJob: (
    jobId: string,
    from: readonly JobState[],
    patch: JobPatch,
    events: readonly EncodedEvent[],
    guard?: JobGuard,
  ) => JobRecord | null;
  readonly markRetried: (
    jobId: string,
    retriedAs: string,
    events: readonly EncodedEvent[],
  ) => boolean;
  readonly appendAudit: (events: readonly EncodedEvent[]) => SealedEvent[];
  readonly addCheckpoint: (checkpoint: AuditCheckpoint) => void;
  readonly pruneAudit: (throughSeq: number) => number;
  readonly advanceAuditCursor: (name: string, from: number, to: number, at: string) => boolean;
  readonly insertKey: (key: ApiKeyRecord, events: readonly EncodedEvent[]) => void;
  readonly revokeKey: (
    id: string,
    at: string,
    events: readonly EncodedEvent[],
  ) => ApiKeyRecord | null;
  readonly activatePolicy: (
    activation: NewPolicyActivation,
    events: readonly EncodedEvent[],
  ) => PolicyActivation;
  readonly putAgent: (agent: AgentRecord, events: readonly EncodedEvent[]) => AgentRecord;
  readonly updateApproval: (
    update: ApprovalUpdate,
    events: readonly EncodedEvent[],
  ) => { record: ApprovalRecord; job: JobRecord | null } | null;
}

export type WriteName = keyof WriteOps;

/** One write as data: which operation, with which arguments. */
export type WriteRequest = {
  [K in WriteName]: { readonly op: K; readonly args: Parameters<WriteOps[K]> };
}[WriteName];

export type WriteResult<K extends WriteName> = ReturnType<WriteOps[K]>;

/** Runs one write request against the operations. */
export function runWrite(ops: WriteOps, request: WriteRequest): unknown {
  // The mapped union pairs each name with its own arguments; TypeScript cannot follow the
  // correlation through the index, so the call goes through a widened signature.
  const op = ops[request.op] as (...args: readonly unknown[]) => unknown;
  return op(...request.args);
}

/**
 * Told when audit events were dropped so their write could go on (audit fail mode `open`); the
 * write's caller reports it once the write committed. Null for fail mode `closed`: an audit
 * append that fails fails the whole write with WARDEN_AUDIT_UNAVAILABLE.
 */
export type AuditDropped = ((events: number, reason: string) => void) | null;

export function createWriteOps(
  db: Db,
  sha256: Sha256,
  auditDropped: AuditDropped = null,
): WriteOps {
  const statements = {
    insertJob: db.prepare<JobRow>(
      `INSERT INTO jobs (job_id, tenant_id, topic, agent_id, principal, trace_id, idempotency_key,
        dispatch, risk_tags, labels, payload, job_hash, state, decision, constraints, attempt,
        created_at, updated_at, lease, lease_expires_at, deadline_at, result)
      VALUES (@job_id, @tenant_id, @topic, @agent_id, @principal, @trace_id, @idempotency_key,
        @dispatch, @risk_tags, @labels, @payload, @job_hash, @state, @decision, @constraints,
        @attempt, @created_at, @updated_at, @lease, @lease_expires_at, @deadline_at, @result)`,
    ),
    jobById: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE job_id = ?'),
    jobByKey: db.prepare<[string, string], JobRow>(
      'SELECT * FROM jobs WHERE tenant_id = ? AND idempotency_key = ?',
    ),
    updateJob: db.prepare<JobRow>(
      `UPDATE jobs SET state = @state, decision = @decision, constraints = @constraints,
        attempt = @attempt, updated_at = @updated_at, lease = @lease,
        lease_expires_at = @lease_expires_at, deadline_at = @deadline_at, result = @result
      WHERE job_id = @job_id`,
    ),
    enqueue: db.prepare<[string, string]>(
      'INSERT INTO outbox (job_id, queued_at) VALUES (?, ?) ON CONFLICT (job_id) DO NOTHING',
    ),
    dequeue: db.prepare<[string]>('DELETE FROM outbox WHERE job_id = ?'),
    insertDeadLetter: db.prepare<[string, string, string, string]>(
      `INSERT INTO dead_letters (job_id, tenant_id, reason, dead_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (job_id) DO UPDATE SET reason = excluded.reason, dead_at = excluded.dead_at`,
    ),
    markRetried: db.prepare<[string, string]>(
      'UPDATE dead_letters SET retried_as = ? WHERE job_id = ?',
    ),
    auditHead: db.prepare<[], { seq: number; hash: string }>(
      'SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1',
    ),
    insertAudit: db.prepare<
      [number, string, string, string, string, string | null, string, string, string, string]
    >('INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    insertCheckpoint: db.prepare<AuditCheckpoint>(
      `INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature)
        VALUES (@seq, @hash, @at, @key_id, @signature) ON CONFLICT (seq) DO NOTHING`,
    ),
    checkpointAt: db.prepare<[number], { seq: number }>(
      'SELECT seq FROM audit_checkpoints WHERE seq = ?',
    ),
    movePruned: db.prepare<[number]>(
      'UPDATE audit_pruned SET through_seq = max(through_seq, ?) WHERE id = 1',
    ),
    pruneEvents: db.prepare<[number]>('DELETE FROM audit WHERE seq <= ?'),
    pruneCheckpoints: db.prepare<[number]>('DELETE FROM audit_checkpoints WHERE seq < ?'),
    cursor: db.prepare<[string], { seq: number }>('SELECT seq FROM audit_cursors WHERE name = ?'),
    setCursor: db.prepare<[string, number, string]>(
      `INSERT INTO audit_cursors (name, seq, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at`,
    ),
    insertKey: db.prepare(
      'INSERT INTO api_keys VALUES (@id, @hash, @name, @tenant, @roles, @created_at, @created_by, @revoked_at)',
    ),
    revokeKey: db.prepare<[string, string]>(
      'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
    ),
    keyById: db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE id = ?'),
    insertActivation: db.prepare<NewPolicyActivation>(
      `INSERT INTO policy_activations (snapshot, source, origin, author, message, activated_at)
        VALUES (@snapshot, @source, @origin, @author, @message, @activated_at)`,
    ),
    insertApproval: db.prepare<ApprovalRow>(
      `INSERT INTO approvals VALUES (@job_id, @tenant_id, @topic, @agent_id, @status,
        @requested_at, @expires_at, @version, @record)`,
    ),
    pendingInTenant: db.prepare<[string], { n: number }>(
      'SELECT pending AS n FROM approvals_pending WHERE tenant_id = ?',
    ),
    updateApproval: db.prepare<[string, number, string, string, number]>(
      `UPDATE approvals SET status = ?, version = ?, record = ?
        WHERE job_id = ? AND version = ? AND status = 'PENDING'`,
    ),
    putAgent: db.prepare(
      `INSERT INTO agents VALUES (@tenant_id, @agent_id, @profile, @updated_at, @updated_by)
        ON CONFLICT (tenant_id, agent_id) DO UPDATE SET profile = excluded.profile,
          updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
    ),
  };

  /** Seals events onto the current head, inside the caller's transaction. */
  function seal(events: readonly EncodedEvent[]): SealedEvent[] {
    const sealed = sealEncoded(statements.auditHead.get() ?? null, events, sha256);
    for (const e of sealed) {
      statements.insertAudit.run(
        e.seq,
        e.at,
        e.type,
        e.tenant_id,
        e.trace_id,
        e.job_id,
        e.actor,
        e.data,
        e.prev_hash,
        e.hash,
      );
    }
    return sealed;
  }

  /**
   * Appends the write's events. If that fails, the fail mode decides: closed fails the write
   * (nothing of it commits); open drops the events alone, through a savepoint, and says so.
   */
  function append(events: readonly EncodedEvent[]): SealedEvent[] {
    if (events.length === 0) return [];
    if (auditDropped === null) {
      try {
        return seal(events);
      } catch (error) {
        throw new WardenError(
          'WARDEN_AUDIT_UNAVAILABLE',
          `the audit trail cannot be written (${messageOf(error)}); nothing was released`,
        );
      }
    }
    db.exec('SAVEPOINT audit_append');
    try {
      const sealed = seal(events);
      db.exec('RELEASE audit_append');
      return sealed;
    } catch (error) {
      db.exec('ROLLBACK TO audit_append');
      db.exec('RELEASE audit_append');
      auditDropped(events.length, messageOf(error));
      return [];
    }
  }

  /**
   * The job after the patch, or null when it does not exist, is in none of `from`, or fails the
   * guard.
   */
  function patchJob(
    jobId: string,
    from: readonly JobState[],
    patch: JobPatch,
    guard: JobGuard = {},
  ): JobRecord | null {
    const row = statements.jobById.get(jobId);
    if (row === undefined || !from.includes(row.state as JobState)) return null;
    const current = fromJobRow(row);
    if (guard.attempt !== undefined && current.attempt !== guard.attempt) return null;
    if (guard.lease_id !== undefined && current.lease?.lease_id !== guard.lease_id) return null;
    return applyPatch(current, patch);
  }

  /**
   * Writes the job's row and keeps its outbox row in step: present while a bus job waits for a
   * worker (QUEUED or DISPATCHED), so a dispatch lost with an in-process queue is published again.
   */
  function writeJob(next: JobRecord, dead?: string): void {
    statements.updateJob.run(toJobRow(next));
    enqueueIfQueued(next);
    if (dead !== undefined) {
      statements.insertDeadLetter.run(next.job_id, next.tenant_id, dead, next.updated_at);
    }
  }

  function enqueueIfQueued(job: JobRecord): void {
    if (awaitsWorker(job)) {
      statements.enqueue.run(job.job_id, job.updated_at);
    } else {
      statements.dequeue.run(job.job_id);
    }
  }

  return {
    insertJob({ job, queued, events, approval }) {
      if (job.idempotency_key !== null) {
        const existing = statements.jobByKey.get(job.tenant_id, job.idempotency_key);
        if (existing !== undefined) return { kind: 'existing', job: existing };
      }
      if (approval !== undefined) {
        const pending = statements.pendingInTenant.get(job.tenant_id)?.n ?? 0;
        if (pending >= approval.max_pending) return { kind: 'queue_full' };
      }
      statements.insertJob.run(job);
      if (queued) statements.enqueue.run(job.job_id, job.updated_at);
      if (approval !== undefined) statements.insertApproval.run(approval.row);
      append(events);
      return { kind: 'inserted' };
    },

    updateJob(jobId, from, patch, events, guard) {
      const next = patchJob(jobId, from, patch, guard);
      if (next === null) return null;
      writeJob(next, patch.dead_letter);
      append(events);
      return next;
    },

    markRetried(jobId, retriedAs, events) {
      if (statements.markRetried.run(retriedAs, jobId).changes === 0) return false;
      append(events);
      return true;
    },

    updateApproval({ record, job }, events) {
      // Both compare-and-sets are checked before either write: all of it, or nothing.
      const nextJob = job === undefined ? null : patchJob(record.job_id, job.from, job.patch);
      if (job !== undefined && nextJob === null) return null;
      const row = toApprovalRow(record);
      const changed = statements.updateApproval.run(
        row.status,
        row.version,
        row.record,
        row.job_id,
        record.version - 1,
      ).changes;
      if (changed === 0) return null;
      if (nextJob !== null) writeJob(nextJob, job?.patch.dead_letter);
      append(events);
      return { record, job: nextJob };
    },

    appendAudit: append,

    addCheckpoint(checkpoint) {
      statements.insertCheckpoint.run(checkpoint);
    },

    pruneAudit(throughSeq) {
      const head = statements.auditHead.get();
      if (statements.checkpointAt.get(throughSeq) === undefined) {
        throw new WardenError(
          'WARDEN_INVALID_STATE',
          `audit pruning stops at a signed checkpoint; there is none at seq ${String(throughSeq)}`,
        );
      }
      if (head === undefined || head.seq <= throughSeq) {
        throw new WardenError(
          'WARDEN_INVALID_STATE',
          'audit pruning keeps the newest event, so the chain has a head to grow from',
        );
      }
      statements.movePruned.run(throughSeq);
      const { changes } = statements.pruneEvents.run(throughSeq);
      statements.pruneCheckpoints.run(throughSeq);
      return changes;
    },

    advanceAuditCursor(name, from, to, at) {
      if ((statements.cursor.get(name)?.seq ?? 0) !== from) return false;
      statements.setCursor.run(name, to, at);
      return true;
    },

    insertKey(key, events) {
      statements.insertKey.run({ ...key, roles: JSON.stringify(key.roles) });
      append(events);
    },

    revokeKey(id, at, events) {
      if (statements.revokeKey.run(at, id).changes === 0) return null;
      append(events);
      const row = statements.keyById.get(id);
      return row === undefined ? null : fromKeyRow(row);
    },

    activatePolicy(activation, events) {
      const { lastInsertRowid } = statements.insertActivation.run(activation);
      append(events);
      return { seq: Number(lastInsertRowid), ...activation };
    },

    putAgent(agent, events) {
      statements.putAgent.run({ ...agent, profile: JSON.stringify(agent.profile) });
      append(events);
      return agent;
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
