/**
 * Fail modes (§11), one component at a time, each fault injected through the real adapters of a
 * gateway started from a config file: a policy whose condition would run for minutes, an audit
 * table that refuses inserts, a database locked by another process, a notifier endpoint that
 * never answers. Closed (the default) refuses the action; open lets it through, and every
 * fail-open is counted in `warden_fail_open_total{component}` and audited once the trail takes
 * writes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parseServerConfig } from '../../src/main/config.js';
import { startGateway } from '../../src/main/gateway.js';
import type { Gateway } from '../../src/main/gateway.js';
import { parseStoreLocation } from '../../src/main/store-location.js';
import { eventually } from '../support/worker-process.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-fail-modes-'));

/** Cubic in the list: about 27 million steps at 300 items, far past any deadline. */
const NESTED = 'payload.items.all(a, payload.items.all(b, payload.items.all(c, a + b + c != "")))';
const POLICY = `
version: v1
rules:
  - id: nested-scan
    match:
      topics: ['job.scan.*']
      when: '${NESTED}'
    decision: deny
    reason: every combination was checked
  - id: scanning-in-a-loop
    match:
      topics: ['job.text.*']
      when: 'payload.texts.exists(t, payload.texts.exists(u, re_matches(t, u + "(x|y)*z")))'
    decision: deny
  - id: prod-write
    match:
      topics: ['job.write.*']
    decision: require_approval
  - id: reads
    match:
      topics: ['job.read.*', 'job.scan.*', 'job.text.*']
    decision: allow
`;
const policyFile = join(dir, 'policy.yaml');
writeFileSync(policyFile, POLICY);

const opened: Gateway[] = [];
after(async () => {
  for (const gateway of opened) await gateway.close();
});

let counter = 0;
async function gateway(configText: string): Promise<{ gw: Gateway; db: string }> {
  const db = join(dir, `gateway-${String(++counter)}.db`);
  const gw = await startGateway({
    policyFile,
    store: parseStoreLocation(`sqlite:${db}`),
    dev: true,
    watchPolicy: false,
    serverConfig: parseServerConfig(configText, 'warden.yaml'),
  });
  opened.push(gw);
  return { gw, db };
}

interface Submitted {
  readonly job_id: string;
  readonly state: string;
  readonly decision: { readonly type: string; readonly reason: string };
  readonly fail_open?: string;
}

async function submit(
  gw: Gateway,
  body: Record<string, unknown>,
): Promise<{ status: number; body: Submitted & { error?: { code: string } } }> {
  const res = await gw.server.inject({ method: 'POST', url: '/api/v1/jobs', payload: body });
  return { status: res.statusCode, body: res.json() };
}

async function failOpens(gw: Gateway, component: string): Promise<number> {
  const text = (await gw.server.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`warden_fail_open_total{component="${component}"}`));
  return Number(line?.split(' ').at(-1));
}

interface AuditItem {
  readonly data: { readonly component?: string; readonly reason?: string };
  readonly job_id: string | null;
}

