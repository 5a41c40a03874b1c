/**
 * Approval notifications over real components: the services over a real SQLite store, real
 * webhook and email notifiers, real receivers on loopback (answering, failing, hanging, or not
 * listening at all) and the Prometheus counters. What §5 asks: a failing notifier never blocks
 * or fails the approval, failures are retried with backoff and counted per channel, and the
 * work held for dead receivers is bounded.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPrometheusMetrics } from '../../src/adapters/metrics/prometheus.js';
import type { PrometheusMetrics } from '../../src/adapters/metrics/prometheus.js';
import { emailNotifier } from '../../src/adapters/notify/email.js';
import { webhookNotifier } from '../../src/adapters/notify/webhook.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { createRandomIds } from '../../src/adapters/system/random-ids.js';
import { nativeSha256 } from '../../src/adapters/system/native-sha256.js';
import { systemClock } from '../../src/adapters/system/system-clock.js';
import { DEV_PRINCIPAL } from '../../src/app/dev-authenticator.js';
import { Notifications } from '../../src/app/notifications.js';
import type { NotificationSettings } from '../../src/app/notifications.js';
import type { ApprovalRecord } from '../../src/core/approvals/approval.js';
import type { JobRecord } from '../../src/core/jobs/job.js';
import { createServices } from '../../src/main/services.js';
import type { Services } from '../../src/main/services.js';
import type { Notifier } from '../../src/ports/notifier.js';
import { seedSource } from '../support/http-server.js';
import { closedPort } from '../support/ports.js';

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

interface Hit {
  readonly at: number;
  readonly body: Record<string, unknown>;
}

/**
 * A webhook receiver; `answer(n)` gives the status of the n-th request (from 1), null to hang.
 */
async function receiver(answer: (n: number) => number | null) {
  const hits: Hit[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      hits.push({ at: performance.now(), body: JSON.parse(body) as Record<string, unknown> });
      const status = answer(hits.length);
      if (status !== null) response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${String(port)}/hook`, hits };
}

async function failures(metrics: PrometheusMetrics, channel: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric('warden_notification_failures_total');
  assert.ok(metric !== undefined);
  const { values } = await metric.get();
  return values.find((v) => v.labels['channel'] === channel)?.value ?? 0;
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The services over a fresh in-memory store, with notifications when `settings` are given. */
async function services(
  metrics: PrometheusMetrics,
  settings?: NotificationSettings,
): Promise<{ services: Services; store: SqliteStore }> {
  const store = new SqliteStore({ path: ':memory:' });
  const built = await createServices({
    store,
    clock: systemClock,
    ids: createRandomIds(),
    sha256: nativeSha256,
    metrics,
    policy: { source: seedSource, file: 'policy.yaml', author: 'system' },
    ...(settings === undefined ? {} : { notifications: settings }),
  });
  closers.push(async () => {
    await built.notifications?.close();
    await store.close();
  });
  return { services: built, store };
}

const HIGH_RISK = {
  topic: 'job.mcp-bridge.write.update_ticket',
  tenant_id: 'default',
  risk_tags: ['prod'],
  labels: { 'mcp.action': 'write' },
  payload: { ticket: 'T-1', status: 'closed' },
};

/** A real job waiting for approval and its approval record, from a real submit. */
async function pendingApproval(): Promise<{
  job: JobRecord;
  approval: ApprovalRecord;
  store: SqliteStore;
}> {
  const { services: built, store } = await services(
    createPrometheusMetrics({ defaultMetrics: false }),
  );
  const { job } = await built.jobs.submit(HIGH_RISK, DEV_PRINCIPAL);
  assert.equal(job.state, 'APPROVAL_REQUIRED');
  const approval = await store.getApproval(job.job_id);
  assert.ok(approval !== null);
  return { job, approval, store };
}

function notifications(
  store: SqliteStore,
  metrics: PrometheusMetrics,
  settings: NotificationSettings,
): Notifications {
  const created = new Notifications({ ...settings, store, metrics });
  closers.push(() => created.close());
  return created;
}

describe('notifications through the services', () => {
  it('a new approval and its resolution each reach the webhook, with the payload and links', async () => {
    const hook = await receiver(() => 204);
    const metrics = createPrometheusMetrics({ defaultMetrics: false });
    const { services: built } = await services(metrics, {
      notifiers: [webhookNotifier({ url: hook.url })],
      publicUrl: 'https://warden.example.com',
    });
    const { job } = await built.jobs.submit(HIGH_RISK, DEV_PRINCIPAL);
    await until('the requested notice', () => hook.hits.length === 1);
    await built.approvals.resolve(job.job_id, DEV_PRINCIPAL, 'approve', 'looks right');
    await until('the resolved notice', () => hook.hits.length === 2);
    const [requested, resolved] = hook.hits.map((h) => h.body);
    assert.ok(requested !== undefined && resolved !== undefined);
    assert.equal(requested['event'], 'approval.requested');
    assert.equal(requested['status'], 'PENDING');
    assert.equal(resolved['event'], 'approval.resolved');
    assert.equal(resolved['status'], 'APPROVED');
    for (const body of [requested, resolved]) {
      assert.equal(body['job_id'], job.job_id);
      assert.deepEqual((body['job'] as { payload: unknown }).payload, HIGH_RISK.payload);
      assert.equal(
        (body['links'] as { view: string }).view,
        `https://warden.example.com/ui/approvals/${job.job_id}`,
      );
    }
    assert.equal(await failures(metrics, 'webhook'), 0);
  });
});

