/**
 * The dispatcher conformance suite: what every Dispatcher adapter must do, written against the
 * port only. An adapter's test file calls `describeDispatcherConformance` with a factory for a
 * fresh, empty dispatcher; the suite closes every dispatcher it creates.
 *
 * Adapters may differ where the port lets them: receivers with different glob sets may each see
 * a message, so no test here asserts how a message is shared between different glob sets.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { JobRecord } from '../../src/core/jobs/job.js';
import type { Delivery, DispatchMessage, Dispatcher } from '../../src/ports/dispatcher.js';
import { sampleJob } from './store.js';

export type DispatcherFactory = (options: { ackWaitMs: number }) => Promise<Dispatcher>;

/** Long enough that no delivery in a test comes back unless the test means it to. */
const LONG_ACK_WAIT_MS = 30_000;
/** Short enough to watch a redelivery happen. */
const SHORT_ACK_WAIT_MS = 400;
const PUBLISHED_AT = '2026-11-21T10:00:00.000Z';

/** A dispatch of a queued job on `topic`, with a payload and constraints to carry intact. */
export function sampleDispatch(topic: string, job: Partial<JobRecord> = {}): DispatchMessage {
  const record = sampleJob({
    topic,
    state: 'QUEUED',
    constraints: { max_runtime_sec: 30, allowed_paths: ['/srv/tickets/**'], redact_output: true },
    ...job,
  });
  return {
    message_id: `${record.job_id}.${record.attempt}`,
    job: record,
    published_at: PUBLISHED_AT,
  };
}

const topicsOf = (deliveries: readonly Delivery[]): string[] =>
  deliveries.map((delivery) => delivery.message.job.topic).sort();

const idsOf = (deliveries: readonly Delivery[]): string[] =>
  deliveries.map((delivery) => delivery.message.message_id);

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

async function ackAll(deliveries: readonly Delivery[]): Promise<void> {
  await Promise.all(deliveries.map((delivery) => delivery.ack()));
}

