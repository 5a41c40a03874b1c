/**
 * The embedded store: one SQLite file (WAL) holding jobs, decisions and the audit chain.
 * Holds no policy logic. Writes go through group commit; reads run directly.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { sealEvents } from '../../core/audit/chain.js';
import type { AuditEvent, UnsealedEvent } from '../../core/audit/chain.js';
import { WardenError } from '../../core/errors.js';
import type { JobPatch, JobRecord } from '../../core/jobs/job.js';
import type { JobState } from '../../core/jobs/states.js';
import type { AgentRecord } from '../../core/model/agent-profile.js';
import type { ApiKeyRecord } from '../../core/model/api-key.js';
import type { NewPolicyActivation, PolicyActivation } from '../../core/model/policy-activation.js';
import type { AgentProfile } from '../../core/model/request.js';
import type { Role } from '../../core/model/principal.js';
import type {
  AgentQuery,
  AuditQuery,
  InsertOutcome,
  JobFilter,
  PolicyHistoryQuery,
  Store,
} from '../../ports/store.js';
import { nativeSha256 } from '../system/native-sha256.js';
import { startCheckpointer } from './checkpointer.js';
import type { Checkpointer } from './checkpointer.js';
import { GroupCommit } from './group-commit.js';
import { MIGRATIONS } from './migrations.js';

export interface SqliteStoreOptions {
  /** File path, or `:memory:` for tests. */
  readonly path: string;
  /** `NORMAL` (default) survives a process crash; `FULL` also survives power loss. */
  readonly synchronous?: 'NORMAL' | 'FULL';
  /**
   * How long a write waits for a lock held by another connection before failing (default 1 s).
   * The wait blocks the event loop, so it is kept short: a locked store answers 503 quickly.
   */
  readonly busyTimeoutMs?: number;
  /** Called for every write that fails; each write carries audit events, so none was appended. */
  readonly onWriteFailure?: () => void;
  /**
   * Run WAL checkpoints on a worker thread instead of inside commits (default true for files).
   */
  readonly backgroundCheckpoints?: boolean;
}

/** How often the background checkpointer runs. */
const CHECKPOINT_INTERVAL_MS = 200;
/** SQLite's default automatic checkpoint threshold, in pages, restored if the worker stops. */
const AUTO_CHECKPOINT_PAGES = 1000;

interface JobRow {
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
}

interface AuditRow {
  seq: number;
  at: string;
  type: string;
  tenant_id: string;
  trace_id: string;
  job_id: string | null;
  actor: string;
  data: string;
  prev_hash: string;
  hash: string;
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

function unavailable(error: unknown): WardenError {
  const message = error instanceof Error ? error.message : String(error);
  return new WardenError('WARDEN_STORE_UNAVAILABLE', `the store is unavailable: ${message}`);
}

function toRow(job: JobRecord): JobRow {
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
  };
}

function fromRow(row: JobRow): JobRecord {
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
  return row.payload === null ? job : { ...job, payload: JSON.parse(row.payload) as unknown };
}

interface KeyRow {
  id: string;
  hash: string;
  name: string;
  tenant: string;
  roles: string;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
}

function fromKeyRow(row: KeyRow): ApiKeyRecord {
  return { ...row, roles: JSON.parse(row.roles) as Role[] };
}

interface AgentRow {
  tenant_id: string;
  agent_id: string;
  profile: string;
  updated_at: string;
  updated_by: string;
}

function fromAgentRow(row: AgentRow): AgentRecord {
  return { ...row, profile: JSON.parse(row.profile) as AgentProfile };
}

function fromAuditRow(row: AuditRow): AuditEvent {
  return { ...row, data: JSON.parse(row.data) as unknown };
}

