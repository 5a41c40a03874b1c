/**
 * The audit forwarder over real components: SQLite store files (reopened to stand for a
 * restart), the HTTP sink, and a real receiver on loopback that records what it got. The
 * guarantee under test: every event arrives in seq order, none is skipped, and a batch repeats
 * only after a crash between the receiver's 2xx and the cursor commit, or when two forwarders
 * race on one cursor, always under the same `Idempotency-Key`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { httpAuditSink } from '../../src/adapters/siem/http-sink.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { nativeSha256 } from '../../src/adapters/system/native-sha256.js';
import { systemClock } from '../../src/adapters/system/system-clock.js';
import { AuditForwarder } from '../../src/app/audit-forwarder.js';
import type { AuditForwarderDeps } from '../../src/app/audit-forwarder.js';
import { verifyChain } from '../../src/core/audit/chain.js';
import type { AuditSink } from '../../src/ports/audit-sink.js';
import type { Clock } from '../../src/ports/clock.js';
import { closedPort } from '../support/ports.js';
import { seqs, startReceiver } from '../support/siem-receiver.js';
import type { Receiver } from '../support/siem-receiver.js';

const CURSOR = 'siem';
const opened: SqliteStore[] = [];
const receivers: Receiver[] = [];
after(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
});

function databaseFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'warden-forwarder-')), 'w.db');
}

function openFile(path: string): SqliteStore {
  const store = new SqliteStore({ path });
  opened.push(store);
  return store;
}

async function receiver(port = 0): Promise<Receiver> {
  const r = await startReceiver(port);
  receivers.push(r);
  return r;
}

let appended = 0;
/** Appends `count` events of no job, as policy and key changes are. */
async function append(store: SqliteStore, count: number): Promise<void> {
  await store.appendAudit(
    Array.from({ length: count }, () => {
      appended++;
      return {
        at: new Date(Date.UTC(2026, 10, 21, 10, 0, 0, appended)).toISOString(),
        type: 'policy.activated',
        tenant_id: 'default',
        trace_id: `trace-${String(appended)}`,
        job_id: null,
        actor: 'admin',
        data: { n: appended },
      };
    }),
  );
}

