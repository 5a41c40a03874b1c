/**
 * SQLite schema, as numbered migrations applied in order at start. Never edit a released
 * migration; add the next one.
 */

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs and audit',
    sql: `
      CREATE TABLE jobs (
        job_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        agent_id TEXT,
        principal TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        idempotency_key TEXT,
        dispatch TEXT NOT NULL,
        risk_tags TEXT NOT NULL,
        labels TEXT NOT NULL,
        payload TEXT,
        job_hash TEXT NOT NULL,
        state TEXT NOT NULL,
        decision TEXT NOT NULL,
        constraints TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
      CREATE INDEX jobs_tenant ON jobs (tenant_id, job_id);
      CREATE INDEX jobs_state ON jobs (state, job_id);

      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        type TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        job_id TEXT,
        actor TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      ) STRICT;
      CREATE INDEX audit_trace ON audit (trace_id, seq);
      CREATE INDEX audit_job ON audit (job_id, seq);
      CREATE INDEX audit_tenant ON audit (tenant_id, seq);

      -- The audit trail is append-only at the storage level too.
      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
    `,
  },
  {
    version: 2,
    name: 'api keys',
    sql: `
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        tenant TEXT NOT NULL,
        roles TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        revoked_at TEXT
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'policy activations and agent profiles',
    sql: `
      CREATE TABLE policy_activations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        snapshot TEXT NOT NULL,
        source TEXT NOT NULL,
        origin TEXT NOT NULL,
        author TEXT NOT NULL,
        message TEXT NOT NULL,
        activated_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX policy_activations_snapshot ON policy_activations (snapshot, seq);

      CREATE TABLE agents (
        tenant_id TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        profile TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        updated_by TEXT NOT NULL,
        PRIMARY KEY (tenant_id, agent_id)
      ) STRICT;
    `,
  },
  {
    version: 4,
    name: 'trace lookups through jobs',
    // Trace ids are random, so an index on them takes a random B-tree page per row. Job events are
    // found through their job (one trace entry per job, not per event); only events that belong
    // to no job keep a trace index of their own.
    sql: `
      DROP INDEX audit_trace;
      CREATE INDEX audit_trace_unbound ON audit (trace_id, seq) WHERE job_id IS NULL;
      CREATE INDEX jobs_trace ON jobs (trace_id);
    `,
  },
  {
    version: 5,
    name: 'approvals',
    // The record is one JSON document; the columns beside it are what queries filter and sort on.
    sql: `
      CREATE TABLE approvals (
        job_id TEXT PRIMARY KEY REFERENCES jobs (job_id),
        tenant_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        agent_id TEXT,
        status TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        version INTEGER NOT NULL,
        record TEXT NOT NULL
      ) STRICT;
      CREATE INDEX approvals_queue ON approvals (status, tenant_id, job_id);
      CREATE INDEX approvals_due ON approvals (status, expires_at);
    `,
  },
  {
    version: 6,
    name: 'pending approval counts',
    // Submit checks a tenant's pending count against the queue bound on every approval it
    // creates; counting the index is O(pending), so a queue of 20,000 made every submit slow.
    // Triggers keep the counts beside the rows, in the same transaction, whoever writes them.
    sql: `
      CREATE TABLE approvals_pending (
        tenant_id TEXT PRIMARY KEY,
        pending INTEGER NOT NULL CHECK (pending >= 0)
      ) STRICT;
      INSERT INTO approvals_pending (tenant_id, pending)
        SELECT tenant_id, count(*) FROM approvals WHERE status = 'PENDING' GROUP BY tenant_id;
      CREATE TRIGGER approvals_pending_insert AFTER INSERT ON approvals
        WHEN NEW.status = 'PENDING'
      BEGIN
        INSERT INTO approvals_pending (tenant_id, pending) VALUES (NEW.tenant_id, 1)
          ON CONFLICT (tenant_id) DO UPDATE SET pending = pending + 1;
      END;
      CREATE TRIGGER approvals_pending_update AFTER UPDATE OF status, tenant_id ON approvals
        WHEN (OLD.status = 'PENDING') <> (NEW.status = 'PENDING') OR OLD.tenant_id <> NEW.tenant_id
      BEGIN
        UPDATE approvals_pending SET pending = pending - 1
          WHERE OLD.status = 'PENDING' AND tenant_id = OLD.tenant_id;
        INSERT INTO approvals_pending (tenant_id, pending)
          SELECT NEW.tenant_id, 1 WHERE NEW.status = 'PENDING'
          ON CONFLICT (tenant_id) DO UPDATE SET pending = pending + 1;
      END;
      CREATE TRIGGER approvals_pending_delete AFTER DELETE ON approvals
        WHEN OLD.status = 'PENDING'
      BEGIN
        UPDATE approvals_pending SET pending = pending - 1 WHERE tenant_id = OLD.tenant_id;
      END;
      -- The oldest pending approval, read by the sweeper every second for the queue gauge.
      CREATE INDEX approvals_age ON approvals (status, requested_at);
    `,
  },
  {
    version: 7,
    name: 'dispatch: leases, results, outbox, dead letters',
    // The outbox holds one row per bus job waiting for a worker (QUEUED or DISPATCHED), written
    // in the transaction that puts the job in that state (write-ops.ts keeps the two in step), so
    // a crash between commit and publish, or a queue lost with the process, leaves the row for
    // the relay to publish after the restart.
    sql: `
      ALTER TABLE jobs ADD COLUMN lease TEXT;
      ALTER TABLE jobs ADD COLUMN lease_expires_at TEXT;
      ALTER TABLE jobs ADD COLUMN deadline_at TEXT;
      ALTER TABLE jobs ADD COLUMN result TEXT;
      CREATE INDEX jobs_lease_due ON jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
      CREATE INDEX jobs_deadline_due ON jobs (deadline_at) WHERE deadline_at IS NOT NULL;

      CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL UNIQUE REFERENCES jobs (job_id),
        queued_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE dead_letters (
        job_id TEXT PRIMARY KEY REFERENCES jobs (job_id),
        tenant_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        dead_at TEXT NOT NULL,
        retried_as TEXT
      ) STRICT;
      CREATE INDEX dead_letters_tenant ON dead_letters (tenant_id, job_id);
    `,
  },
  {
    version: 8,
    name: 'signed audit checkpoints, retention, forwarding cursors',
    // Deleting audit rows stays refused, except below the boundary retention pruning moved in
    // the same transaction; the boundary is always a signed checkpoint, so what remains verifies.
    sql: `
      CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY,
        hash TEXT NOT NULL,
        at TEXT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL
      ) STRICT;

      CREATE TABLE audit_pruned (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        through_seq INTEGER NOT NULL
      ) STRICT;
      INSERT INTO audit_pruned VALUES (1, 0);
      DROP TRIGGER audit_no_delete;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        WHEN OLD.seq > (SELECT through_seq FROM audit_pruned WHERE id = 1)
        BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

      CREATE TABLE audit_cursors (
        name TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
    `,
  },
];
