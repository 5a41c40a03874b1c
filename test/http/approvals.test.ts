/**
 * `/api/v1/approvals`: the three curl calls of the seed document verbatim, then who may resolve
 * what, single-use resolution and hash binding.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { as, testServer, tokenAuthenticator } from '../support/http-server.js';

interface Approval {
  job_id: string;
  status: string;
  job_hash: string;
  resolutions: { by: string; decision: string; note: string }[];
}

describe('the seed document’s three curl calls (dev mode)', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await testServer();
  });
  after(() => app.close());

  it('submit, see it queued for approval, approve with a note', async () => {
    const submitted = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: { 'Content-Type': 'application/json' },
      payload: `{
"topic":"job.mcp-bridge.write.update_ticket",
"tenant_id":"default",
"risk_tags":["prod"],
"labels":{"mcp.action":"write"}
}`,
    });
    assert.equal(submitted.statusCode, 201);
    const { job_id } = submitted.json<{ job_id: string }>();

    const queue = await app.inject({
      method: 'GET',
      url: '/api/v1/approvals?include_resolved=false',
    });
    assert.equal(queue.statusCode, 200);
    const items = queue.json<{ items: Approval[] }>().items;
    assert.deepEqual(
      items.map((a) => [a.job_id, a.status]),
      [[job_id, 'PENDING']],
    );

    const approved = await app.inject({
      method: 'POST',
      url: `/api/v1/approvals/${job_id}/approve`,
      headers: { 'Content-Type': 'application/json' },
      payload: '{"note":"approved after policy review"}',
    });
    assert.equal(approved.statusCode, 200);
    const approval = approved.json<Approval>();
    assert.equal(approval.status, 'APPROVED');
    assert.deepEqual(
      approval.resolutions.map((r) => [r.by, r.decision, r.note]),
      [['dev', 'approve', 'approved after policy review']],
    );
    const job = await app.inject({ method: 'GET', url: `/api/v1/jobs/${job_id}` });
    assert.equal(job.json<{ state: string }>().state, 'QUEUED');
    const after = await app.inject({
      method: 'GET',
      url: '/api/v1/approvals?include_resolved=false',
    });
    assert.deepEqual(after.json<{ items: Approval[] }>().items, []);
  });
});

describe('approval resolution rules', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await testServer({ authenticator: tokenAuthenticator });
  });
  after(() => app.close());

  const submit = async (): Promise<string> => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('agent-acme'),
      payload: { topic: 'job.mcp-bridge.write.update_ticket', risk_tags: ['prod'] },
    });
    return res.json<{ job_id: string }>().job_id;
  };
  const resolve = (
    jobId: string,
    who: string,
    verb: 'approve' | 'reject',
    body: Record<string, unknown> = {},
  ) =>
    app.inject({
      method: 'POST',
      url: `/api/v1/approvals/${jobId}/${verb}`,
      headers: as(who),
      payload: body,
    });
  const code = (res: { json: () => unknown }): string =>
    (res.json() as { error: { code: string } }).error.code;

  it('lets the first resolution win; later ones get 409 with the current status', async () => {
    const jobId = await submit();
    assert.equal(
      (await resolve(jobId, 'approver-acme', 'approve', { note: 'ok' })).statusCode,
      200,
    );
    const again = await resolve(jobId, 'approver2-acme', 'reject', { note: 'no' });
    assert.equal(again.statusCode, 409);
    assert.equal(code(again), 'WARDEN_APPROVAL_RESOLVED');
    assert.deepEqual(again.json<{ error: { details: unknown } }>().error.details, {
      status: 'APPROVED',
    });
  });

  it('lets exactly one of many concurrent resolutions win', async () => {
    const jobId = await submit();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        resolve(
          jobId,
          i % 2 === 0 ? 'approver-acme' : 'approver2-acme',
          i % 3 === 0 ? 'reject' : 'approve',
        ),
      ),
    );
    assert.equal(results.filter((r) => r.statusCode === 200).length, 1);
    assert.ok(results.filter((r) => r.statusCode !== 200).every((r) => r.statusCode === 409));
  });

  it('refuses the requester (self-approval), other tenants (404) and non-approvers (403)', async () => {
    const jobId = await submit();
    const self = await app.inject({
      method: 'POST',
      url: `/api/v1/approvals/${jobId}/approve`,
      headers: as('agent-acme'),
      payload: {},
    });
    assert.equal(self.statusCode, 403);
    const foreign = await resolve(jobId, 'approver-globex', 'approve');
    assert.equal(foreign.statusCode, 404);
    const auditor = await resolve(jobId, 'auditor-acme', 'approve');
    assert.equal(auditor.statusCode, 403);
    const pending = await app.inject({
      method: 'GET',
      url: `/api/v1/approvals/${jobId}`,
      headers: as('approver-acme'),
    });
    assert.equal(pending.json<Approval>().status, 'PENDING');
  });

  it('binds an approval to the job hash the approver saw', async () => {
    const jobId = await submit();
    const stale = await resolve(jobId, 'approver-acme', 'approve', { job_hash: 'f'.repeat(64) });
    assert.equal(stale.statusCode, 409);
    assert.equal(code(stale), 'WARDEN_JOB_HASH_MISMATCH');
    const view = await app.inject({
      method: 'GET',
      url: `/api/v1/approvals/${jobId}`,
      headers: as('approver-acme'),
    });
    const ok = await resolve(jobId, 'approver-acme', 'approve', {
      job_hash: view.json<Approval>().job_hash,
    });
    assert.equal(ok.statusCode, 200);
  });

  it('rejects with a note, and the job ends REJECTED', async () => {
    const jobId = await submit();
    const rejected = await resolve(jobId, 'approver-acme', 'reject', { note: 'too risky' });
    assert.equal(rejected.json<Approval>().status, 'REJECTED');
    const job = await app.inject({
      method: 'GET',
      url: `/api/v1/jobs/${jobId}`,
      headers: as('agent-acme'),
    });
    assert.equal(job.json<{ state: string }>().state, 'REJECTED');
  });
});

describe('approval expiry', () => {
  it('refuses a resolution after the timeout and moves the job to EXPIRED', async () => {
    let now = '2026-11-21T10:00:00.000Z';
    const app = await testServer({ clock: { now: () => now } });
    const submitted = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      payload: { topic: 'job.mcp-bridge.write.x', risk_tags: ['prod'] },
    });
    const { job_id } = submitted.json<{ job_id: string }>();
    now = '2026-11-21T11:00:00.000Z';
    const late = await app.inject({
      method: 'POST',
      url: `/api/v1/approvals/${job_id}/approve`,
      payload: {},
    });
    assert.equal(late.statusCode, 409);
    assert.deepEqual(late.json<{ error: { details: unknown } }>().error.details, {
      status: 'EXPIRED',
    });
    const job = await app.inject({ method: 'GET', url: `/api/v1/jobs/${job_id}` });
    assert.equal(job.json<{ state: string }>().state, 'EXPIRED');
    await app.close();
  });
});