/** A clock that moves only when told. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = Date.parse('2026-11-21T12:00:00.000Z');
  return {
    now: () => new Date(now).toISOString(),
    advance(ms) {
      now += ms;
    },
  };
}

function forwarder(
  store: SqliteStore,
  sink: AuditSink,
  options: Partial<Omit<AuditForwarderDeps, 'store' | 'sink'>> = {},
): AuditForwarder {
  return new AuditForwarder({ store, sink, clock: systemClock, cursor: CURSOR, ...options });
}

async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('audit forwarder', () => {
  it('delivers every event in order exactly once across a restart', async () => {
    const path = databaseFile();
    const r = await receiver();
    const sink = httpAuditSink({ url: r.url });
    const first = openFile(path);
    await append(first, 7);
    const pass = await forwarder(first, sink, { batchSize: 3 }).forwardOnce();
    assert.deepEqual(pass, { kind: 'caught_up', sent: 7, cursor: 7 });
    assert.deepEqual(
      r.accepted().map((b) => b.headers['x-warden-batch']),
      ['1-3', '4-6', '7-7'],
    );
    await first.close();

    const reopened = openFile(path);
    assert.equal(await reopened.auditCursor(CURSOR), 7, 'the cursor is durable');
    await append(reopened, 5);
    const again = await forwarder(reopened, sink, { batchSize: 3 }).forwardOnce();
    assert.deepEqual(again, { kind: 'caught_up', sent: 5, cursor: 12 });
    assert.deepEqual(r.acceptedSeqs(), seqs(12), 'each seq once, none missing, in order');
    const nothing = await forwarder(reopened, sink).forwardOnce();
    assert.deepEqual(nothing, { kind: 'caught_up', sent: 0, cursor: 12 });
    assert.equal(r.received.length, 5, 'caught up: no empty batch is sent');
  });

  it('sends valid JSON Lines whose events verify with the chain, with the headers', async () => {
    const r = await receiver();
    const store = openFile(databaseFile());
    await append(store, 9);
    const sink = httpAuditSink({ url: r.url, headers: { Authorization: 'Bearer t0ken' } });
    await forwarder(store, sink, { batchSize: 4 }).forwardOnce();
    for (const batch of r.received) {
      assert.equal(batch.headers['content-type'], 'application/x-ndjson');
      assert.equal(batch.headers.authorization, 'Bearer t0ken');
      const key = `${String(batch.events[0]?.seq)}-${String(batch.events.at(-1)?.seq)}`;
      assert.equal(batch.headers['x-warden-batch'], key);
      assert.equal(batch.headers['idempotency-key'], key);
      for (const line of batch.body.trimEnd().split('\n')) JSON.parse(line);
    }
    const events = r.accepted().flatMap((b) => b.events);
    assert.deepEqual(events, await store.queryAudit({ limit: 100 }), 'exactly as stored');
    assert.deepEqual(verifyChain(events, nativeSha256), {
      ok: true,
      count: 9,
      first_bad_seq: null,
      reason: 'chain intact',
    });
  });

  it('skips nothing through a 500, a hang past the timeout and a refused connection', async () => {
    const store = openFile(databaseFile());
    const down = await receiver();
    down.script(500, 'hang');
    const clock = manualClock();
    const failures: number[] = [];
    const errors: string[] = [];
    const fwd = forwarder(store, httpAuditSink({ url: down.url, timeoutMs: 200 }), {
      clock,
      batchSize: 4,
      monitor: {
        failed: (error, retryInMs) => {
          errors.push((error as Error).message);
          failures.push(retryInMs);
        },
      },
    });
    await append(store, 6);

    await assert.rejects(fwd.forwardOnce(), /batch 1-4: answered 500/);
    assert.equal(await store.auditCursor(CURSOR), 0);
    assert.deepEqual(await fwd.forwardOnce(), { kind: 'backing_off', retryInMs: 1000 });
    assert.equal(down.received.length, 1, 'nothing is tried while backing off');

    clock.advance(1000);
    await append(store, 2); // appended during the outage
    await assert.rejects(fwd.forwardOnce(), /batch 1-4: no answer within 200 ms/);
    assert.equal(await store.auditCursor(CURSOR), 0);

    const { port } = down;
    await down.close();
    clock.advance(2000);
    await assert.rejects(fwd.forwardOnce(), /ECONNREFUSED/);
    assert.equal(await store.auditCursor(CURSOR), 0);
    assert.deepEqual(failures, [1000, 2000, 4000]);
    assert.equal(fwd.consecutiveFailures, 3);

    const up = await receiver(port);
    clock.advance(4000);
    assert.deepEqual(await fwd.forwardOnce(), { kind: 'caught_up', sent: 8, cursor: 8 });
    assert.deepEqual(up.acceptedSeqs(), seqs(8));
    assert.equal(up.received[0]?.headers['idempotency-key'], '1-4', 'the retry is the same batch');
    assert.deepEqual(
      down.received.map((b) => b.headers['idempotency-key']),
      ['1-4', '1-4'],
    );
    assert.equal(fwd.consecutiveFailures, 0);
    assert.equal(errors.length, 3);
  });

  it('backs off exponentially: 1 s, doubling, capped at 60 s', async () => {
    const store = openFile(databaseFile());
    await append(store, 1);
    const clock = manualClock();
    const waits: number[] = [];
    const url = `http://127.0.0.1:${String(await closedPort())}/`;
    const fwd = forwarder(store, httpAuditSink({ url }), {
      clock,
      monitor: { failed: (_e, ms) => waits.push(ms) },
    });
    for (let i = 0; i < 9; i++) {
      await assert.rejects(fwd.forwardOnce());
      const wait = waits.at(-1) ?? 0;
      clock.advance(wait - 1);
      assert.equal((await fwd.forwardOnce()).kind, 'backing_off');
      clock.advance(1);
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });

  it('re-sends a batch accepted just before a crash, under the same key; nothing else', async () => {
    const path = databaseFile();
    const r = await receiver();
    const real = httpAuditSink({ url: r.url });
    // The process "dies" after the receiver's 2xx and before the cursor commit.
    const dying: AuditSink = {
      async send(batch, signal) {
        await real.send(batch, signal);
        throw new Error('process died before the cursor commit');
      },
    };
    const first = openFile(path);
    await append(first, 5);
    await assert.rejects(forwarder(first, dying).forwardOnce(), /process died/);
    assert.equal(await first.auditCursor(CURSOR), 0);
    await first.close();

    const reopened = openFile(path);
    const pass = await forwarder(reopened, real).forwardOnce();
    assert.deepEqual(pass, { kind: 'caught_up', sent: 5, cursor: 5 });
    assert.deepEqual(
      r.accepted().map((b) => b.headers['idempotency-key']),
      ['1-5', '1-5'],
    );
    assert.deepEqual(r.dedupedSeqs(), seqs(5), 'dropping repeats by key leaves each seq once');
  });

  it('two forwarders taking turns on one cursor never send a seq twice', async () => {
    const path = databaseFile();
    const r = await receiver();
    const sink = httpAuditSink({ url: r.url });
    // Two connections to one file, as two processes would have.
    const a = openFile(path);
    const b = openFile(path);
    const fa = forwarder(a, sink, { batchSize: 2 });
    const fb = forwarder(b, sink, { batchSize: 2 });
    await append(a, 4);
    assert.equal((await fa.forwardOnce()).kind, 'caught_up');
    await append(b, 3);
    assert.deepEqual(await fb.forwardOnce(), { kind: 'caught_up', sent: 3, cursor: 7 });
    await append(a, 2);
    assert.deepEqual(await fa.forwardOnce(), { kind: 'caught_up', sent: 2, cursor: 9 });
    assert.deepEqual(await fb.forwardOnce(), { kind: 'caught_up', sent: 0, cursor: 9 });
    assert.deepEqual(r.acceptedSeqs(), seqs(9));
  });

  it('two forwarders racing on one cursor: one batch may go twice (same key), one commit, no gap', async () => {
    const path = databaseFile();
    const r = await receiver();
    const sink = httpAuditSink({ url: r.url });
    const a = openFile(path);
    const b = openFile(path);
    await append(a, 5);
    const conflicts: number[] = [];
    const monitor = { conflict: (n: number) => conflicts.push(n) };
    const fa = forwarder(a, sink, { monitor });
    const fb = forwarder(b, sink, { monitor });
    // Both read the cursor before either hears back: the worst case of sharing a cursor.
    r.holdUntil(2);
    const [pa, pb] = await Promise.all([fa.forwardOnce(), fb.forwardOnce()]);
    assert.equal(r.received.length, 2);
    assert.deepEqual(
      r.received.map((x) => x.headers['idempotency-key']),
      ['1-5', '1-5'],
    );
    assert.deepEqual(
      [pa, pb].map((p) => (p.kind === 'backing_off' ? -1 : p.sent)).sort(),
      [0, 5],
      'exactly one of them committed the batch',
    );
    assert.deepEqual(conflicts, [5], 'the other lost the compare-and-set and did not re-send');
    assert.equal(await a.auditCursor(CURSOR), 5);
    assert.deepEqual(r.dedupedSeqs(), seqs(5));

    await append(b, 3);
    await fb.forwardOnce();
    await fa.forwardOnce();
    assert.deepEqual(r.dedupedSeqs(), seqs(8));
    assert.deepEqual(r.acceptedSeqs().slice(10), [6, 7, 8], 'after the race, each new seq once');
  });

  it('reports lag, and events pruned before they were forwarded as a gap', async () => {
    const store = openFile(databaseFile());
    const r = await receiver();
    await append(store, 6);
    const [third] = await store.queryAudit({ after_seq: 2, limit: 1 });
    assert.ok(third);
    await store.addCheckpoint({
      seq: 3,
      hash: third.hash,
      at: third.at,
      key_id: 'test',
      signature: 'unchecked-here',
    });
    await store.pruneAudit(3);
    const lags: number[] = [];
    const gaps: [number, number][] = [];
    const delivered: number[] = [];
    const pass = await forwarder(store, httpAuditSink({ url: r.url }), {
      batchSize: 1,
      monitor: {
        lag: (n) => lags.push(n),
        gap: (from, to) => gaps.push([from, to]),
        delivered: (n) => delivered.push(n),
      },
    }).forwardOnce();
    assert.deepEqual(pass, { kind: 'caught_up', sent: 3, cursor: 6 });
    assert.deepEqual(gaps, [[1, 3]]);
    assert.deepEqual(r.acceptedSeqs(), [4, 5, 6]);
    assert.deepEqual(lags, [2, 1, 0, 0]);
    assert.deepEqual(delivered, [1, 1, 1]);
  });

  it('run() forwards as events arrive, retries failures, and stops when aborted', async () => {
    const store = openFile(databaseFile());
    const r = await receiver();
    r.script(503, 503);
    const errors: unknown[] = [];
    const fwd = forwarder(store, httpAuditSink({ url: r.url }), {
      intervalMs: 10,
      backoff: { initialMs: 10, maxMs: 40 },
      onError: (error) => errors.push(error),
    });
    const controller = new AbortController();
    const running = fwd.run(controller.signal);
    await append(store, 5);
    await until(() => r.acceptedSeqs().length === 5, 'the first events');
    await append(store, 3);
    await until(() => r.acceptedSeqs().length === 8, 'the later events');
    controller.abort();
    await running;
    assert.deepEqual(r.acceptedSeqs(), seqs(8));
    assert.equal(errors.length, 2);
  });

  it('an abort during a send stops the pass without moving the cursor or counting a failure', async () => {
    const store = openFile(databaseFile());
    const r = await receiver();
    r.script('hang');
    await append(store, 2);
    const fwd = forwarder(store, httpAuditSink({ url: r.url, timeoutMs: 60_000 }));
    const controller = new AbortController();
    const pass = fwd.forwardOnce(controller.signal);
    await until(() => r.received.length === 1, 'the request');
    controller.abort();
    assert.deepEqual(await pass, { kind: 'stopped', sent: 0, cursor: 0 });
    assert.equal(fwd.consecutiveFailures, 0);
    assert.equal(await store.auditCursor(CURSOR), 0);
    assert.deepEqual(await fwd.forwardOnce(), { kind: 'caught_up', sent: 2, cursor: 2 });
  });

  it('refuses a batch size below 1 and an empty cursor name', () => {
    const store = openFile(':memory:');
    const sink = httpAuditSink({ url: 'http://127.0.0.1:1/' });
    assert.throws(() => forwarder(store, sink, { batchSize: 0 }), /batch size/);
    assert.throws(() => forwarder(store, sink, { cursor: '' }), /cursor name/);
  });
});
