/**
 * Attacks on approvals (§5), each through the HTTP API against a real SQLite file: refused with
 * a stable code, and on the job's audit trail. Plus the races: many resolvers at once, and an
 * approval racing the expiry sweeper.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { as, testGateway, tokenAuthenticator } from '../support/http-server.js';
import type { TestGateway } from '../support/http-server.js';

const POLICY = `version: v1
rules:
  - id: prod-write
    match: { topics: ['job.mcp-bridge.write.*'], risk_tags: ['prod'] }
    decision: require_approval
    reason: Production writes require human review
    approval: { timeout: 10m }
  - id: admins-only
    match: { topics: ['job.billing.*'] }
    decision: require_approval
    reason: billing changes need an admin
    approval: { approver_roles: [admin] }
  - id: two-people
    match: { topics: ['job.deploy.*'] }
    decision: require_approval
    reason: deploys need two people
    approval: { quorum: 2 }
`;

interface Approval {
  job_id: string;
  status: string;
  job_hash: string;
  closed_reason: string | null;
  resolutions: { by: string; decision: string }[];
}

interface Event {
  type: string;
  actor: string;
  data: Record<string, unknown>;
}

/** A gateway on a fresh database file, with a clock the test moves. */
async function gateway(): Promise<TestGateway & { dbPath: string; advance: (ms: number) => void }> {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'warden-attacks-')), 'warden.db');
  let nowMs = Date.parse('2026-11-21T10:00:00.000Z');
  const parts = await testGateway({
    authenticator: tokenAuthenticator,
    policySource: POLICY,
    dbPath,
    clock: { now: () => new Date(nowMs).toISOString() },
  });
  return {
    ...parts,
    dbPath,
    advance: (ms) => {
      nowMs += ms;
    },
  };
}

async function submit(
  app: FastifyInstance,
  topic: string,
  who = 'agent-acme',
): Promise<{ job_id: string; job_hash: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/jobs',
    headers: as(who),
    payload: { topic, risk_tags: ['prod'], payload: { amount: 10 } },
  });
  assert.equal(res.statusCode, 201, res.body);
  const body = res.json<{ job_id: string; job_hash: string; state: string }>();
  assert.equal(body.state, 'APPROVAL_REQUIRED');
  return body;
}

function resolve(
  app: FastifyInstance,
  jobId: string,
  who: string,
  decision: 'approve' | 'reject',
  body: Record<string, unknown> = {},
) {
  return app.inject({
    method: 'POST',
    url: `/api/v1/approvals/${jobId}/${decision}`,
    headers: as(who),
    payload: { note: `${decision} by ${who}`, ...body },
  });
}

async function approval(app: FastifyInstance, jobId: string): Promise<Approval> {
  const res = await app.inject({ url: `/api/v1/approvals/${jobId}`, headers: as('admin-acme') });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Approval>();
}

async function jobState(app: FastifyInstance, jobId: string): Promise<string> {
  const res = await app.inject({ url: `/api/v1/jobs/${jobId}`, headers: as('auditor-acme') });
  return res.json<{ state: string }>().state;
}

