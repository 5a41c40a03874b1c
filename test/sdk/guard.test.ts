/**
 * `guard()` of the inline client (§1, §11) against a gateway listening on loopback: an allowed
 * action runs and its output comes back as stored (redacted); a denied one never runs; an
 * approval is waited for, or given up on; an unreachable gateway fails closed or open.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { before, describe, it } from 'node:test';
import {
  createClient,
  GatewayUnavailable,
  GuardDenied,
  GuardTimeout,
} from '../../src/sdk/client.js';
import type { Client } from '../../src/sdk/client.js';
import { as } from '../support/http-server.js';
import type { TestGateway } from '../support/http-server.js';
import { closedPort } from '../support/ports.js';
import { AWS_KEY, listeningWorkGateway } from '../support/work-policy.js';
import { eventually } from '../support/worker-process.js';

interface Job {
  readonly job_id: string;
  readonly state: string;
  readonly job_hash: string;
  readonly topic: string;
}

describe('guard()', () => {
  let gw: TestGateway;
  let client: Client;

  before(async () => {
    const started = await listeningWorkGateway();
    gw = started.gw;
    client = createClient({ url: started.url, key: 'agent-acme' });
  });

  async function jobs(topic: string): Promise<Job[]> {
    const response = await gw.app.inject({
      method: 'GET',
      url: `/api/v1/jobs?topic=${topic}`,
      headers: as('auditor-acme'),
    });
    assert.equal(response.statusCode, 200, response.body);
    return response.json<{ items: Job[] }>().items;
  }

  it('runs an allowed action and returns its output as stored, redacted', async () => {
    let ran = 0;
    const output = await client.guard(
      { topic: 'job.inline.lookup', tenant_id: 'acme', payload: { id: 7 } },
      () => {
        ran++;
        return { id: 7, note: `key ${AWS_KEY}` };
      },
    );
    assert.equal(ran, 1);
    assert.equal(output.id, 7);
    assert.doesNotMatch(output.note, new RegExp(AWS_KEY));
    assert.match(output.note, /\[REDACTED:/);
    const [job] = await jobs('job.inline.lookup');
    assert.equal(job?.state, 'SUCCEEDED');
  });

  it('reports a failing action and rethrows its error', async () => {
    await assert.rejects(
      client.guard({ topic: 'job.inline.flaky', tenant_id: 'acme' }, () => {
        throw new Error('upstream said no');
      }),
      /upstream said no/,
    );
    const [job] = await jobs('job.inline.flaky');
    assert.equal(job?.state, 'FAILED');
  });

  it('never runs a denied action', async () => {
    let ran = false;
    const denied = await client
      .guard({ topic: 'job.inline.delete.user', tenant_id: 'acme', payload: { id: 1 } }, () => {
        ran = true;
      })
      .then(
        () => assert.fail('guard must throw'),
        (error: unknown) => error,
      );
    assert.ok(denied instanceof GuardDenied, String(denied));
    assert.equal(denied.state, 'DENIED');
    assert.equal(denied.decision.rule_id, 'no-deletes');
    assert.match(denied.message, /deletes are not allowed/);
    assert.equal(ran, false);
  });

  it('waits for an approver, then runs the action', async () => {
    let ran = false;
    const guarded = client.guard(
      { topic: 'job.deploy.web', tenant_id: 'acme', payload: { version: '1.2.3' } },
      () => {
        ran = true;
        return 'deployed';
      },
      { approvalTimeoutMs: 10_000 },
    );
    const pending = await eventually(
      async () => (await jobs('job.deploy.web')).find((j) => j.state === 'APPROVAL_REQUIRED'),
      'the deploy to wait for approval',
    );
    assert.equal(ran, false, 'nothing runs before the approval');
    const approved = await gw.app.inject({
      method: 'POST',
      url: `/api/v1/approvals/${pending.job_id}/approve`,
      headers: as('approver-acme'),
      payload: { note: 'ship it', job_hash: pending.job_hash },
    });
    assert.equal(approved.statusCode, 200, approved.body);
    assert.equal(await guarded, 'deployed');
    assert.equal(ran, true);
  });

  it('gives up on an approval that does not come, without running the action', async () => {
    let ran = false;
    await assert.rejects(
      client.guard(
        { topic: 'job.deploy.api', tenant_id: 'acme' },
        () => {
          ran = true;
        },
        { approvalTimeoutMs: 300 },
      ),
      GuardTimeout,
    );
    assert.equal(ran, false);
    const [job] = await jobs('job.deploy.api');
    assert.equal(job?.state, 'CANCELLED', 'the withdrawn request leaves the approval queue');
  });

  it('fails closed when the gateway is unreachable: the action does not run', async () => {
    const down = createClient({ url: `http://127.0.0.1:${String(await closedPort())}`, key: 'k' });
    let ran = false;
    await assert.rejects(
      down.guard({ topic: 'job.inline.lookup' }, () => {
        ran = true;
      }),
      GatewayUnavailable,
    );
    assert.equal(ran, false);
  });

  it('fails closed when the gateway does not decide within deadlineMs', async () => {
    // Accepts connections and never answers.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const slow = createClient({ url: `http://127.0.0.1:${String(port)}`, deadlineMs: 200 });
      let ran = false;
      const started = Date.now();
      await assert.rejects(
        slow.guard({ topic: 'job.inline.lookup' }, () => {
          ran = true;
        }),
        (error: unknown) => error instanceof GatewayUnavailable && /200 ms/.test(error.message),
      );
      assert.ok(Date.now() - started < 2000, 'the deadline bounds the wait');
      assert.equal(ran, false);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('fails open when configured: the action runs unguarded and the hook is told', async () => {
    const reasons: string[] = [];
    const down = createClient({
      url: `http://127.0.0.1:${String(await closedPort())}`,
      key: 'k',
      failMode: 'open',
      onFailOpen: (reason) => reasons.push(reason),
    });
    const output = await down.guard({ topic: 'job.inline.lookup' }, () => ({ raw: AWS_KEY }));
    assert.deepEqual(output, { raw: AWS_KEY });
    assert.equal(reasons.length, 1);
    assert.match(reasons[0] ?? '', /cannot reach the gateway/);
  });
});