async function auditOf(gw: Gateway, type: string): Promise<{ items: AuditItem[] }> {
  const res = await gw.server.inject({ method: 'GET', url: `/api/v1/audit?type=${type}` });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

/** The first `fail_open` event, once the gateway has appended it. */
async function firstFailOpen(gw: Gateway): Promise<AuditItem> {
  return eventually(
    async () => (await auditOf(gw, 'fail_open')).items[0],
    'the fail-open audit event',
  );
}

const items = (n: number): string[] => Array.from({ length: n }, (_, i) => `item-${String(i)}`);

describe('evaluation deadline', () => {
  it('closed: a condition that would run for minutes is cut off and the action denied, and the next evaluation is right', async () => {
    const { gw } = await gateway('evaluation: { deadline_ms: 50 }');
    const late = await submit(gw, { topic: 'job.scan.all', payload: { items: items(300) } });
    assert.equal(late.status, 201);
    assert.equal(late.body.decision.type, 'DENY');
    assert.match(late.body.decision.reason, /exceeded its 50 ms deadline; denied/);
    // The interrupted evaluation left nothing half-done: a small list is decided by the rule.
    const small = await submit(gw, { topic: 'job.scan.all', payload: { items: items(3) } });
    assert.equal(small.body.decision.type, 'DENY');
    assert.equal(small.body.decision.reason, 'every combination was checked');
    const blanks = await submit(gw, { topic: 'job.scan.all', payload: { items: ['', ''] } });
    assert.equal(blanks.body.decision.type, 'ALLOW', 'the condition is false for blank items');
    // Regex scanning inside comprehensions is under the same deadline.
    const texts = Array.from({ length: 150 }, (_, i) => `${'x'.repeat(300)}${String(i)}`);
    const scanned = await submit(gw, { topic: 'job.text.all', payload: { texts } });
    assert.equal(scanned.status, 201, JSON.stringify(scanned.body));
    assert.equal(scanned.body.decision.type, 'DENY');
    assert.match(scanned.body.decision.reason, /deadline/);
    assert.equal(await failOpens(gw, 'evaluation'), 0);
  });

  it('open: the late evaluation allows, counted and audited', async () => {
    const { gw } = await gateway(
      'evaluation: { deadline_ms: 50 }\nfail_modes: { evaluation: open }',
    );
    const late = await submit(gw, {
      topic: 'job.scan.all',
      tenant_id: 'default',
      payload: { items: items(300) },
    });
    assert.equal(late.body.decision.type, 'ALLOW');
    assert.match(late.body.decision.reason, /allowed because the evaluation fail mode is open/);
    assert.equal(await failOpens(gw, 'evaluation'), 1);
    const first = await firstFailOpen(gw);
    assert.equal(first.data.component, 'evaluation');
    assert.match(first.data.reason ?? '', /job\.scan\.all/);
  });
});

/** Makes every audit insert of the database file fail, as a full or broken audit table would. */
function breakAuditTable(db: string): () => void {
  const handle = new Database(db);
  handle.exec(
    "CREATE TRIGGER audit_broken BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit table is broken'); END",
  );
  return () => {
    handle.exec('DROP TRIGGER audit_broken');
    handle.close();
  };
}

describe('audit append failing', () => {
  it('closed: 503 WARDEN_AUDIT_UNAVAILABLE, nothing stored or dispatched, and it recovers', async () => {
    const { gw, db } = await gateway('');
    const repair = breakAuditTable(db);
    const refused = await submit(gw, { topic: 'job.read.x' });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error?.code, 'WARDEN_AUDIT_UNAVAILABLE');
    const jobs = await gw.server.inject({ method: 'GET', url: '/api/v1/jobs' });
    assert.deepEqual(jobs.json<{ items: unknown[] }>().items, []);
    const lease = await gw.server.inject({
      method: 'POST',
      url: '/api/v1/workers/lease',
      payload: { topics: ['job.read.*'] },
    });
    assert.equal(lease.statusCode, 200, lease.body);
    assert.deepEqual(lease.json<{ items: unknown[] }>().items, []);
    repair();
    const accepted = await submit(gw, { topic: 'job.read.x' });
    assert.equal(accepted.status, 201);
    assert.equal(await failOpens(gw, 'audit'), 0);
  });

  it('open: the job goes on without its events, counted, and audited once the trail recovers', async () => {
    const { gw, db } = await gateway('fail_modes: { audit: open }');
    const repair = breakAuditTable(db);
    const accepted = await submit(gw, { topic: 'job.read.x' });
    assert.equal(accepted.status, 201);
    assert.equal(accepted.body.state, 'QUEUED');
    assert.equal(await failOpens(gw, 'audit'), 1);
    assert.deepEqual((await auditOf(gw, 'fail_open')).items, []);
    repair();
    const first = await firstFailOpen(gw);
    assert.equal(first.data.component, 'audit');
    assert.match(first.data.reason ?? '', /audit table is broken/);
    const verify = await gw.server.inject({ method: 'GET', url: '/api/v1/audit/verify' });
    assert.equal(verify.json<{ ok: boolean }>().ok, true, verify.body);
  });
});

/** Another process holds the write lock, so every write of the gateway times out. */
function lockDatabase(db: string): () => void {
  const handle = new Database(db);
  handle.exec('BEGIN EXCLUSIVE');
  return () => {
    handle.exec('ROLLBACK');
    handle.close();
  };
}

