/**
 * §5 over HTTP: a failing notifier never blocks or loses the approval. With one webhook on a
 * closed port and one that accepts the connection and never answers, submit and approve answer
 * while the hanging delivery is still open, and `/metrics` counts exactly the dead webhook's
 * failed attempts: had either request waited for the hanging one, its timeout would have been
 * counted too (and the test's own timeout would end it first).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { webhookNotifier } from '../../src/adapters/notify/webhook.js';
import { testGateway } from '../support/http-server.js';
import { closedPort } from '../support/ports.js';

/** Longer than the test may run: a request that waited for the hanging webhook fails the test. */
const HANG_MS = 120_000;
const TEST_TIMEOUT_MS = 60_000;

describe('approval notifications over HTTP', () => {
  it(
    'a dead and a hanging webhook delay and fail neither submit nor approve, and are counted',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const received: string[] = [];
      const hanging = createServer((request) => {
        request.resume();
        request.on('end', () => received.push(request.url ?? ''));
      });
      await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
      after(() => {
        hanging.closeAllConnections();
        hanging.close();
      });
      const deadPort = await closedPort();
      const hangingPort = (hanging.address() as AddressInfo).port;

      const { app } = await testGateway({
        notifications: {
          notifiers: [
            webhookNotifier({ url: `http://127.0.0.1:${String(deadPort)}/dead` }),
            webhookNotifier({
              url: `http://127.0.0.1:${String(hangingPort)}/hang`,
              timeoutMs: HANG_MS,
            }),
          ],
          retry: { attempts: 3, baseDelayMs: 10 },
          closeDeadlineMs: 100,
        },
      });

      const submitted = await app.inject({
        method: 'POST',
        url: '/api/v1/jobs',
        payload: {
          topic: 'job.mcp-bridge.write.update_ticket',
          risk_tags: ['prod'],
          labels: { 'mcp.action': 'write' },
          payload: { ticket: 'T-1' },
        },
      });
      assert.equal(submitted.statusCode, 201);
      const { job_id, state } = submitted.json<{ job_id: string; state: string }>();
      assert.equal(state, 'APPROVAL_REQUIRED');

      // The hanging receiver has the notice and holds the connection open from here on.
      const deadline = Date.now() + 5000;
      while (received.length < 1 && Date.now() < deadline) await sleep(5);
      assert.deepEqual(received, ['/hang']);

      const approved = await app.inject({
        method: 'POST',
        url: `/api/v1/approvals/${job_id}/approve`,
        payload: { note: 'fine' },
      });
      assert.equal(approved.statusCode, 200);
      assert.equal(approved.json<{ status: string }>().status, 'APPROVED');
      const job = await app.inject({ url: `/api/v1/jobs/${job_id}` });
      assert.equal(job.json<{ state: string }>().state, 'QUEUED');

      // Two notices, three attempts each, on the dead webhook.
      let failures = 0;
      const counted = Date.now() + 5000;
      while (failures < 6 && Date.now() < counted) {
        const text = (await app.inject({ url: '/metrics' })).body;
        const match = /^warden_notification_failures_total\{channel="webhook"\} (\d+)$/m.exec(text);
        failures = Number(match?.[1] ?? 0);
        if (failures < 6) await sleep(10);
      }
      assert.ok(failures > 0);
      // Only the dead webhook's attempts: the hanging delivery is still open, never timed out.
      assert.equal(failures, 6);
    },
  );
});
