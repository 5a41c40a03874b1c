/**
 * Traces, audit queries and chain verification over HTTP, including tampering with the database
 * file directly.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { as, testGateway, testServer, tokenAuthenticator } from '../support/http-server.js';

interface Timeline {
  trace_id: string;
  events: {
    seq: number;
    type: string;
    actor: string;
    job_id: string;
    data: Record<string, unknown>;
  }[];
}

describe('GET /api/v1/traces/{trace_id}', () => {
  it('returns the whole timeline of an approved job, in order, with actors', async () => {
    const app = await testServer({ authenticator: tokenAuthenticator });
    const submitted = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: {
        ...as('agent-acme'),
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
      payload: { topic: 'job.mcp-bridge.write.update_ticket', risk_tags: ['prod'] },
    });
    const { job_id, trace_id } = submitted.json<{ job_id: string; trace_id: string }>();
    assert.equal(trace_id, '0af7651916cd43dd8448eb211c80319c');
    await app.inject({
      method: 'POST',
      url: `/api/v1/approvals/${job_id}/approve`,
      headers: as('approver-acme'),
      payload: { note: 'fine' },
    });

    const res = await app.inject({
      method: 'GET',
      url: `/api/v1/traces/${trace_id}`,
      headers: as('auditor-acme'),
    });
    assert.equal(res.statusCode, 200);
    const timeline = res.json<Timeline>();
    assert.deepEqual(
      timeline.events.map((e) => [e.type, e.actor]),
      [
        ['job.decided', 'agent-acme'],
        ['job.state_changed', 'agent-acme'],
        ['approval.requested', 'agent-acme'],
        ['approval.resolved', 'approver-acme'],
        ['approval.reevaluated', 'approver-acme'],
        ['job.state_changed', 'approver-acme'],
      ],
    );
    assert.ok(timeline.events.every((e, i, all) => i === 0 || e.seq > (all[i - 1]?.seq ?? 0)));
    assert.equal(
      (timeline.events[0]?.data['decision'] as { rule_id: string }).rule_id,
      'require-approval-prod-write',
    );
    assert.deepEqual(timeline.events[3]?.data, {
      by: 'approver-acme',
      decision: 'approve',
      note: 'fine',
      approvals: 1,
      quorum: 1,
    });
    assert.equal(
      (timeline.events[4]?.data['decision'] as { type: string }).type,
      'REQUIRE_APPROVAL',
      'the re-evaluation under the current policy is on the timeline',
    );
    assert.deepEqual(timeline.events[5]?.data, {
      from: 'APPROVAL_REQUIRED',
      to: 'QUEUED',
      reason: 'approved by approver-acme',
    });

    const foreign = await app.inject({
      method: 'GET',
      url: `/api/v1/traces/${trace_id}`,
      headers: as('approver-globex'),
    });
    assert.equal(foreign.statusCode, 403);
    await app.close();
  });

  it('is 404 for an unknown trace', async () => {
    const app = await testServer();
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/traces/nope' })).statusCode, 404);
    await app.close();
  });
});

describe('GET /api/v1/audit', () => {
  it('pages events oldest first, filters by type and job, and is for auditors', async () => {
    const app = await testServer({ authenticator: tokenAuthenticator });
    for (let i = 0; i < 3; i++) {
      await app.inject({
        method: 'POST',
        url: '/api/v1/jobs',
        headers: as('agent-acme'),
        payload: { topic: 'job.mcp-bridge.read.x' },
      });
    }
    const page1 = (
      await app.inject({ method: 'GET', url: '/api/v1/audit?limit=4', headers: as('auditor-acme') })
    ).json<{
      items: { seq: number }[];
      next_cursor: string;
    }>();
    // seq 1 is the start's policy activation, an event of no tenant: acme's auditor never sees it.
    assert.deepEqual(
      page1.items.map((e) => e.seq),
      [2, 3, 4, 5],
    );
    const page2 = (
      await app.inject({
        method: 'GET',
        url: `/api/v1/audit?limit=100&cursor=${page1.next_cursor}`,
        headers: as('auditor-acme'),
      })
    ).json<{ items: { seq: number }[]; next_cursor: string | null }>();
    assert.deepEqual(
      page2.items.map((e) => e.seq),
      [6, 7],
    );
    assert.equal(page2.next_cursor, null);
    const decided = (
      await app.inject({
        method: 'GET',
        url: '/api/v1/audit?type=job.decided',
        headers: as('auditor-acme'),
      })
    ).json<{
      items: unknown[];
    }>();
    assert.equal(decided.items.length, 3);
    assert.equal(
      (await app.inject({ method: 'GET', url: '/api/v1/audit', headers: as('agent-acme') }))
        .statusCode,
      403,
    );
    assert.equal(
      (await app.inject({ method: 'GET', url: '/api/v1/audit', headers: as('approver-globex') }))
        .statusCode,
      403,
    );
    await app.close();
  });
});

describe('GET /api/v1/audit/verify', () => {
  it('reports OK with the count, then the first bad seq after a row is edited in the file', async () => {
    const dbPath = join(mkdtempSync(join(tmpdir(), 'warden-audit-')), 'w.db');
    const app = await testServer({ dbPath });
    for (let i = 0; i < 4; i++)
      await app.inject({
        method: 'POST',
        url: '/api/v1/jobs',
        payload: { topic: 'job.mcp-bridge.read.x' },
      });
    const ok = await app.inject({ method: 'GET', url: '/api/v1/audit/verify' });
    // Two events per job (decided, state changed), after the start's policy activation.
    assert.deepEqual(ok.json(), {
      ok: true,
      count: 9,
      first_bad_seq: null,
      reason: 'chain intact',
      checkpoints: 0,
    });

    // Someone with write access to the file drops the guard and edits history.
    const raw = new Database(dbPath);
    raw.exec('DROP TRIGGER audit_no_update');
    raw.prepare("UPDATE audit SET actor = 'mallory' WHERE seq = 5").run();
    raw.close();
    const bad = (await app.inject({ method: 'GET', url: '/api/v1/audit/verify' })).json<{
      ok: boolean;
      first_bad_seq: number;
    }>();
    assert.equal(bad.ok, false);
    assert.equal(bad.first_bad_seq, 5);
    await app.close();
  });
});

describe('GET /api/v1/audit/public-key', () => {
  it("serves the gateway's checkpoint key to auditors; its checkpoints verify over HTTP", async () => {
    const { app, services } = await testGateway({ authenticator: tokenAuthenticator });
    const res = await app.inject({
      method: 'GET',
      url: '/api/v1/audit/public-key',
      headers: as('auditor-acme'),
    });
    assert.equal(res.statusCode, 200);
    const key = res.json<{ key_id: string; public_key_pem: string }>();
    assert.match(key.key_id, /^[0-9a-f]{16}$/);
    const spki = createPublicKey(key.public_key_pem).export({ type: 'spki', format: 'der' });
    assert.equal(key.key_id, createHash('sha256').update(spki).digest('hex').slice(0, 16));
    assert.equal(
      (await app.inject({ url: '/api/v1/audit/public-key', headers: as('agent-acme') })).statusCode,
      403,
    );

    const checkpoint = await services.auditCheckpoints.checkpointIfDue();
    assert.equal(checkpoint?.key_id, key.key_id);
    const verified = await app.inject({ url: '/api/v1/audit/verify', headers: as('auditor-all') });
    assert.deepEqual(verified.json(), {
      ok: true,
      count: 1,
      first_bad_seq: null,
      reason: 'chain intact',
      checkpoints: 1,
    });
    await app.close();
  });
});
