/**
 * Exactly-once dispatch across restarts (§7), with each dispatcher adapter, through the real
 * services over a SQLite file:
 * - a gateway that committed jobs and stopped before publishing them: the next gateway on the
 *   same store publishes each once, even one that was published just before the stop;
 * - a gateway that published jobs no worker leased yet and stopped: the next one publishes them
 *   again, and workers lease each exactly once;
 * - NATS stopped mid-run: cleared jobs wait in the outbox, then dispatch once when it is back.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createPrometheusMetrics } from '../../src/adapters/metrics/prometheus.js';
import { JetStreamDispatcher } from '../../src/adapters/nats/jetstream-dispatcher.js';
import { InProcessDispatcher } from '../../src/adapters/queue/in-process-dispatcher.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { systemClock } from '../../src/adapters/system/system-clock.js';
import { messageId } from '../../src/app/outbox-relay.js';
import type { Principal } from '../../src/core/model/principal.js';
import { assembleGateway } from '../../src/main/services.js';
import type { Services } from '../../src/main/services.js';
import type { Dispatcher } from '../../src/ports/dispatcher.js';
import {
  deleteStreams,
  NATS_HOST,
  NATS_PORT,
  NATS_SERVER,
  NATS_URL,
  OwnNatsServer,
  uniqueNames,
} from '../support/nats.js';
import { serviceSkip } from '../support/services.js';

const POLICY = `
version: v1
default_decision: deny
rules:
  - id: exec
    match: { topics: ['job.agent.exec.**'] }
    decision: allow
    reason: allowed
`;
const AGENT: Principal = { id: 'agent-1', tenant: 'acme', roles: ['agent'] };
const WORKER: Principal = { id: 'worker-1', tenant: 'acme', roles: ['worker'] };

interface Running {
  readonly services: Services;
  stop(): Promise<void>;
}

/** The services over a store file and a dispatcher, as a gateway process would run them. */
async function start(dbPath: string, dispatcher: Dispatcher): Promise<Running> {
  const store = new SqliteStore({ path: dbPath });
  const { services, server } = await assembleGateway({
    store,
    clock: systemClock,
    metrics: createPrometheusMetrics({ defaultMetrics: false }),
    policy: { source: POLICY, file: 'policy.yaml', author: 'system' },
    dispatcher,
  });
  return {
    services,
    async stop() {
      services.changes.close();
      await server.close();
      await dispatcher.close();
      await store.close();
    },
  };
}

async function submitMany(services: Services, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { job } = await services.jobs.submit(
      { topic: `job.agent.exec.task${String(i)}`, tenant_id: 'acme', payload: { i } },
      AGENT,
    );
    assert.equal(job.state, 'QUEUED');
    ids.push(job.job_id);
  }
  return ids;
}

/** Every job a worker can lease now, until a wait of `waitSec` comes back empty. */
async function leaseAll(services: Services, waitSec = 1): Promise<string[]> {
  const leased: string[] = [];
  for (;;) {
    const batch = await services.work.lease(WORKER, {
      topics: ['job.agent.exec.**'],
      wait_sec: waitSec,
      max: 50,
      lease_sec: 30,
    });
    if (batch.length === 0) return leased;
    leased.push(...batch.map((item) => item.job.job_id));
  }
}

const sorted = (ids: readonly string[]): string[] => [...ids].sort();

