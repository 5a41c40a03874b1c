/**
 * The embedded store: one SQLite file (WAL) holding jobs, decisions and the audit chain.
 * Holds no policy logic. Reads run directly on this connection; writes go through group commit on
 * a writer thread with a connection of its own (on this connection for an in-memory database).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { encodeEvent } from '../../core/audit/chain.js';
import type { AuditEvent, SealedEvent, UnsealedEvent } from '../../core/audit/chain.js';
import type { AuditCheckpoint } from '../../core/audit/checkpoint.js';
import { awaitsWorker } from '../../core/jobs/job.js';
import type { DeadLetter, JobPatch, JobRecord } from '../../core/jobs/job.js';
import type { JobState } from '../../core/jobs/states.js';
import type { AgentRecord } from '../../core/model/agent-profile.js';
import type { ApiKeyRecord } from '../../core/model/api-key.js';
import type { NewPolicyActivation, PolicyActivation } from '../../core/model/policy-activation.js';
import type { ApprovalRecord } from '../../core/approvals/approval.js';
import type {
  AgentQuery,
  ApprovalQuery,
  ApprovalQueueStats,
  ApprovalUpdate,
  AuditQuery,
  DeadLetterQuery,
  InsertOutcome,
  NewApproval,
  JobFilter,
  JobGuard,
  PolicyHistoryQuery,
  Store,
} from '../../ports/store.js';
import { nativeSha256 } from '../system/native-sha256.js';
import { MIGRATIONS } from './migrations.js';
import {
  fromAgentRow,
  fromApprovalRow,
  fromAuditRow,
  fromDeadLetterRow,
  fromJobRow,
  fromKeyRow,
  toApprovalRow,
  toJobRow,
} from './rows.js';
import type { AgentRow, ApprovalRow, AuditRow, DeadLetterRow, JobRow, KeyRow } from './rows.js';
import { createWriteOps } from './write-ops.js';
import type { WriteName, WriteRequest, WriteResult } from './write-ops.js';
import { DropTally, inlineWrites, threadWrites, unavailable } from './writes.js';
import type { DroppedAudit, Writes } from './writes.js';

export interface SqliteStoreOptions {
  /** File path, or `:memory:` for tests. */
  readonly path: string;
  /** `NORMAL` (default) survives a process crash; `FULL` also survives power loss. */
  readonly synchronous?: 'NORMAL' | 'FULL';
  /**
   * How long a write waits for a lock held by another connection before failing (default 1 s),
   * so a locked store answers 503 quickly. Reads wait as long, on the event loop.
   */
  readonly busyTimeoutMs?: number;
  /** Called for every write that fails; each write carries audit events, so none was appended. */
  readonly onWriteFailure?: () => void;
  /**
   * Audit fail mode (§11, default `closed`): whether a write whose audit append fails is refused
   * (WARDEN_AUDIT_UNAVAILABLE, nothing of it commits) or goes on without its events.
   */
  readonly auditFailMode?: 'closed' | 'open';
  /** Told, after the commit, about each write that went on without its audit events. */
  readonly onAuditDropped?: (dropped: DroppedAudit) => void;
}

/** One `WHERE` condition and its parameters; `false` for a filter the query leaves out. */
type Condition = readonly [clause: string, ...params: unknown[]] | false;

/** The conditions that apply, with their parameters in order. */
function conditions(all: readonly Condition[]): { clauses: string[]; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  for (const condition of all) {
    if (condition === false) continue;
    const [clause, ...values] = condition;
    clauses.push(clause);
    params.push(...values);
  }
  return { clauses, params };
}