async function events(app: FastifyInstance, jobId: string): Promise<Event[]> {
  const res = await app.inject({
    url: `/api/v1/audit?job_id=${jobId}&limit=500`,
    headers: as('auditor-all'),
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ items: Event[] }>().items;
}

/** The refusal recorded for `who`, with its code. */
async function refusal(app: FastifyInstance, jobId: string, who: string): Promise<string> {
  const refused = (await events(app, jobId)).filter(
    (e) => e.type === 'approval.refused' && e.actor === who,
  );
  assert.equal(refused.length, 1, `one refusal of ${who} on the timeline`);
  return String(refused[0]?.data['code']);
}

async function chainIntact(app: FastifyInstance): Promise<void> {
  const res = await app.inject({ url: '/api/v1/audit/verify', headers: as('auditor-all') });
  assert.equal(res.json<{ ok: boolean }>().ok, true, res.body);
}

function errorCode(res: { body: string }): string {
  return (JSON.parse(res.body) as { error: { code: string } }).error.code;
}

describe('approval attacks', () => {
  it('refuses an approval of a job other than the one reviewed (stale hash), and records it', async () => {
    const { app } = await gateway();
    const job = await submit(app, 'job.mcp-bridge.write.update_ticket');
    const res = await resolve(app, job.job_id, 'approver-acme', 'approve', {
      job_hash: 'f'.repeat(64),
    });
    assert.equal(res.statusCode, 409);
    assert.equal(errorCode(res), 'WARDEN_JOB_HASH_MISMATCH');
    assert.equal((await approval(app, job.job_id)).status, 'PENDING');
    assert.equal(await refusal(app, job.job_id, 'approver-acme'), 'WARDEN_JOB_HASH_MISMATCH');
    // With the hash that was reviewed, the same approver succeeds.
    const ok = await resolve(app, job.job_id, 'approver-acme', 'approve', {
      job_hash: job.job_hash,
    });
    assert.equal(ok.statusCode, 200);
    assert.equal(await jobState(app, job.job_id), 'QUEUED');
  });

  it('refuses an approval after the deadline: the approval and the job expire', async () => {
    const { app, advance } = await gateway();
    const job = await submit(app, 'job.mcp-bridge.write.update_ticket');
    advance(10 * 60 * 1000);
    const res = await resolve(app, job.job_id, 'approver-acme', 'approve');
    assert.equal(res.statusCode, 409);
    assert.equal(errorCode(res), 'WARDEN_APPROVAL_RESOLVED');
    assert.deepEqual(res.json<{ error: { details: unknown } }>().error.details, {
      status: 'EXPIRED',
    });
    assert.equal((await approval(app, job.job_id)).status, 'EXPIRED');
    assert.equal(await jobState(app, job.job_id), 'EXPIRED');
    assert.equal(await refusal(app, job.job_id, 'approver-acme'), 'WARDEN_APPROVAL_RESOLVED');
  });

  it('an approval racing the sweeper past the deadline never wins, and expires exactly once', async () => {
    const { app, services, advance } = await gateway();
    const jobs = await Promise.all(
      Array.from({ length: 8 }, () => submit(app, 'job.mcp-bridge.write.update_ticket')),
    );
    advance(10 * 60 * 1000);
    const [swept, ...answers] = await Promise.all([
      services.approvals.sweep(),
      ...jobs.map((job) => resolve(app, job.job_id, 'approver-acme', 'approve')),
    ]);
    assert.ok(typeof swept === 'number' && swept <= jobs.length);
    for (const [i, job] of jobs.entries()) {
      assert.equal(answers[i]?.statusCode, 409);
      assert.equal(await jobState(app, job.job_id), 'EXPIRED');
      const expired = (await events(app, job.job_id)).filter((e) => e.type === 'approval.expired');
      assert.equal(expired.length, 1, 'expired once, by whoever came first');
    }
    await chainIntact(app);
  });

  it('refuses self-approval', async () => {
    const { app } = await gateway();
    // admin-acme may both submit and approve, but never its own job.
    const job = await submit(app, 'job.mcp-bridge.write.update_ticket', 'admin-acme');
    const res = await resolve(app, job.job_id, 'admin-acme', 'approve');
    assert.equal(res.statusCode, 403);
    assert.equal(errorCode(res), 'WARDEN_SELF_APPROVAL');
    assert.equal((await approval(app, job.job_id)).status, 'PENDING');
    assert.equal(await refusal(app, job.job_id, 'admin-acme'), 'WARDEN_SELF_APPROVAL');
  });

  it("refuses an approver from another tenant as not found, and records the attempt in the job's tenant", async () => {
    const { app } = await gateway();
    const job = await submit(app, 'job.mcp-bridge.write.update_ticket');
    const res = await resolve(app, job.job_id, 'approver-globex', 'approve');
    assert.equal(res.statusCode, 404);
    assert.equal(errorCode(res), 'WARDEN_NOT_FOUND');
    assert.doesNotMatch(res.body, /prod-write|update_ticket|acme/);
    assert.equal((await approval(app, job.job_id)).status, 'PENDING');
    assert.equal(await refusal(app, job.job_id, 'approver-globex'), 'WARDEN_NOT_FOUND');
  });

  it("refuses an approver without one of the rule's approver roles", async () => {
    const { app } = await gateway();
    const job = await submit(app, 'job.billing.refund');
    const res = await resolve(app, job.job_id, 'approver-acme', 'approve');
    assert.equal(res.statusCode, 403);
    assert.equal(errorCode(res), 'WARDEN_FORBIDDEN');
    assert.equal(await refusal(app, job.job_id, 'approver-acme'), 'WARDEN_FORBIDDEN');
    const auditor = await resolve(app, job.job_id, 'auditor-acme', 'approve');
    assert.equal(auditor.statusCode, 403);
    // The rule names admins: an admin of the tenant may.
    assert.equal((await resolve(app, job.job_id, 'admin-acme', 'approve')).statusCode, 200);
    assert.equal(await jobState(app, job.job_id), 'QUEUED');
  });

  it('counts one approver once towards a quorum; distinct approvers release the job', async () => {
    const { app } = await gateway();
    const job = await submit(app, 'job.deploy.web');
    const first = await resolve(app, job.job_id, 'approver-acme', 'approve');
    assert.equal(first.statusCode, 200);
    assert.equal(first.json<Approval>().status, 'PENDING');
    const again = await resolve(app, job.job_id, 'approver-acme', 'approve');
    assert.equal(again.statusCode, 409);
    assert.equal(errorCode(again), 'WARDEN_APPROVAL_RESOLVED');
    assert.equal(await refusal(app, job.job_id, 'approver-acme'), 'WARDEN_APPROVAL_RESOLVED');
    assert.equal(await jobState(app, job.job_id), 'APPROVAL_REQUIRED');
    const second = await resolve(app, job.job_id, 'approver2-acme', 'approve');
    assert.equal(second.json<Approval>().status, 'APPROVED');
    assert.equal(await jobState(app, job.job_id), 'QUEUED');
  });

  it('one reject rejects, even after an approval towards the quorum', async () => {
    const { app } = await gateway();
    const job = await submit(app, 'job.deploy.web');
    await resolve(app, job.job_id, 'approver-acme', 'approve');
    const rejected = await resolve(app, job.job_id, 'approver2-acme', 'reject');
    assert.equal(rejected.json<Approval>().status, 'REJECTED');
    assert.equal(await jobState(app, job.job_id), 'REJECTED');
  });

  it('refuses a reject after an approve (and an approve after a reject) with the current status', async () => {
    const { app } = await gateway();
    const approved = await submit(app, 'job.mcp-bridge.write.update_ticket');
    assert.equal((await resolve(app, approved.job_id, 'approver-acme', 'approve')).statusCode, 200);
    const late = await resolve(app, approved.job_id, 'approver2-acme', 'reject');
    assert.equal(late.statusCode, 409);
    assert.deepEqual(late.json<{ error: { details: unknown } }>().error.details, {
      status: 'APPROVED',
    });
    assert.equal(await refusal(app, approved.job_id, 'approver2-acme'), 'WARDEN_APPROVAL_RESOLVED');

    const rejected = await submit(app, 'job.mcp-bridge.write.update_ticket');
    assert.equal((await resolve(app, rejected.job_id, 'approver-acme', 'reject')).statusCode, 200);
    const after = await resolve(app, rejected.job_id, 'approver2-acme', 'approve');
    assert.equal(after.statusCode, 409);
    assert.equal(await jobState(app, rejected.job_id), 'REJECTED');
  });

  it('leaves exactly one outcome when many resolvers race', async () => {
    const { app } = await gateway();
    const job = await submit(app, 'job.mcp-bridge.write.update_ticket');
    const resolvers = ['approver-acme', 'approver2-acme', 'admin-acme', 'admin-all'];
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        resolve(
          app,
          job.job_id,
          resolvers[i % resolvers.length] ?? 'approver-acme',
          i % 3 === 0 ? 'reject' : 'approve',
        ),
      ),
    );
    const won = answers.filter((res) => res.statusCode === 200);
    assert.equal(won.length, 1, 'exactly one resolution succeeds');
    assert.ok(answers.every((res) => res.statusCode === 200 || res.statusCode === 409));
    const final = await approval(app, job.job_id);
    assert.equal(final.resolutions.length, 1);
    const state = await jobState(app, job.job_id);
    assert.equal(state, final.status === 'APPROVED' ? 'QUEUED' : 'REJECTED');
    const moved = (await events(app, job.job_id)).filter(
      (e) => e.type === 'job.state_changed' && e.data['from'] === 'APPROVAL_REQUIRED',
    );
    assert.equal(moved.length, 1);
    await chainIntact(app);
  });

  it('denies a job whose stored payload was changed before its approval', async () => {
    const { app, dbPath } = await gateway();
    const job = await submit(app, 'job.mcp-bridge.write.update_ticket');
    tamper(dbPath, job.job_id);
    const res = await resolve(app, job.job_id, 'approver-acme', 'approve');
    assert.equal(res.statusCode, 409);
    assert.equal(errorCode(res), 'WARDEN_JOB_HASH_MISMATCH');
    assert.equal(await jobState(app, job.job_id), 'DENIED');
    assert.equal((await approval(app, job.job_id)).status, 'REJECTED');
    const broken = (await events(app, job.job_id)).find((e) => e.type === 'job.binding_broken');
    assert.equal(broken?.data['stage'], 'approval');
  });

  it('does not release a job whose stored payload was changed after its approval', async () => {
    const { app, services, dbPath } = await gateway();
    const job = await submit(app, 'job.mcp-bridge.write.update_ticket');
    assert.equal((await resolve(app, job.job_id, 'approver-acme', 'approve')).statusCode, 200);
    tamper(dbPath, job.job_id);
    const stored = await services.jobs.get(job.job_id, {
      id: 'auditor',
      tenant: '*',
      roles: ['auditor'],
    });
    assert.equal(stored.state, 'QUEUED');
    // The check every release path (dispatch, inline claim) runs before a job leaves.
    assert.equal(await services.jobs.releaseCheck(stored, 'dispatch'), false);
    assert.equal(await jobState(app, job.job_id), 'DENIED');
    const broken = (await events(app, job.job_id)).find((e) => e.type === 'job.binding_broken');
    assert.equal(broken?.data['stage'], 'dispatch');
    await chainIntact(app);
  });
});

/** A direct database write behind the gateway's back: the payload now says something else. */
function tamper(dbPath: string, jobId: string): void {
  const db = new Database(dbPath);
  try {
    db.pragma('busy_timeout = 5000');
    const changed = db
      .prepare('UPDATE jobs SET payload = ? WHERE job_id = ?')
      .run(JSON.stringify({ amount: 10_000 }), jobId);
    assert.equal(changed.changes, 1);
  } finally {
    db.close();
  }
}
