import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { as, testGateway, tokenAuthenticator } from '../support/http-server.js';

const prodWrite = {
  topic: 'job.mcp-bridge.write.update_ticket',
  risk_tags: ['prod'],
  labels: { 'mcp.action': 'write' },
};

interface Submitted {
  job_id: string;
  state: string;
}

async function submit(app: FastifyInstance, payload: object): Promise<Submitted> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/v1/jobs',
    headers: as('agent-acme'),
    payload,
  });
  return response.json<Submitted>();
}

describe('GET /api/v1/jobs/{id}?wait_for=terminal', () => {
  it('answers as soon as the job becomes terminal', async () => {
    const { app } = await testGateway({ authenticator: tokenAuthenticator });
    const job = await submit(app, prodWrite);
    const started = Date.now();
    const waiting = app.inject({
      url: `/api/v1/jobs/${job.job_id}?wait_for=terminal&wait=30`,
      headers: as('agent-acme'),
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const rejected = await app.inject({
      method: 'POST',
      url: `/api/v1/approvals/${job.job_id}/reject`,
      headers: as('approver-acme'),
      payload: { note: 'not today' },
    });
    assert.equal(rejected.statusCode, 200);
    const answered = await waiting;
    assert.equal(answered.statusCode, 200);
    assert.equal(answered.json<Submitted>().state, 'REJECTED');
    // Woken by the change, not by the 30 s limit.
    assert.ok(Date.now() - started < 10_000);
  });

  it('answers with the current state when the wait runs out, and at once for terminal jobs', async () => {
    const { app } = await testGateway({ authenticator: tokenAuthenticator });
    const pending = await submit(app, prodWrite);
    const started = Date.now();
    const timedOut = await app.inject({
      url: `/api/v1/jobs/${pending.job_id}?wait_for=terminal&wait=1`,
      headers: as('agent-acme'),
    });
    assert.equal(timedOut.json<Submitted>().state, 'APPROVAL_REQUIRED');
    assert.ok(Date.now() - started >= 900, 'returned before the wait ran out');

    const denied = await submit(app, { topic: 'job.other', risk_tags: ['destructive'] });
    const at = Date.now();
    const immediate = await app.inject({
      url: `/api/v1/jobs/${denied.job_id}?wait_for=terminal&wait=30`,
      headers: as('agent-acme'),
    });
    assert.equal(immediate.json<Submitted>().state, 'DENIED');
    assert.ok(Date.now() - at < 5_000);
  });

  it('refuses waits beyond the limit and unknown wait conditions', async () => {
    const { app } = await testGateway({ authenticator: tokenAuthenticator });
    for (const query of ['wait_for=terminal&wait=61', 'wait_for=forever&wait=1', 'wait=-1']) {
      const response = await app.inject({
        url: `/api/v1/jobs/x?${query}`,
        headers: as('agent-acme'),
      });
      assert.equal(response.statusCode, 400, query);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'WARDEN_VALIDATION');
    }
  });
});

describe('store faults', () => {
  it('answers 503 while the database is locked by another process, releases nothing, and recovers', async () => {
    const dbPath = join(mkdtempSync(join(tmpdir(), 'warden-fault-')), 'warden.db');
    const { app } = await testGateway({
      authenticator: tokenAuthenticator,
      dbPath,
      busyTimeoutMs: 50,
    });
    const held = await submit(app, prodWrite);

    // Another process takes the write lock and keeps it: the gateway cannot commit anything.
    const other = new Database(dbPath);
    other.exec('BEGIN EXCLUSIVE');
    try {
      const submit = await app.inject({
        method: 'POST',
        url: '/api/v1/jobs',
        headers: as('agent-acme'),
        payload: { topic: 'job.mcp-bridge.read.list' },
      });
      assert.equal(submit.statusCode, 503);
      assert.equal(
        submit.json<{ error: { code: string } }>().error.code,
        'WARDEN_STORE_UNAVAILABLE',
      );
      const approve = await app.inject({
        method: 'POST',
        url: `/api/v1/approvals/${held.job_id}/approve`,
        headers: as('approver-acme'),
        payload: { note: 'looks fine' },
      });
      assert.equal(approve.statusCode, 503);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }

    // Nothing was released: the refused submit left no job, the approval is still pending.
    const jobs = (await app.inject({ url: '/api/v1/jobs', headers: as('auditor-acme') })).json<{
      items: Submitted[];
    }>();
    assert.deepEqual(
      jobs.items.map((j) => [j.job_id, j.state]),
      [[held.job_id, 'APPROVAL_REQUIRED']],
    );
    const verify = await app.inject({ url: '/api/v1/audit/verify', headers: as('auditor-all') });
    assert.equal(verify.json<{ ok: boolean }>().ok, true);

    // The fault cleared: the same calls succeed.
    const retry = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('agent-acme'),
      payload: { topic: 'job.mcp-bridge.read.list' },
    });
    assert.equal(retry.statusCode, 201);
    const approve = await app.inject({
      method: 'POST',
      url: `/api/v1/approvals/${held.job_id}/approve`,
      headers: as('approver-acme'),
      payload: { note: 'looks fine' },
    });
    assert.equal(approve.statusCode, 200);
    const metrics = (await app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /^warden_audit_append_failures_total 2$/m);
  });

  it('keeps answering reads while a write waits for a lock held by another process', async () => {
    const dbPath = join(mkdtempSync(join(tmpdir(), 'warden-fault-')), 'warden.db');
    const { app } = await testGateway({
      authenticator: tokenAuthenticator,
      dbPath,
      busyTimeoutMs: 10_000,
    });
    const earlier = await submit(app, prodWrite);
    const other = new Database(dbPath);
    other.exec('BEGIN EXCLUSIVE');
    let settled = false;
    const waiting = app
      .inject({
        method: 'POST',
        url: '/api/v1/jobs',
        headers: as('agent-acme'),
        payload: { topic: 'job.mcp-bridge.read.list' },
      })
      .finally(() => {
        settled = true;
      });
    try {
      // The write waits on the writer thread, so the event loop stays free for everything else.
      const health = await app.inject({ url: '/healthz' });
      assert.equal(health.statusCode, 200);
      const read = await app.inject({
        url: `/api/v1/jobs/${earlier.job_id}`,
        headers: as('auditor-acme'),
      });
      assert.equal(read.json<Submitted>().state, 'APPROVAL_REQUIRED');
      assert.equal(settled, false, 'the write should still be waiting for the lock');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    // The lock cleared within the busy timeout: the waiting write commits.
    assert.equal((await waiting).statusCode, 201);
  });

  it('answers 503 on every path once the store is gone, and /readyz says so', async () => {
    const { app, store } = await testGateway({ authenticator: tokenAuthenticator });
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200);
    await store.close();
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    for (const [method, url] of [
      ['POST', '/api/v1/jobs'],
      ['GET', '/api/v1/jobs'],
      ['GET', '/api/v1/audit'],
    ] as const) {
      const response = await app.inject({
        method,
        url,
        headers: as('admin-all'),
        ...(method === 'POST' ? { payload: prodWrite } : {}),
      });
      assert.equal(response.statusCode, 503, `${method} ${url}`);
    }
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
  });
});