describe('Notifications', () => {
  it('retries a failing delivery with exponential backoff until the receiver accepts it', async () => {
    const { job, approval, store } = await pendingApproval();
    const hook = await receiver((n) => (n <= 2 ? 500 : 204));
    const metrics = createPrometheusMetrics({ defaultMetrics: false });
    const reports: string[] = [];
    const notes = notifications(store, metrics, {
      notifiers: [webhookNotifier({ url: hook.url })],
      retry: { attempts: 5, baseDelayMs: 60 },
      onFailure: (message) => reports.push(message),
    });
    notes.requested(approval, job);
    await until('three attempts', () => hook.hits.length === 3);
    await until('the delivery to finish', () => notes.pending === 0);
    const [first, second, third] = hook.hits.map((h) => h.at);
    assert.ok(first !== undefined && second !== undefined && third !== undefined);
    // Waits of 60 ms, then 120 ms (timers may fire a little early or late, never much early).
    assert.ok(second - first >= 55, `first wait ${String(second - first)} ms`);
    assert.ok(third - second >= 115, `second wait ${String(third - second)} ms`);
    assert.equal(await failures(metrics, 'webhook'), 2);
    await sleep(300);
    assert.equal(hook.hits.length, 3, 'nothing is sent again once accepted');
    assert.deepEqual(reports, []);
  });

  it('gives up after the configured attempts, counting each one, and says so once', async () => {
    const { job, approval, store } = await pendingApproval();
    const hook = await receiver(() => 503);
    const metrics = createPrometheusMetrics({ defaultMetrics: false });
    const reports: string[] = [];
    const notes = notifications(store, metrics, {
      notifiers: [webhookNotifier({ url: hook.url })],
      retry: { attempts: 3, baseDelayMs: 5 },
      onFailure: (message) => reports.push(message),
    });
    notes.requested(approval, job);
    await until('the delivery to end', () => hook.hits.length === 3 && notes.pending === 0);
    await sleep(100);
    assert.equal(hook.hits.length, 3);
    assert.equal(await failures(metrics, 'webhook'), 3);
    assert.equal(reports.length, 1);
    assert.match(
      reports[0] ?? '',
      /webhook notification approval\.requested for job .* failed after 3 attempt/,
    );
    assert.match(reports[0] ?? '', /answered 503/);
  });

  it('counts failures per channel', async () => {
    const { job, approval, store } = await pendingApproval();
    const port = await closedPort();
    const metrics = createPrometheusMetrics({ defaultMetrics: false });
    const notes = notifications(store, metrics, {
      notifiers: [
        webhookNotifier({ url: `http://127.0.0.1:${String(port)}/` }),
        webhookNotifier({ url: `http://127.0.0.1:${String(port)}/other` }),
        emailNotifier({ host: '127.0.0.1', port, from: 'w@example.com', to: ['o@example.com'] }),
      ],
      retry: { attempts: 2, baseDelayMs: 5 },
    });
    notes.resolved({ ...approval, status: 'REJECTED', closed_reason: 'rejected by x' });
    notes.requested(approval, job);
    await until('every delivery to end', () => notes.pending === 0);
    assert.equal(await failures(metrics, 'webhook'), 8);
    assert.equal(await failures(metrics, 'email'), 4);
  });

  it('requested() and resolved() return at once, before any notifier runs, whatever the receivers do', async () => {
    const { job, approval, store } = await pendingApproval();
    const hanging = await receiver(() => null);
    const port = await closedPort();
    const metrics = createPrometheusMetrics({ defaultMetrics: false });
    let calls = 0;
    const throwing: Notifier = {
      channel: 'webhook',
      deliver: () => {
        calls += 1;
        throw new Error('broken notifier');
      },
    };
    const notes = notifications(store, metrics, {
      notifiers: [
        webhookNotifier({ url: hanging.url, timeoutMs: 60_000 }),
        webhookNotifier({ url: `http://127.0.0.1:${String(port)}/` }),
        throwing,
      ],
      retry: { attempts: 1, baseDelayMs: 1 },
      closeDeadlineMs: 50,
    });
    notes.requested(approval, job);
    notes.resolved({ ...approval, status: 'APPROVED', closed_reason: 'approved by x' });
    assert.equal(calls, 0, 'no notifier code runs inside the caller');
    assert.equal(notes.pending, 6);
    // The refusing and the throwing notifiers fail; the hanging one holds its two deliveries.
    await until('the failing deliveries to end', () => notes.pending === 2);
    assert.equal(calls, 2);
    assert.equal(await failures(metrics, 'webhook'), 4);
    await until('the hanging receiver to be reached', () => hanging.hits.length === 2);
    // close() does not wait for a receiver that never answers beyond its deadline: had it
    // waited for the hanging deliveries' 60 s timeout, their failures would be counted too.
    await notes.close();
    assert.equal(await failures(metrics, 'webhook'), 4);
  });

  it('bounds the deliveries in flight, counting each one refused as a failure', async () => {
    const { job, approval, store } = await pendingApproval();
    const hanging = await receiver(() => null);
    const metrics = createPrometheusMetrics({ defaultMetrics: false });
    const reports: string[] = [];
    const notes = notifications(store, metrics, {
      notifiers: [webhookNotifier({ url: hanging.url, timeoutMs: 60_000 })],
      maxInFlight: 2,
      closeDeadlineMs: 50,
      onFailure: (message) => reports.push(message),
    });
    for (let i = 0; i < 5; i++) notes.requested(approval, job);
    // Refusals are decided and counted at once, in the caller's turn.
    assert.equal(notes.pending, 2);
    assert.equal(await failures(metrics, 'webhook'), 3);
    assert.equal(reports.length, 3);
    assert.match(reports[0] ?? '', /refused: 2 deliveries already in flight/);
    await until('the admitted deliveries to arrive', () => hanging.hits.length === 2);
    await sleep(50);
    assert.equal(hanging.hits.length, 2);
  });

  it('close() stops waiting retries and sends nothing afterwards', async () => {
    const { job, approval, store } = await pendingApproval();
    const hook = await receiver(() => 500);
    const metrics = createPrometheusMetrics({ defaultMetrics: false });
    const reports: string[] = [];
    const notes = notifications(store, metrics, {
      notifiers: [webhookNotifier({ url: hook.url })],
      retry: { attempts: 5, baseDelayMs: 60_000 },
      onFailure: (message) => reports.push(message),
    });
    notes.requested(approval, job);
    await until('the first attempt to fail', () => hook.hits.length === 1);
    await until(
      'the failure to be counted',
      async () => (await failures(metrics, 'webhook')) === 1,
    );
    assert.equal(notes.pending, 1, 'the delivery waits for its retry');
    // Had close() waited for the 60 s retry, the receiver would have been hit twice.
    await notes.close();
    assert.equal(hook.hits.length, 1);
    assert.equal(notes.pending, 0);
    assert.match(reports.join('\n'), /1 notification\(s\) dropped at shutdown/);
    notes.requested(approval, job);
    await sleep(50);
    assert.equal(hook.hits.length, 1);
  });
});
