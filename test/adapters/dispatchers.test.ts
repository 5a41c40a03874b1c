/**
 * Both dispatcher adapters through the one conformance suite, the JetStream adapter's glob
 * translation, and the JetStream adapter across a restart of its own nats-server.
 *
 * The shared server (127.0.0.1:4222) serves other test runs too: every dispatcher here gets its
 * own stream and subject prefix, and every stream is deleted afterwards.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { JetStreamDispatcher } from '../../src/adapters/nats/jetstream-dispatcher.js';
import {
  consumerNameFor,
  filterSubjectFor,
  topicProblem,
} from '../../src/adapters/nats/subjects.js';
import { InProcessDispatcher } from '../../src/adapters/queue/in-process-dispatcher.js';
import { describeDispatcherConformance, sampleDispatch } from '../conformance/dispatcher.js';
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

const natsSkip = await serviceSkip('NATS', NATS_HOST, NATS_PORT);

describeDispatcherConformance('in-process', ({ ackWaitMs }) =>
  Promise.resolve(new InProcessDispatcher({ ackWaitMs })),
);

describe('JetStream', { skip: natsSkip }, () => {
  const streams: string[] = [];
  after(async () => {
    await deleteStreams(NATS_URL, streams);
  });

  describeDispatcherConformance('NATS JetStream', async ({ ackWaitMs }) => {
    const names = uniqueNames();
    streams.push(names.stream);
    return JetStreamDispatcher.connect({ servers: NATS_URL, ...names, ackWaitMs });
  });

  it('rejects a topic that is not a NATS subject, with the reason', async () => {
    const names = uniqueNames();
    streams.push(names.stream);
    const dispatcher = await JetStreamDispatcher.connect({ servers: NATS_URL, ...names });
    try {
      for (const topic of ['a..b', '.a', 'a.', 'a b']) {
        await assert.rejects(
          dispatcher.publish(sampleDispatch(topic)),
          new RegExp(`cannot publish to topic "${topic}".*segments`),
        );
      }
      await assert.rejects(
        dispatcher.receive({ topics: ['a b'], max: 1, wait_ms: 0 }),
        /topic glob uses/,
      );
      assert.deepEqual(await dispatcher.receive({ topics: [], max: 1, wait_ms: 0 }), []);
    } finally {
      await dispatcher.close();
    }
  });

  it('brings an existing stream up to date rather than failing', async () => {
    const names = uniqueNames();
    streams.push(names.stream);
    const first = await JetStreamDispatcher.connect({ servers: NATS_URL, ...names });
    await first.close();
    const second = await JetStreamDispatcher.connect({
      servers: NATS_URL,
      ...names,
      dedupWindowMs: 60_000,
    });
    await second.close();
    const nc = await connect({ servers: NATS_URL });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(names.stream);
      assert.equal(info.config.duplicate_window, 60_000 * 1_000_000);
      assert.deepEqual(info.config.subjects, [`${names.subjectPrefix}.>`]);
    } finally {
      await nc.close();
    }
  });
});

describe('JetStream glob translation', () => {
  const filter = (...globs: string[]): string => filterSubjectFor('p', globs);

  it('maps `*` to `*` and a `**` to `>` from its segment on', () => {
    assert.equal(filter('a.b'), 'p.a.b');
    assert.equal(filter('a.*'), 'p.a.*');
    assert.equal(filter('a.**'), 'p.a.>');
    assert.equal(filter('a.**.z'), 'p.a.>');
    assert.equal(filter('a.b**'), 'p.a.>');
    assert.equal(filter('**'), 'p.>');
    assert.equal(filter('run*.x'), 'p.*.x');
  });

  it('covers several globs with the narrowest one filter', () => {
    assert.equal(filter('a.b', 'a.c'), 'p.a.*');
    assert.equal(filter('a.b', 'a.b'), 'p.a.b');
    assert.equal(filter('a.x.**', 'b.x.**'), 'p.*.x.>');
    assert.equal(filter('a', 'a.b'), 'p.>');
    assert.equal(filter('a.b', 'a.c.d'), 'p.a.>');
    assert.equal(filter('a.*', 'b.**', 'c'), 'p.>');
  });

  it('names a consumer by its glob set, whatever the order or repeats', () => {
    assert.equal(consumerNameFor(['a.*', 'b']), consumerNameFor(['b', 'a.*', 'b']));
    assert.notEqual(consumerNameFor(['a.*']), consumerNameFor(['a.**']));
    assert.match(consumerNameFor(['a.*']), /^warden_[0-9a-f]{32}$/);
  });

  it('accepts exactly the topics that are NATS subjects', () => {
    assert.equal(topicProblem('job.mcp-bridge.write:v2.update_ticket'), null);
    for (const topic of ['', 'a..b', '.a', 'a.', 'a*', 'a>', 'a b', 'x'.repeat(257)])
      assert.notEqual(topicProblem(topic), null, topic);
  });
});

async function eventually(what: string, check: () => Promise<void>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`${what}: still failing after ${ms} ms`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe(
  'JetStream across a server restart',
  { skip: existsSync(NATS_SERVER) ? false : `${NATS_SERVER} not installed` },
  () => {
    it('keeps what it acknowledged, refuses while down, and works again unaided', async () => {
      const server = await OwnNatsServer.start();
      let dispatcher: JetStreamDispatcher | null = null;
      try {
        dispatcher = await JetStreamDispatcher.connect({
          servers: server.url,
          ...uniqueNames(),
          reconnectWaitMs: 100,
          requestTimeoutMs: 2_000,
        });
        const topics = ['restart.*'];
        // The consumer exists before the outage too, so its own state must survive it.
        assert.deepEqual(await dispatcher.receive({ topics, max: 10, wait_ms: 0 }), []);
        const before = [1, 2, 3].map(() => sampleDispatch('restart.job'));
        for (const message of before) await dispatcher.publish(message);

        // A receive waiting through the outage: the restarted server has forgotten its pull.
        const waiting = dispatcher.receive({ topics: ['late.*'], max: 1, wait_ms: 20_000 });
        await new Promise((resolve) => setTimeout(resolve, 100));

        await server.stop();
        await eventually('ping rejects while the server is down', async () => {
          await assert.rejects(dispatcher?.ping() ?? Promise.resolve());
        });
        const started = Date.now();
        await assert.rejects(dispatcher.publish(sampleDispatch('restart.job')), /not connected/);
        assert.ok(Date.now() - started < 1_000, 'a publish while down rejects at once');
        assert.deepEqual(await dispatcher.receive({ topics, max: 10, wait_ms: 200 }), []);

        await server.restart();
        await eventually(
          'ping resolves after the restart',
          () => dispatcher?.ping() ?? Promise.resolve(),
        );
        // Publishing the same ids again is de-duplicated across the restart too.
        for (const message of before) await dispatcher.publish(message);
        const received = await dispatcher.receive({ topics, max: 10, wait_ms: 2_000 });
        assert.deepEqual(
          received.map((delivery) => delivery.message.message_id),
          before.map((message) => message.message_id),
        );
        await Promise.all(received.map((delivery) => delivery.ack()));
        assert.deepEqual(await dispatcher.receive({ topics, max: 10, wait_ms: 300 }), []);

        const late = sampleDispatch('late.job');
        await dispatcher.publish(late);
        assert.deepEqual(
          (await waiting).map((delivery) => delivery.message.message_id),
          [late.message_id],
        );

        const after = sampleDispatch('restart.job');
        await dispatcher.publish(after);
        const next = await dispatcher.receive({ topics, max: 10, wait_ms: 2_000 });
        assert.deepEqual(
          next.map((delivery) => delivery.message.message_id),
          [after.message_id],
        );
      } finally {
        await dispatcher?.close();
        await server.dispose();
      }
    });
  },
);