export function describeDispatcherConformance(name: string, create: DispatcherFactory): void {
  describe(`Dispatcher conformance: ${name}`, () => {
    const open: Dispatcher[] = [];

    async function fresh(ackWaitMs = LONG_ACK_WAIT_MS): Promise<Dispatcher> {
      const dispatcher = await create({ ackWaitMs });
      open.push(dispatcher);
      return dispatcher;
    }

    async function publishAll(dispatcher: Dispatcher, topics: readonly string[]): Promise<void> {
      for (const topic of topics) await dispatcher.publish(sampleDispatch(topic));
    }

    afterEach(async () => {
      await Promise.all(open.splice(0).map((dispatcher) => dispatcher.close()));
    });

    it('delivers the message it was given, job payload and constraints intact', async () => {
      const dispatcher = await fresh();
      const message = sampleDispatch('job.tickets.update', {
        payload: { ticket: 42, fields: { status: 'closed', tags: ['a', 'b'] }, note: null },
        labels: { 'mcp.action': 'write', team: 'support' },
        attempt: 2,
      });
      await dispatcher.publish(message);
      const [delivery, ...rest] = await dispatcher.receive({
        topics: ['job.**'],
        max: 10,
        wait_ms: 0,
      });
      assert.equal(rest.length, 0);
      assert.ok(delivery);
      assert.deepEqual(delivery.message, message);
      await delivery.ack();
    });

    describe('topic globs', () => {
      it('`*` matches exactly one segment', async () => {
        const dispatcher = await fresh();
        await publishAll(dispatcher, ['a.b', 'a.b.c', 'x.b', 'a']);
        const got = await dispatcher.receive({ topics: ['a.*'], max: 10, wait_ms: 0 });
        assert.deepEqual(topicsOf(got), ['a.b']);
      });

      it('a trailing `**` matches one segment or more', async () => {
        const dispatcher = await fresh();
        await publishAll(dispatcher, ['a.b', 'a.b.c', 'ab.c', 'x.a.b', 'a']);
        const got = await dispatcher.receive({ topics: ['a.**'], max: 10, wait_ms: 0 });
        assert.deepEqual(topicsOf(got), ['a.b', 'a.b.c']);
      });

      it('takes a message matching any of several globs', async () => {
        const dispatcher = await fresh();
        await publishAll(dispatcher, ['a.x', 'a.x.y', 'b.q.r', 'c', 'c.d', 'd']);
        const got = await dispatcher.receive({ topics: ['a.*', 'b.**', 'c'], max: 10, wait_ms: 0 });
        assert.deepEqual(topicsOf(got), ['a.x', 'b.q.r', 'c']);
      });

      it('honours `**` inside a glob and `*` inside a segment', async () => {
        const dispatcher = await fresh();
        await publishAll(dispatcher, ['a.b.z', 'a.b.c.z', 'a.z', 'a.b', 'j.run-1', 'j.walk']);
        const inner = await dispatcher.receive({ topics: ['a.**.z'], max: 10, wait_ms: 0 });
        assert.deepEqual(topicsOf(inner), ['a.b.c.z', 'a.b.z']);
        const partial = await dispatcher.receive({ topics: ['j.run*'], max: 10, wait_ms: 0 });
        assert.deepEqual(topicsOf(partial), ['j.run-1']);
      });

      it('a message one receiver passes over is still there for another', async () => {
        const dispatcher = await fresh();
        await publishAll(dispatcher, ['a.b']);
        assert.deepEqual(await dispatcher.receive({ topics: ['a.**.z'], max: 10, wait_ms: 0 }), []);
        const got = await dispatcher.receive({ topics: ['a.*'], max: 10, wait_ms: 0 });
        assert.deepEqual(topicsOf(got), ['a.b']);
      });
    });

    it('answers at most `max` deliveries, and the rest on the next receive', async () => {
      const dispatcher = await fresh();
      await publishAll(dispatcher, ['t.a', 't.a', 't.a', 't.a', 't.a']);
      const first = await dispatcher.receive({ topics: ['t.a'], max: 2, wait_ms: 0 });
      assert.equal(first.length, 2);
      const rest = await dispatcher.receive({ topics: ['t.a'], max: 10, wait_ms: 0 });
      assert.equal(rest.length, 3);
      assert.equal(new Set([...idsOf(first), ...idsOf(rest)]).size, 5);
      assert.deepEqual(await dispatcher.receive({ topics: ['t.a'], max: 0, wait_ms: 0 }), []);
    });

    it('delivers a message published while a receiver waits, without waiting out the wait', async () => {
      const dispatcher = await fresh();
      const started = Date.now();
      const waiting = dispatcher.receive({ topics: ['t.*'], max: 5, wait_ms: 5_000 });
      await sleep(200);
      const message = sampleDispatch('t.late');
      await dispatcher.publish(message);
      const got = await waiting;
      assert.deepEqual(idsOf(got), [message.message_id]);
      assert.ok(Date.now() - started < 4_000, 'answered as soon as the message was there');
    });

    it('answers [] when the wait ends with nothing to deliver', async () => {
      const dispatcher = await fresh();
      await publishAll(dispatcher, ['other.topic']);
      const started = Date.now();
      assert.deepEqual(await dispatcher.receive({ topics: ['t.*'], max: 5, wait_ms: 300 }), []);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 280, `waited ${elapsed} ms of 300`);
      assert.ok(elapsed < 3_000, `waited ${elapsed} ms of 300`);
    });

    it('stops waiting when the signal aborts, and loses nothing to the aborted wait', async () => {
      const dispatcher = await fresh();
      const controller = new AbortController();
      const started = Date.now();
      const waiting = dispatcher.receive({
        topics: ['t.*'],
        max: 5,
        wait_ms: 10_000,
        signal: controller.signal,
      });
      await sleep(100);
      controller.abort();
      assert.deepEqual(await waiting, []);
      assert.ok(Date.now() - started < 2_000, 'the abort ended the wait');

      const already = dispatcher.receive({
        topics: ['t.*'],
        max: 5,
        wait_ms: 10_000,
        signal: AbortSignal.abort(),
      });
      assert.deepEqual(await already, []);

      const message = sampleDispatch('t.after-abort');
      await dispatcher.publish(message);
      const got = await dispatcher.receive({ topics: ['t.*'], max: 5, wait_ms: 3_000 });
      assert.deepEqual(idsOf(got), [message.message_id]);
    });

    describe('de-duplication', () => {
      it('delivers a message id published twice once', async () => {
        const dispatcher = await fresh();
        const message = sampleDispatch('t.dup');
        await dispatcher.publish(message);
        await dispatcher.publish({ ...message, published_at: '2026-11-21T10:00:05.000Z' });
        const got = await dispatcher.receive({ topics: ['t.*'], max: 10, wait_ms: 0 });
        assert.deepEqual(idsOf(got), [message.message_id]);
        assert.equal(got[0]?.message.published_at, message.published_at, 'the first one wins');
        await ackAll(got);
        assert.deepEqual(await dispatcher.receive({ topics: ['t.*'], max: 10, wait_ms: 200 }), []);
      });

      it('delivers two ids for the same job twice', async () => {
        const dispatcher = await fresh();
        const first = sampleDispatch('t.retry');
        const second = { ...first, message_id: `${first.job.job_id}.1` };
        await dispatcher.publish(first);
        await dispatcher.publish(second);
        const got = await dispatcher.receive({ topics: ['t.*'], max: 10, wait_ms: 0 });
        assert.deepEqual(idsOf(got), [first.message_id, second.message_id]);
      });
    });

    describe('acknowledgement', () => {
      it('never delivers an acknowledged message again', async () => {
        const dispatcher = await fresh(SHORT_ACK_WAIT_MS);
        await publishAll(dispatcher, ['t.ack']);
        await ackAll(await dispatcher.receive({ topics: ['t.*'], max: 10, wait_ms: 0 }));
        const later = await dispatcher.receive({
          topics: ['t.*'],
          max: 10,
          wait_ms: SHORT_ACK_WAIT_MS * 3,
        });
        assert.deepEqual(later, []);
      });

      it('delivers a released message again at once', async () => {
        const dispatcher = await fresh();
        const message = sampleDispatch('t.release');
        await dispatcher.publish(message);
        const [first] = await dispatcher.receive({ topics: ['t.*'], max: 10, wait_ms: 0 });
        await first?.release();
        const again = await dispatcher.receive({ topics: ['t.*'], max: 10, wait_ms: 2_000 });
        assert.deepEqual(idsOf(again), [message.message_id]);
      });

      it('delivers a message released with a delay no sooner than the delay', async () => {
        const dispatcher = await fresh();
        const message = sampleDispatch('t.later');
        await dispatcher.publish(message);
        const [first] = await dispatcher.receive({ topics: ['t.*'], max: 10, wait_ms: 0 });
        const released = Date.now();
        await first?.release(600);
        assert.deepEqual(await dispatcher.receive({ topics: ['t.*'], max: 10, wait_ms: 0 }), []);
        const again = await dispatcher.receive({ topics: ['t.*'], max: 10, wait_ms: 3_000 });
        assert.deepEqual(idsOf(again), [message.message_id]);
        const elapsed = Date.now() - released;
        assert.ok(elapsed >= 550, `delivered again after ${elapsed} ms of 600`);
      });

      it('delivers an unsettled message again after ack_wait', async () => {
        const dispatcher = await fresh(SHORT_ACK_WAIT_MS);
        const message = sampleDispatch('t.forgotten');
        await dispatcher.publish(message);
        const first = await dispatcher.receive({ topics: ['t.*'], max: 10, wait_ms: 0 });
        const delivered = Date.now();
        assert.deepEqual(idsOf(first), [message.message_id]);
        assert.deepEqual(await dispatcher.receive({ topics: ['t.*'], max: 10, wait_ms: 0 }), []);
        const again = await dispatcher.receive({ topics: ['t.*'], max: 10, wait_ms: 3_000 });
        assert.deepEqual(idsOf(again), [message.message_id]);
        const elapsed = Date.now() - delivered;
        assert.ok(elapsed >= SHORT_ACK_WAIT_MS - 50, `redelivered after ${elapsed} ms`);
        await ackAll(again);
      });
    });

    it('gives receivers with the same globs distinct messages', async () => {
      const dispatcher = await fresh();
      const waiting = [
        dispatcher.receive({ topics: ['t.*', 'u.*'], max: 1, wait_ms: 3_000 }),
        dispatcher.receive({ topics: ['u.*', 't.*'], max: 1, wait_ms: 3_000 }),
      ];
      await sleep(200);
      await publishAll(dispatcher, ['t.one', 't.two']);
      const got = await Promise.all(waiting);
      assert.deepEqual(
        got.map((deliveries) => deliveries.length),
        [1, 1],
      );
      assert.deepEqual(topicsOf(got.flat()), ['t.one', 't.two']);
    });

    it('delivers the oldest message of a topic first', async () => {
      const dispatcher = await fresh();
      const messages = [1, 2, 3, 4].map(() => sampleDispatch('t.fifo'));
      for (const message of messages) await dispatcher.publish(message);
      const got = await dispatcher.receive({ topics: ['t.fifo'], max: 10, wait_ms: 0 });
      assert.deepEqual(
        idsOf(got),
        messages.map((message) => message.message_id),
      );
    });

    it('closes: ends pending waits, then refuses to publish or ping', async () => {
      const dispatcher = await fresh();
      await dispatcher.ping();
      const waiting = dispatcher.receive({ topics: ['t.*'], max: 1, wait_ms: 10_000 });
      await sleep(100);
      const started = Date.now();
      await dispatcher.close();
      assert.deepEqual(await waiting, []);
      assert.ok(Date.now() - started < 2_000, 'close ended the wait');
      await assert.rejects(dispatcher.publish(sampleDispatch('t.closed')), /closed/);
      await assert.rejects(dispatcher.ping());
      assert.deepEqual(await dispatcher.receive({ topics: ['t.*'], max: 1, wait_ms: 0 }), []);
    });
  });
}
