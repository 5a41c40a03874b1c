/**
 * The HTTP audit sink against a real receiver on loopback: the request (JSON Lines body,
 * headers, batch key), and every way a send fails (status, timeout, refused, redirect, abort)
 * without a configured secret in the message.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { httpAuditSink, jsonLines } from '../../src/adapters/siem/http-sink.js';
import { nativeSha256 } from '../../src/adapters/system/native-sha256.js';
import { sealEvents, verifyChain } from '../../src/core/audit/chain.js';
import type { AuditEvent } from '../../src/core/audit/chain.js';
import { batchKey } from '../../src/ports/audit-sink.js';
import { startReceiver } from '../support/siem-receiver.js';
import type { Receiver } from '../support/siem-receiver.js';
import { closedPort } from '../support/ports.js';

const TOKEN = 'Bearer s3cret-token';

function chain(count: number): AuditEvent[] {
  return sealEvents(
    null,
    Array.from({ length: count }, (_, i) => ({
      at: `2026-11-21T10:00:0${String(i % 10)}.000Z`,
      type: i % 2 === 0 ? 'job.decided' : 'job.state_changed',
      tenant_id: 'acme',
      trace_id: `trace-${String(i)}`,
      job_id: i % 3 === 0 ? null : `job-${String(i)}`,
      actor: 'dev',
      // Text that must survive the line format: a newline, quotes and non-ASCII.
      data: { i, note: 'line one\nline "two" — ü' },
    })),
    nativeSha256,
  );
}

const receivers: Receiver[] = [];
after(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});
async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

/** Asserts `promise` rejects with a message matching `pattern` and leaking no secret. */
async function rejectsWithout(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error) => {
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /s3cret|query-secret|ingest/);
    return true;
  });
}

describe('http audit sink', () => {
  it('POSTs the batch as JSON Lines with its key and the configured headers', async () => {
    const r = await receiver();
    const events = chain(5);
    await httpAuditSink({ url: r.url, headers: { Authorization: TOKEN } }).send(events);
    assert.equal(r.received.length, 1);
    const [got] = r.received;
    assert.ok(got);
    assert.equal(got.headers['content-type'], 'application/x-ndjson');
    assert.equal(got.headers['idempotency-key'], '1-5');
    assert.equal(got.headers['x-warden-batch'], '1-5');
    assert.equal(got.headers.authorization, TOKEN);
    assert.equal(got.body, jsonLines(events));
    assert.ok(got.body.endsWith('\n'));
    assert.equal(got.body.split('\n').length, 6, 'one line per event, none split by the data');
    assert.deepEqual(got.events, events);
    assert.deepEqual(verifyChain(got.events, nativeSha256), {
      ok: true,
      count: 5,
      first_bad_seq: null,
      reason: 'chain intact',
    });
  });

  it('keeps its own Content-Type and batch headers over configured ones of the same name', async () => {
    const r = await receiver();
    const events = chain(3).slice(1);
    await httpAuditSink({
      url: r.url,
      headers: { 'Content-Type': 'text/plain', 'Idempotency-Key': 'fixed', 'X-Extra': 'yes' },
    }).send(events);
    const headers = r.received[0]?.headers;
    assert.equal(headers?.['content-type'], 'application/x-ndjson');
    assert.equal(headers['idempotency-key'], '2-3');
    assert.equal(headers['x-extra'], 'yes');
    assert.equal(batchKey(events), '2-3');
  });

  it('rejects a non-2xx answer, naming the status and batch but not the path or token', async () => {
    const r = await receiver();
    const sink = httpAuditSink({ url: r.url, headers: { Authorization: TOKEN } });
    r.script(500, 404, 401);
    for (const status of [500, 404, 401]) {
      await rejectsWithout(
        sink.send(chain(2)),
        new RegExp(`batch 1-2: answered ${String(status)}`),
      );
    }
  });

  it('rejects an answer that does not come within the timeout', async () => {
    const r = await receiver();
    r.script('hang');
    const started = Date.now();
    await rejectsWithout(
      httpAuditSink({ url: r.url, timeoutMs: 150, headers: { Authorization: TOKEN } }).send(
        chain(1),
      ),
      /no answer within 150 ms/,
    );
    assert.ok(Date.now() - started < 2000);
  });

  it('rejects when nothing listens', async () => {
    const url = `http://127.0.0.1:${String(await closedPort())}/ingest?token=query-secret`;
    await rejectsWithout(httpAuditSink({ url }).send(chain(1)), /ECONNREFUSED/);
  });

  it('refuses to follow a redirect', async () => {
    let hits = 0;
    const server = createServer((_request, response) => {
      hits++;
      response.writeHead(307, { location: 'http://127.0.0.1:1/elsewhere' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await assert.rejects(
        httpAuditSink({ url: `http://127.0.0.1:${String(port)}/` }).send(chain(1)),
      );
      assert.equal(hits, 1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('stops at once when the caller aborts', async () => {
    const r = await receiver();
    r.script('hang');
    const controller = new AbortController();
    const sending = httpAuditSink({ url: r.url, timeoutMs: 60_000 }).send(
      chain(1),
      controller.signal,
    );
    setTimeout(() => {
      controller.abort();
    }, 50);
    await rejectsWithout(sending, /aborted/);
  });

  it('refuses a bad URL or header at construction, without quoting a header value', () => {
    assert.throws(() => httpAuditSink({ url: 'not a url' }), /not a valid URL/);
    assert.throws(() => httpAuditSink({ url: 'ftp://example.com/' }), /must be http\(s\)/);
    assert.throws(
      () => httpAuditSink({ url: 'http://127.0.0.1/', headers: { Authorization: 's3cret\nX: y' } }),
      (error: Error) =>
        /header "Authorization"/.test(error.message) && !/s3cret/.test(error.message),
    );
    assert.throws(() => batchKey([]), /empty batch/);
  });
});