/** `WHERE a AND b`, or nothing when no condition applies. */
function whereSql(clauses: readonly string[]): string {
  return clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`;
}

export class SqliteStore implements Store {
  private readonly db: Db;
  private readonly writes: Writes;
  private readonly onWriteFailure: () => void;
  private readonly prepared = new Map<string, Statement>();
  private readonly statements: {
    jobById: Statement<[string], JobRow>;
    agentById: Statement<[string, string], AgentRow>;
  };

  constructor(options: SqliteStoreOptions) {
    const inMemory = options.path === ':memory:';
    if (!inMemory) mkdirSync(dirname(options.path), { recursive: true });
    const synchronous = options.synchronous ?? 'NORMAL';
    const busyTimeoutMs = options.busyTimeoutMs ?? 1000;
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${synchronous}`);
    this.db.pragma(`busy_timeout = ${String(busyTimeoutMs)}`);
    this.db.pragma('foreign_keys = ON');
    migrate(this.db);
    this.statements = {
      jobById: this.db.prepare('SELECT * FROM jobs WHERE job_id = ?'),
      agentById: this.db.prepare('SELECT * FROM agents WHERE tenant_id = ? AND agent_id = ?'),
    };
    this.onWriteFailure = options.onWriteFailure ?? (() => undefined);
    const auditFailOpen = options.auditFailMode === 'open';
    const onAuditDropped = options.onAuditDropped ?? (() => undefined);
    const tally = new DropTally();
    this.writes = inMemory
      ? inlineWrites(
          this.db,
          createWriteOps(this.db, nativeSha256, auditFailOpen ? tally.record : null),
          tally,
          onAuditDropped,
        )
      : threadWrites(
          { path: options.path, synchronous, busyTimeoutMs, auditFailOpen },
          onAuditDropped,
        );
  }

  /** Write transactions committed since open: with group commit, fewer than writes. */
  get transactionsCommitted(): number {
    return this.writes.transactions;
  }

  async insertJob(
    job: JobRecord,
    events: readonly UnsealedEvent[],
    approval?: NewApproval,
  ): Promise<InsertOutcome> {
    const answer = await this.write({
      op: 'insertJob',
      args: [
        {
          job: toJobRow(job),
          queued: awaitsWorker(job),
          events: events.map(encodeEvent),
          ...(approval === undefined
            ? {}
            : {
                approval: {
                  row: toApprovalRow(approval.record),
                  max_pending: approval.max_pending,
                },
              }),
        },
      ],
    });
    if (answer.kind === 'inserted') return { kind: 'inserted', job };
    if (answer.kind === 'existing') return { kind: 'existing', job: fromJobRow(answer.job) };
    // The tenant's approval queue is full: the job is stored as its denial instead, in a write of
    // its own (the rare case pays a second round trip so the common one carries only its rows).
    if (approval === undefined) throw new Error('queue_full answered for a job without approval');
    const { job: denied, events: deniedEvents } = approval.when_full;
    return this.insertJob(denied, deniedEvents);
  }

  getJob(jobId: string): Promise<JobRecord | null> {
    return this.read(() => {
      const row = this.statements.jobById.get(jobId);
      return row === undefined ? null : fromJobRow(row);
    });
  }

  listJobs(filter: JobFilter): Promise<readonly JobRecord[]> {
    return this.read(() => {
      const { clauses, params } = conditions([
        filter.tenant_id !== undefined && ['tenant_id = ?', filter.tenant_id],
        filter.state !== undefined && ['state = ?', filter.state],
        filter.topic !== undefined && ['topic = ?', filter.topic],
        filter.after !== undefined && ['job_id > ?', filter.after],
      ]);
      const sql = `SELECT * FROM jobs ${whereSql(clauses)} ORDER BY job_id LIMIT ?`;
      return (this.statement(sql).all(...params, filter.limit) as JobRow[]).map(fromJobRow);
    });
  }

  updateJob(
    jobId: string,
    from: readonly JobState[],
    patch: JobPatch,
    events: readonly UnsealedEvent[],
    guard?: JobGuard,
  ): Promise<JobRecord | null> {
    return this.write({
      op: 'updateJob',
      args: [jobId, from, patch, events.map(encodeEvent), guard],
    });
  }

  pendingDispatches(limit: number): Promise<readonly JobRecord[]> {
    return this.jobsWhere(
      "SELECT jobs.* FROM outbox JOIN jobs USING (job_id) WHERE jobs.state = 'QUEUED' ORDER BY outbox.seq LIMIT ?",
      limit,
    );
  }

  unleasedDispatches(after: string | null, limit: number): Promise<readonly JobRecord[]> {
    return this.jobsWhere(
      "SELECT jobs.* FROM outbox JOIN jobs USING (job_id) WHERE jobs.state = 'DISPATCHED' AND job_id > ? ORDER BY job_id LIMIT ?",
      after ?? '',
      limit,
    );
  }

  dueLeases(at: string, limit: number): Promise<readonly JobRecord[]> {
    return this.jobsWhere(
      "SELECT * FROM jobs WHERE lease_expires_at <= ? AND state = 'RUNNING' ORDER BY lease_expires_at LIMIT ?",
      at,
      limit,
    );
  }

  dueDeadlines(at: string, limit: number): Promise<readonly JobRecord[]> {
    return this.jobsWhere(
      "SELECT * FROM jobs WHERE deadline_at <= ? AND state = 'RUNNING' ORDER BY deadline_at LIMIT ?",
      at,
      limit,
    );
  }

  getDeadLetter(jobId: string): Promise<DeadLetter | null> {
    return this.read(() => {
      const row = this.statement(
        'SELECT d.reason, d.dead_at, d.retried_as, j.* FROM dead_letters d JOIN jobs j USING (job_id) WHERE job_id = ?',
      ).get(jobId) as DeadLetterRow | undefined;
      return row === undefined ? null : fromDeadLetterRow(row);
    });
  }

  listDeadLetters(query: DeadLetterQuery): Promise<readonly DeadLetter[]> {
    return this.read(() => {
      const { clauses, params } = conditions([
        query.tenant_id !== undefined && ['d.tenant_id = ?', query.tenant_id],
        query.after !== undefined && ['d.job_id > ?', query.after],
      ]);
      const sql =
        'SELECT d.reason, d.dead_at, d.retried_as, j.* FROM dead_letters d JOIN jobs j USING (job_id) ' +
        `${whereSql(clauses)} ORDER BY d.job_id LIMIT ?`;
      return (this.statement(sql).all(...params, query.limit) as DeadLetterRow[]).map(
        fromDeadLetterRow,
      );
    });
  }

  markRetried(
    jobId: string,
    retriedAs: string,
    events: readonly UnsealedEvent[],
  ): Promise<boolean> {
    return this.write({ op: 'markRetried', args: [jobId, retriedAs, events.map(encodeEvent)] });
  }

  private jobsWhere(sql: string, ...params: readonly unknown[]): Promise<readonly JobRecord[]> {
    return this.read(() => (this.statement(sql).all(...params) as JobRow[]).map(fromJobRow));
  }

  async appendAudit(events: readonly UnsealedEvent[]): Promise<readonly AuditEvent[]> {
    const sealed: readonly SealedEvent[] = await this.write({
      op: 'appendAudit',
      args: [events.map(encodeEvent)],
    });
    return sealed.map((event, i) => ({ ...event, data: events[i]?.data }));
  }

  queryAudit(query: AuditQuery): Promise<readonly AuditEvent[]> {
    return this.read(() => {
      const { clauses, params } = conditions([
        ['seq > ?', query.after_seq ?? 0],
        query.tenant_id !== undefined && ['tenant_id = ?', query.tenant_id],
        query.type !== undefined && ['type = ?', query.type],
        query.job_id !== undefined && ['job_id = ?', query.job_id],
      ]);
      if (query.trace_id === undefined) {
        const sql = `SELECT * FROM audit ${whereSql(clauses)} ORDER BY seq LIMIT ?`;
        return (this.statement(sql).all(...params, query.limit) as AuditRow[]).map(fromAuditRow);
      }
      // A trace is its jobs' events (through the jobs table) and its events of no job. The unary
      // `+` keeps the other filters off the indexes, so SQLite walks the trace's few rows rather
      // than a whole tenant's events.
      const unindexed = whereSql(clauses.map((clause) => `+${clause}`));
      const sql = `SELECT * FROM (
          SELECT * FROM audit WHERE job_id IN (SELECT job_id FROM jobs WHERE trace_id = ?)
          UNION ALL
          SELECT * FROM audit WHERE job_id IS NULL AND trace_id = ?
        ) ${unindexed} ORDER BY seq LIMIT ?`;
      return (
        this.statement(sql).all(
          query.trace_id,
          query.trace_id,
          ...params,
          query.limit,
        ) as AuditRow[]
      ).map(fromAuditRow);
    });
  }

  busiestApprovalQueue(): Promise<{ tenant_id: string; pending: number } | null> {
    return this.read(
      () =>
        (this.statement(
          'SELECT tenant_id, pending FROM approvals_pending WHERE pending > 0 ORDER BY pending DESC LIMIT 1',
        ).get() as { tenant_id: string; pending: number } | undefined) ?? null,
    );
  }

  dispatchedWithoutDecision(since: string, limit: number): Promise<readonly string[]> {
    return this.read(() =>
      (
        this.statement(
          `SELECT j.job_id FROM jobs j
            WHERE j.state IN ('DISPATCHED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'QUARANTINED')
              AND j.created_at >= ?
              AND NOT EXISTS (
                SELECT 1 FROM audit a WHERE a.job_id = j.job_id AND a.type = 'job.decided' AND (
                  json_extract(a.data, '$.decision.type') IN ('ALLOW', 'ALLOW_WITH_CONSTRAINTS')
                  OR (json_extract(a.data, '$.decision.type') = 'REQUIRE_APPROVAL' AND EXISTS (
                    SELECT 1 FROM approvals p WHERE p.job_id = j.job_id AND p.status = 'APPROVED'))))
            ORDER BY j.job_id LIMIT ?`,
        ).all(since, limit) as { job_id: string }[]
      ).map((row) => row.job_id),
    );
  }

  auditHead(): Promise<AuditEvent | null> {
    return this.read(() => {
      const row = this.statement('SELECT * FROM audit ORDER BY seq DESC LIMIT 1').get() as
        AuditRow | undefined;
      return row === undefined ? null : fromAuditRow(row);
    });
  }

  addCheckpoint(checkpoint: AuditCheckpoint): Promise<void> {
    return this.write({ op: 'addCheckpoint', args: [checkpoint] });
  }

  listCheckpoints(query: {
    readonly after_seq?: number;
    readonly limit: number;
  }): Promise<readonly AuditCheckpoint[]> {
    return this.read(
      () =>
        this.statement(
          'SELECT seq, hash, at, key_id, signature FROM audit_checkpoints WHERE seq > ? ORDER BY seq LIMIT ?',
        ).all(query.after_seq ?? 0, query.limit) as AuditCheckpoint[],
    );
  }

  latestCheckpoint(): Promise<AuditCheckpoint | null> {
    return this.read(
      () =>
        (this.statement(
          'SELECT seq, hash, at, key_id, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1',
        ).get() as AuditCheckpoint | undefined) ?? null,
    );
  }

  pruneAudit(throughSeq: number): Promise<number> {
    return this.write({ op: 'pruneAudit', args: [throughSeq] });
  }

  auditCursor(name: string): Promise<number> {
    return this.read(
      () =>
        (
          this.statement('SELECT seq FROM audit_cursors WHERE name = ?').get(name) as
            { seq: number } | undefined
        )?.seq ?? 0,
    );
  }

  advanceAuditCursor(name: string, from: number, to: number, at: string): Promise<boolean> {
    return this.write({ op: 'advanceAuditCursor', args: [name, from, to, at] });
  }

  insertKey(key: ApiKeyRecord, events: readonly UnsealedEvent[]): Promise<void> {
    return this.write({ op: 'insertKey', args: [key, events.map(encodeEvent)] });
  }

  keyByHash(hash: string): Promise<ApiKeyRecord | null> {
    return this.read(() => {
      const row = this.statement('SELECT * FROM api_keys WHERE hash = ?').get(hash) as
        KeyRow | undefined;
      return row === undefined ? null : fromKeyRow(row);
    });
  }

  listKeys(): Promise<readonly ApiKeyRecord[]> {
    return this.read(() =>
      (this.statement('SELECT * FROM api_keys ORDER BY created_at, id').all() as KeyRow[]).map(
        fromKeyRow,
      ),
    );
  }

  revokeKey(
    id: string,
    at: string,
    events: readonly UnsealedEvent[],
  ): Promise<ApiKeyRecord | null> {
    return this.write({ op: 'revokeKey', args: [id, at, events.map(encodeEvent)] });
  }

  activatePolicy(
    activation: NewPolicyActivation,
    events: readonly UnsealedEvent[],
  ): Promise<PolicyActivation> {
    return this.write({ op: 'activatePolicy', args: [activation, events.map(encodeEvent)] });
  }

  activePolicy(): Promise<PolicyActivation | null> {
    return this.read(
      () =>
        (this.statement('SELECT * FROM policy_activations ORDER BY seq DESC LIMIT 1').get() as
          PolicyActivation | undefined) ?? null,
    );
  }

  policyBySnapshot(snapshot: string): Promise<PolicyActivation | null> {
    return this.read(
      () =>
        (this.statement(
          'SELECT * FROM policy_activations WHERE snapshot = ? ORDER BY seq DESC LIMIT 1',
        ).get(snapshot) as PolicyActivation | undefined) ?? null,
    );
  }

  listPolicyActivations(query: PolicyHistoryQuery): Promise<readonly PolicyActivation[]> {
    return this.read(
      () =>
        this.statement(
          'SELECT * FROM policy_activations WHERE seq < ? ORDER BY seq DESC LIMIT ?',
        ).all(query.before_seq ?? Number.MAX_SAFE_INTEGER, query.limit) as PolicyActivation[],
    );
  }

  putAgent(agent: AgentRecord, events: readonly UnsealedEvent[]): Promise<AgentRecord> {
    return this.write({ op: 'putAgent', args: [agent, events.map(encodeEvent)] });
  }

  getAgent(tenantId: string, agentId: string): Promise<AgentRecord | null> {
    return this.read(() => {
      const row = this.statements.agentById.get(tenantId, agentId);
      return row === undefined ? null : fromAgentRow(row);
    });
  }

  listAgents(query: AgentQuery): Promise<readonly AgentRecord[]> {
    return this.read(() => {
      const { clauses, params } = conditions([
        query.tenant_id !== undefined && ['tenant_id = ?', query.tenant_id],
        query.after !== undefined && [
          '(tenant_id, agent_id) > (?, ?)',
          query.after.tenant_id,
          query.after.agent_id,
        ],
      ]);
      const sql = `SELECT * FROM agents ${whereSql(clauses)} ORDER BY tenant_id, agent_id LIMIT ?`;
      return (this.statement(sql).all(...params, query.limit) as AgentRow[]).map(fromAgentRow);
    });
  }

  getApproval(jobId: string): Promise<ApprovalRecord | null> {
    return this.read(() => {
      const row = this.statement('SELECT * FROM approvals WHERE job_id = ?').get(jobId) as
        ApprovalRow | undefined;
      return row === undefined ? null : fromApprovalRow(row);
    });
  }

  listApprovals(query: ApprovalQuery): Promise<readonly ApprovalRecord[]> {
    return this.read(() => {
      const { clauses, params } = conditions([
        query.status !== undefined && ['status = ?', query.status],
        query.tenant_id !== undefined && ['tenant_id = ?', query.tenant_id],
        query.topic !== undefined && ['topic = ?', query.topic],
        query.agent_id !== undefined && ['agent_id = ?', query.agent_id],
        query.after !== undefined && ['job_id > ?', query.after],
      ]);
      const sql = `SELECT * FROM approvals ${whereSql(clauses)} ORDER BY job_id LIMIT ?`;
      return (this.statement(sql).all(...params, query.limit) as ApprovalRow[]).map(
        fromApprovalRow,
      );
    });
  }

  dueApprovals(at: string, limit: number): Promise<readonly ApprovalRecord[]> {
    return this.read(() =>
      (
        this.statement(
          "SELECT * FROM approvals WHERE status = 'PENDING' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
        ).all(at, limit) as ApprovalRow[]
      ).map(fromApprovalRow),
    );
  }

  approvalQueue(): Promise<ApprovalQueueStats> {
    return this.read(() => {
      const row = this.statement(
        'SELECT (SELECT coalesce(sum(pending), 0) FROM approvals_pending) AS pending, ' +
          "(SELECT min(requested_at) FROM approvals WHERE status = 'PENDING') AS oldest",
      ).get() as { pending: number; oldest: string | null };
      return { pending: row.pending, oldest_requested_at: row.oldest };
    });
  }

  updateApproval(
    update: ApprovalUpdate,
    events: readonly UnsealedEvent[],
  ): Promise<{ readonly record: ApprovalRecord; readonly job: JobRecord | null } | null> {
    return this.write({ op: 'updateApproval', args: [update, events.map(encodeEvent)] });
  }

  ping(): Promise<void> {
    return this.read(() => {
      this.statement('SELECT 1').get();
    });
  }

  async close(): Promise<void> {
    await this.writes.close();
    this.db.close();
  }

  /** Prepared once per SQL text: dynamic filters produce a handful of distinct statements. */
  private statement(sql: string): Statement {
    let statement = this.prepared.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.prepared.set(sql, statement);
    }
    return statement;
  }

  /** Every failed write counts: each carries audit events, so none of them was appended. */
  private write<K extends WriteName>(
    request: Extract<WriteRequest, { op: K }>,
  ): Promise<WriteResult<K>> {
    return (this.writes.submit(request) as Promise<WriteResult<K>>).catch((error: unknown) => {
      this.onWriteFailure();
      throw error;
    });
  }

  private read<T>(run: () => T): Promise<T> {
    try {
      return Promise.resolve(run());
    } catch (error) {
      return Promise.reject(unavailable(error));
    }
  }
}

function migrate(db: Db): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT',
  );
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
      (r) => r.version,
    ),
  );
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(
        migration.version,
        migration.name,
        new Date().toISOString(),
      );
    })();
  }
}
