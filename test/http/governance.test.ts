/**
 * The governance checklist (§11) from live state: all four checks pass on a healthy gateway, and
 * each fails when its property is broken behind the gateway's back: a job written into the
 * database as dispatched with no decision, a tenant at its approval bound, an approval left
 * pending past its deadline, a fail-open the audit trail refused, an edited audit row. `warden
 * doctor` prints the same report and exits 1 when a check fails.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { ChecklistReport, CheckId } from '../../src/app/checklist.js';
import type { Clock } from '../../src/ports/clock.js';
import { BIN } from '../support/cli.js';
import { as, testGateway, tokenAuthenticator } from '../support/http-server.js';
import type { TestGateway } from '../support/http-server.js';

/** The built CLI, run without blocking: the gateway it talks to lives in this process. */
async function doctor(...args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'doctor', ...args], (error, stdout) => {
      resolve({ code: error === null ? 0 : Number(error.code), stdout });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'warden-checklist-'));
let counter = 0;

/** A clock the test moves. */
class TestClock implements Clock {
  constructor(private ms = Date.parse('2026-11-21T09:00:00.000Z')) {}
  now(): string {
    return new Date(this.ms).toISOString();
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

async function gateway(
  options: { clock?: Clock; maxPendingApprovals?: number } = {},
): Promise<{ gw: TestGateway; db: string }> {
  const db = join(dir, `gateway-${String(++counter)}.db`);
  const gw = await testGateway({ dbPath: db, authenticator: tokenAuthenticator, ...options });
  return { gw, db };
}

async function checklist(gw: TestGateway, by = 'auditor-acme'): Promise<ChecklistReport> {
  const res = await gw.app.inject({
    method: 'GET',
    url: '/api/v1/governance/checklist',
    headers: as(by),
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

function check(report: ChecklistReport, id: CheckId): { pass: boolean; detail: string } {
  const found = report.checks.find((c) => c.id === id);
  assert.ok(found, `check ${id} is in the report`);
  return found;
}

async function submit(gw: TestGateway, body: Record<string, unknown>): Promise<string> {
  const res = await gw.app.inject({
    method: 'POST',
    url: '/api/v1/jobs',
    headers: as('agent-acme'),
    payload: body,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<{ job_id: string }>().job_id;
}

/** A job run to the end through the worker API. */
async function runOne(gw: TestGateway): Promise<void> {
  await submit(gw, { topic: 'job.mcp-bridge.read.list_tickets' });
  await gw.services.relay.publishPending(new AbortController().signal);
  const lease = await gw.app.inject({
    method: 'POST',
    url: '/api/v1/workers/lease',
    headers: as('worker-acme'),
    payload: { topics: ['job.mcp-bridge.read.*'] },
  });
  const [leased] = lease.json<{ items: { job: { job_id: string }; lease_id: string }[] }>().items;
  assert.ok(leased, lease.body);
  const result = await gw.app.inject({
    method: 'POST',
    url: `/api/v1/jobs/${leased.job.job_id}/result`,
    headers: as('worker-acme'),
    payload: { lease_id: leased.lease_id, status: 'succeeded', output: { ok: true } },
  });
  assert.equal(result.statusCode, 200, result.body);
}

describe('governance checklist', () => {
  it('passes all four checks on a healthy gateway, from live state', async () => {
    const { gw } = await gateway();
    await runOne(gw);
    const report = await checklist(gw);
    assert.equal(report.ok, true, JSON.stringify(report, null, 2));
    assert.deepEqual(
      report.checks.map((c) => c.id),
      [
        'policy_on_every_dispatch',
        'approval_queue_bounded',
        'fail_mode_explicit',
        'audit_queryable',
      ],
    );
    assert.match(check(report, 'fail_mode_explicit').detail, /store: closed \(default\)/);
    assert.match(check(report, 'audit_queryable').detail, /trace \S+ returns its timeline/);
  });

  it('fails the first check for a job that reached dispatch without a decision record', async () => {
    const { gw, db } = await gateway();
    await runOne(gw);
    const handle = new Database(db);
    const row = handle.prepare('SELECT * FROM jobs LIMIT 1').get() as Record<string, unknown>;
    handle
      .prepare(
        `INSERT INTO jobs (job_id, tenant_id, topic, agent_id, principal, trace_id, idempotency_key,
          dispatch, risk_tags, labels, payload, job_hash, state, decision, constraints, attempt,
          created_at, updated_at)
        VALUES ('01BYPASSED0000000000000000', @tenant_id, @topic, NULL, 'script', 'trace-bypass',
          NULL, 'bus', '[]', '{}', NULL, @job_hash, 'DISPATCHED', @decision, '{}', 0,
          @created_at, @updated_at)`,
      )
      .run(row);
    handle.close();
    const report = await checklist(gw);
    assert.equal(report.ok, false);
    const first = check(report, 'policy_on_every_dispatch');
    assert.equal(first.pass, false);
    assert.match(first.detail, /01BYPASSED0000000000000000/);
    assert.equal(check(report, 'audit_queryable').pass, true, 'the chain itself is intact');
  });

  it('fails the queue check when a tenant is at its bound, and when expiry stops', async () => {
    const clock = new TestClock();
    const { gw } = await gateway({ clock, maxPendingApprovals: 2 });
    const write = { topic: 'job.mcp-bridge.write.update_ticket', risk_tags: ['prod'] };
    await submit(gw, write);
    assert.equal(check(await checklist(gw), 'approval_queue_bounded').pass, true);
    await submit(gw, write);
    const full = check(await checklist(gw), 'approval_queue_bounded');
    assert.equal(full.pass, false);
    assert.match(full.detail, /tenant acme holds 2 pending approvals, its bound \(2\)/);
    // Past the approvals' deadline (seed default) plus the grace, with no sweep having run.
    clock.advance(48 * 3600 * 1000);
    const stuck = check(await checklist(gw), 'approval_queue_bounded');
    assert.match(stuck.detail, /the expiry sweep is not running/);
    await gw.services.approvals.sweep();
    assert.equal(check(await checklist(gw), 'approval_queue_bounded').pass, true);
  });

  it('fails the fail-mode check while a fail-open is not in the audit trail', async () => {
    const { gw, db } = await gateway();
    const handle = new Database(db);
    handle.exec(
      "CREATE TRIGGER audit_broken BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'broken'); END",
    );
    gw.services.failOpens.record({ component: 'notifier', reason: 'test: nobody was told' });
    await gw.services.failOpens.flush().catch(() => undefined);
    const failing = check(await checklist(gw), 'fail_mode_explicit');
    assert.equal(failing.pass, false);
    assert.match(failing.detail, /1 of 1 fail-open\(s\) since start are not in the audit trail/);
    handle.exec('DROP TRIGGER audit_broken');
    handle.close();
    await gw.services.failOpens.flush();
    assert.equal(check(await checklist(gw), 'fail_mode_explicit').pass, true);
  });

  it('fails the audit check when a row was edited', async () => {
    const { gw, db } = await gateway();
    await runOne(gw);
    const handle = new Database(db);
    handle.exec('DROP TRIGGER audit_no_update');
    handle.exec("UPDATE audit SET actor = 'someone-else' WHERE seq = 2");
    handle.close();
    const audit = check(await checklist(gw), 'audit_queryable');
    assert.equal(audit.pass, false);
    assert.match(audit.detail, /first bad seq 2/);
  });

  it('is for auditors and admins', async () => {
    const { gw } = await gateway();
    for (const [who, status] of [
      ['agent-acme', 403],
      ['worker-acme', 403],
      ['approver-acme', 403],
      ['admin-acme', 200],
      ['auditor-acme', 200],
    ] as const) {
      const res = await gw.app.inject({
        method: 'GET',
        url: '/api/v1/governance/checklist',
        headers: as(who),
      });
      assert.equal(res.statusCode, status, `${who}: ${res.body}`);
    }
  });

  it('`warden doctor` prints the report and exits 1 when a check fails', async () => {
    const { gw, db } = await gateway();
    await runOne(gw);
    await gw.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${String((gw.app.server.address() as AddressInfo).port)}`;
    const healthy = await doctor('--url', url, '--key', 'auditor-acme');
    assert.equal(healthy.code, 0, healthy.stdout);
    assert.match(healthy.stdout, /PASS {2}Every dispatch path calls policy/);
    assert.match(healthy.stdout, /4 of 4 checks pass/);
    const handle = new Database(db);
    handle.exec('DROP TRIGGER audit_no_delete');
    handle.exec('DELETE FROM audit WHERE seq = 3');
    handle.close();
    const broken = await doctor('--url', url, '--key', 'auditor-acme');
    assert.equal(broken.code, 1, broken.stdout);
    assert.match(broken.stdout, /FAIL {2}Audit data is queryable/);
    assert.match(broken.stdout, /3 of 4 checks pass/);
    const json = await doctor('--url', url, '--key', 'auditor-acme', '--json');
    assert.equal((JSON.parse(json.stdout) as { ok: boolean }).ok, false);
  });
});