describe('store unavailable', () => {
  it('closed: 503 WARDEN_STORE_UNAVAILABLE for every submit', async () => {
    const { gw, db } = await gateway('');
    const unlock = lockDatabase(db);
    try {
      const inline = await submit(gw, { topic: 'job.read.x', dispatch: 'inline' });
      assert.equal(inline.status, 503);
      assert.equal(inline.body.error?.code, 'WARDEN_STORE_UNAVAILABLE');
    } finally {
      unlock();
    }
    assert.equal(await failOpens(gw, 'store'), 0);
  });

  it('open: only an allowed inline job is answered, unrecorded, counted and later audited', async () => {
    const { gw, db } = await gateway('fail_modes: { store: open }');
    const unlock = lockDatabase(db);
    let inline;
    try {
      inline = await submit(gw, { topic: 'job.read.x', dispatch: 'inline' });
      // A bus job cannot be dispatched without the outbox; a held job cannot wait unrecorded.
      const bus = await submit(gw, { topic: 'job.read.x' });
      assert.equal(bus.status, 503);
      const held = await submit(gw, { topic: 'job.write.x', dispatch: 'inline' });
      assert.equal(held.status, 503);
    } finally {
      unlock();
    }
    assert.equal(inline.status, 201);
    assert.equal(inline.body.fail_open, 'store');
    assert.equal(inline.body.decision.type, 'ALLOW');
    assert.equal(await failOpens(gw, 'store'), 1);
    const stored = await gw.server.inject({
      method: 'GET',
      url: `/api/v1/jobs/${inline.body.job_id}`,
    });
    assert.equal(stored.statusCode, 404, 'nothing was recorded');
    const first = await firstFailOpen(gw);
    assert.equal(first.data.component, 'store');
    assert.equal(first.job_id, null, 'the job itself was never stored');
    assert.match(first.data.reason ?? '', new RegExp(inline.body.job_id));
  });
});

/** A webhook endpoint that accepts connections and never answers. */
async function hangingEndpoint(): Promise<{ url: string; server: Server }> {
  const server = createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/hook`, server };
}

function notifierConfig(url: string, mode?: string): string {
  return `
${mode === undefined ? '' : `fail_modes: { notifier: ${mode} }`}
notifications:
  retry: { attempts: 2, base_delay_ms: 10 }
  webhooks:
    - url: ${url}
      timeout_ms: 100
`;
}

describe('notifier down', () => {
  it('closed: an approval no approver could be told of is rejected, and the gateway stays responsive', async () => {
    const { url } = await hangingEndpoint();
    const { gw } = await gateway(notifierConfig(url));
    const held = await submit(gw, { topic: 'job.write.x' });
    assert.equal(held.body.state, 'APPROVAL_REQUIRED');
    // While the notifier hangs, other requests are answered.
    assert.equal((await submit(gw, { topic: 'job.read.x' })).status, 201);
    const job = await eventually(async () => {
      const res = await gw.server.inject({
        method: 'GET',
        url: `/api/v1/jobs/${held.body.job_id}`,
      });
      const view = res.json<{ state: string }>();
      return view.state === 'APPROVAL_REQUIRED' ? undefined : view;
    }, 'the approval to close');
    assert.equal(job.state, 'REJECTED');
    const events = (await auditOf(gw, 'approval.unannounced')).items;
    assert.equal(events.length, 1);
    assert.equal(await failOpens(gw, 'notifier'), 0);
  });

  it('open: the approval stays pending, counted and audited', async () => {
    const { url } = await hangingEndpoint();
    const { gw } = await gateway(notifierConfig(url, 'open'));
    const held = await submit(gw, { topic: 'job.write.x' });
    const first = await firstFailOpen(gw);
    assert.equal(first.data.component, 'notifier');
    assert.equal(first.job_id, held.body.job_id);
    assert.equal(await failOpens(gw, 'notifier'), 1);
    const res = await gw.server.inject({ method: 'GET', url: `/api/v1/jobs/${held.body.job_id}` });
    assert.equal(res.json<{ state: string }>().state, 'APPROVAL_REQUIRED');
  });
});