export class SqliteStore implements Store {
  private readonly db: Db;
  private readonly commits: GroupCommit;
  private readonly prepared = new Map<string, Statement>();
  private readonly checkpointer: Checkpointer | null = null;
  private readonly statements: {
    insertJob: Statement<JobRow>;
    jobById: Statement<[string], JobRow>;
    jobByKey: Statement<[string, string], JobRow>;
    updateJob: Statement<[string, string, string, number, string, string]>;
    auditHead: Statement<[], { seq: number; hash: string }>;
    insertAudit: Statement<AuditRow>;
    agentById: Statement<[string, string], AgentRow>;
  };

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    this.db.pragma(`busy_timeout = ${String(options.busyTimeoutMs ?? 1000)}`);
    this.db.pragma('foreign_keys = ON');
    migrate(this.db);
    if (options.path !== ':memory:' && options.backgroundCheckpoints !== false) {
      this.db.pragma('wal_autocheckpoint = 0');
      this.checkpointer = startCheckpointer(options.path, CHECKPOINT_INTERVAL_MS, () => {
        if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${String(AUTO_CHECKPOINT_PAGES)}`);
      });
    }
    this.statements = {
      insertJob: this.db.prepare(
        `INSERT INTO jobs VALUES (@job_id, @tenant_id, @topic, @agent_id, @principal, @trace_id,
          @idempotency_key, @dispatch, @risk_tags, @labels, @payload, @job_hash, @state, @decision,
          @constraints, @attempt, @created_at, @updated_at)`,
      ),
      jobById: this.db.prepare('SELECT * FROM jobs WHERE job_id = ?'),
      jobByKey: this.db.prepare('SELECT * FROM jobs WHERE tenant_id = ? AND idempotency_key = ?'),
      updateJob: this.db.prepare(
        'UPDATE jobs SET state = ?, decision = ?, constraints = ?, attempt = ?, updated_at = ? WHERE job_id = ?',
      ),
      auditHead: this.db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
      insertAudit: this.db.prepare(
        `INSERT INTO audit VALUES (@seq, @at, @type, @tenant_id, @trace_id, @job_id, @actor, @data,
          @prev_hash, @hash)`,
      ),
      agentById: this.db.prepare('SELECT * FROM agents WHERE tenant_id = ? AND agent_id = ?'),
    };
    const onWriteFailure = options.onWriteFailure ?? (() => undefined);
    this.commits = new GroupCommit(
      this.db,
      (error) => {
        onWriteFailure();
        return unavailable(error);
      },
      (error) => {
        onWriteFailure();
        // Domain errors raised by an operation pass through; storage errors mean "unavailable".
        return error instanceof WardenError ? error : unavailable(error);
      },
    );
  }

  /** Write transactions committed since open: with group commit, fewer than writes. */
  get transactionsCommitted(): number {
    return this.commits.transactions;
  }

  insertJob(job: JobRecord, events: readonly UnsealedEvent[]): Promise<InsertOutcome> {
    return this.commits.submit((): InsertOutcome => {
      if (job.idempotency_key !== null) {
        const existing = this.statements.jobByKey.get(job.tenant_id, job.idempotency_key);
        if (existing !== undefined) return { kind: 'existing', job: fromRow(existing) };
      }
      this.statements.insertJob.run(toRow(job));
      this.append(events);
      return { kind: 'inserted', job };
    });
  }

  getJob(jobId: string): Promise<JobRecord | null> {
    return this.read(() => {
      const row = this.statements.jobById.get(jobId);
      return row === undefined ? null : fromRow(row);
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
      return (this.statement(sql).all(...params, filter.limit) as JobRow[]).map(fromRow);
    });
  }

  updateJob(
    jobId: string,
    from: readonly JobState[],
    patch: JobPatch,
    events: readonly UnsealedEvent[],
  ): Promise<JobRecord | null> {
    return this.commits.submit(() => {
      const row = this.statements.jobById.get(jobId);
      if (row === undefined || !from.includes(row.state as JobState)) return null;
      const current = fromRow(row);
      const next: JobRecord = {
        ...current,
        state: patch.state,
        updated_at: patch.updated_at,
        decision: patch.decision ?? current.decision,
        constraints: patch.constraints ?? current.constraints,
        attempt: patch.attempt ?? current.attempt,
      };
      this.statements.updateJob.run(
        next.state,
        JSON.stringify(next.decision),
        JSON.stringify(next.constraints),
        next.attempt,
        next.updated_at,
        jobId,
      );
      this.append(events);
      return next;
    });
  }

  appendAudit(events: readonly UnsealedEvent[]): Promise<readonly AuditEvent[]> {
    return this.commits.submit(() => this.append(events));
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

  insertKey(key: ApiKeyRecord, events: readonly UnsealedEvent[]): Promise<void> {
    return this.commits.submit(() => {
      this.statement(
        'INSERT INTO api_keys VALUES (@id, @hash, @name, @tenant, @roles, @created_at, @created_by, @revoked_at)',
      ).run({ ...key, roles: JSON.stringify(key.roles) });
      this.append(events);
    });
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
    return this.commits.submit(() => {
      const changed = this.statement(
        'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
      ).run(at, id);
      if (changed.changes === 0) return null;
      this.append(events);
      const row = this.statement('SELECT * FROM api_keys WHERE id = ?').get(id) as KeyRow;
      return fromKeyRow(row);
    });
  }

  activatePolicy(
    activation: NewPolicyActivation,
    events: readonly UnsealedEvent[],
  ): Promise<PolicyActivation> {
    return this.commits.submit(() => {
      const { lastInsertRowid } = this.statement(
        `INSERT INTO policy_activations (snapshot, source, origin, author, message, activated_at)
            VALUES (@snapshot, @source, @origin, @author, @message, @activated_at)`,
      ).run(activation);
      this.append(events);
      return { seq: Number(lastInsertRowid), ...activation };
    });
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
    return this.commits.submit(() => {
      this.statement(
        `INSERT INTO agents VALUES (@tenant_id, @agent_id, @profile, @updated_at, @updated_by)
            ON CONFLICT (tenant_id, agent_id) DO UPDATE SET profile = excluded.profile,
              updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      ).run({ ...agent, profile: JSON.stringify(agent.profile) });
      this.append(events);
      return agent;
    });
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

  ping(): Promise<void> {
    return this.read(() => {
      this.statement('SELECT 1').get();
    });
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    // A final checkpoint leaves the database file complete on its own.
    if (this.db.open && this.checkpointer !== null) {
      try {
        this.db.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        // Busy: the WAL is replayed by whoever opens the file next.
      }
    }
    this.db.close();
  }

  /** Seals events onto the current head. Runs inside the caller's transaction. */
  private append(events: readonly UnsealedEvent[]): AuditEvent[] {
    if (events.length === 0) return [];
    const sealed = sealEvents(this.statements.auditHead.get() ?? null, events, nativeSha256);
    for (const event of sealed) {
      this.statements.insertAudit.run({ ...event, data: JSON.stringify(event.data) });
    }
    return sealed;
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