function scenarios(name: string, dispatcher: () => Promise<Dispatcher>): void {
  describe(`dispatch across restarts: ${name}`, () => {
    it('publishes jobs committed before a stop once, a job published just before it too', async () => {
      const dbPath = join(mkdtempSync(join(tmpdir(), 'warden-dispatch-')), 'warden.db');
      const first = await start(dbPath, await dispatcher());
      const ids = await submitMany(first.services, 5);
      const published = await first.services.jobs.get(ids[0] ?? '', AGENT);
      // The stop came right after this publish, before the relay could record it.
      await first.services.dispatcher.publish({
        message_id: messageId(published),
        job: published,
        published_at: systemClock.now(),
      });
      await first.stop();

      const second = await start(dbPath, await dispatcher());
      try {
        assert.equal(await second.services.relay.publishPending(), 5);
        assert.equal(await second.services.relay.publishPending(), 0);
        const leased = await leaseAll(second.services);
        assert.deepEqual(sorted(leased), sorted(ids));
        for (const id of ids) {
          assert.equal((await second.services.jobs.get(id, AGENT)).state, 'RUNNING');
        }
      } finally {
        await second.stop();
      }
    });

    it('publishes again what was published but not leased before a stop; leased once', async () => {
      const dbPath = join(mkdtempSync(join(tmpdir(), 'warden-dispatch-')), 'warden.db');
      const first = await start(dbPath, await dispatcher());
      const ids = await submitMany(first.services, 4);
      assert.equal(await first.services.relay.publishPending(), 4);
      for (const id of ids) {
        assert.equal((await first.services.jobs.get(id, AGENT)).state, 'DISPATCHED');
      }
      await first.stop();

      const second = await start(dbPath, await dispatcher());
      try {
        assert.equal(await second.services.relay.republishUnleased(), 4);
        const leased = await leaseAll(second.services);
        assert.deepEqual(sorted(leased), sorted(ids));
        // Whatever copies a bus kept are stale now: nothing more is leased.
        assert.deepEqual(await second.services.relay.republishUnleased(), 0);
        assert.deepEqual(await leaseAll(second.services, 0), []);
      } finally {
        await second.stop();
      }
    });
  });
}

scenarios('in-process queue', () => Promise.resolve(new InProcessDispatcher()));

const natsSkip = await serviceSkip('NATS', NATS_HOST, NATS_PORT);
const streams: string[] = [];
after(async () => {
  if (natsSkip === false) await deleteStreams(NATS_URL, streams);
});

describe('on NATS JetStream', { skip: natsSkip }, () => {
  // One stream per scenario run, shared by the "before" and "after" gateway of that run.
  let names = uniqueNames();
  let uses = 0;
  scenarios('NATS JetStream', () => {
    if (uses++ % 2 === 0) {
      names = uniqueNames();
      streams.push(names.stream);
    }
    return JetStreamDispatcher.connect({ servers: NATS_URL, ...names });
  });
});

describe(
  'NATS stopped mid-run',
  { skip: existsSync(NATS_SERVER) ? false : `${NATS_SERVER} not installed` },
  () => {
    it('keeps cleared jobs in the outbox while NATS is down, then dispatches each once', async () => {
      const server = await OwnNatsServer.start();
      const dbPath = join(mkdtempSync(join(tmpdir(), 'warden-dispatch-')), 'warden.db');
      const running = await start(
        dbPath,
        await JetStreamDispatcher.connect({
          servers: server.url,
          ...uniqueNames(),
          reconnectWaitMs: 100,
          requestTimeoutMs: 2_000,
        }),
      );
      try {
        const before = await submitMany(running.services, 2);
        assert.equal(await running.services.relay.publishPending(), 2);
        await server.stop();
        const during = await submitMany(running.services, 3);
        // The bus refuses: nothing is lost, the jobs wait QUEUED in the outbox.
        assert.equal(await running.services.relay.publishPending(), 0);
        for (const id of during) {
          assert.equal((await running.services.jobs.get(id, AGENT)).state, 'QUEUED');
        }
        await server.restart();
        let published = 0;
        const deadline = Date.now() + 15_000;
        while (published < 3 && Date.now() < deadline) {
          published += await running.services.relay.publishPending();
          if (published < 3) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.equal(published, 3);
        const leased = await leaseAll(running.services);
        assert.deepEqual(sorted(leased), sorted([...before, ...during]));
      } finally {
        await running.stop();
        await server.dispose();
      }
    });
  },
);
