/**
 * Request limits (§11, docs/limits.md): each bound refused with a 4xx, a registered code and a
 * message that says what to fix; configurable through `requestLimits`; and slow clients cut off
 * on a real socket while other clients are still served.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { ErrorCode } from '../../src/core/errors.js';
import { ERROR_REGISTRY } from '../../src/core/errors.js';
import { DEFAULT_REQUEST_LIMITS, resolveRequestLimits } from '../../src/http/limits.js';
import type { RequestLimits } from '../../src/http/limits.js';
import { as, seedSource, testServer, tokenAuthenticator } from '../support/http-server.js';

const READ_JOB = { topic: 'job.mcp-bridge.read.list_tickets' };

/** Small limits, so each is easy to pass in a test. */
const SMALL: Partial<RequestLimits> = {
  body_bytes: 64 * 1024,
  json_depth: 8,
  string_chars: 1000,
  payload_bytes: 4000,
  labels: 4,
  label_key_chars: 16,
  label_value_chars: 32,
  url_chars: 300,
  header_count: 20,
  header_bytes: 2048,
};

function assertRefused(res: LightMyRequestResponse, code: ErrorCode, pattern: RegExp): void {
  assert.equal(res.statusCode, ERROR_REGISTRY[code].status, res.body);
  const body = res.json<{ error: { code: string; message: string; details: unknown } }>();
  assert.equal(body.error.code, code, res.body);
  assert.match(body.error.message, pattern);
}

describe('request limits: each one refused with a stable code (inject)', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await testServer({
      authenticator: tokenAuthenticator,
      requestLimits: SMALL,
      rateLimits: null,
    });
  });
  const submit = (body: unknown): Promise<LightMyRequestResponse> =>
    app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: { ...as('agent-acme'), 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  it('body_bytes → 413 WARDEN_BODY_TOO_LARGE', async () => {
    const res = await submit({ ...READ_JOB, payload: Array(80).fill('x'.repeat(900)) });
    assertRefused(res, 'WARDEN_BODY_TOO_LARGE', /size limit/);
  });

  it('json_depth → 400 WARDEN_VALIDATION naming the path and the limit', async () => {
    const ok = await submit({ ...READ_JOB, payload: JSON.parse('[[[[[[1]]]]]]') as unknown });
    assert.equal(ok.statusCode, 201, ok.body);
    const res = await submit({
      ...READ_JOB,
      payload: JSON.parse('[[[[[[[[[1]]]]]]]]]') as unknown,
    });
    assertRefused(res, 'WARDEN_VALIDATION', /nests deeper than 8 levels/);
  });

  it('string_chars → 400 WARDEN_VALIDATION, for values and keys anywhere in a body', async () => {
    assert.equal((await submit({ ...READ_JOB, payload: 'x'.repeat(1000) })).statusCode, 201);
    assertRefused(
      await submit({ ...READ_JOB, payload: { a: ['x'.repeat(1001)] } }),
      'WARDEN_VALIDATION',
      /body\/payload\/a\/0 holds a string of 1001 characters; the limit is 1000/,
    );
    assertRefused(
      await submit({ ...READ_JOB, payload: { ['k'.repeat(1001)]: 1 } }),
      'WARDEN_VALIDATION',
      /holds a key of 1001 characters/,
    );
    const note = await app.inject({
      method: 'POST',
      url: '/api/v1/approvals/none/approve',
      headers: as('approver-acme'),
      payload: { note: 'n'.repeat(1001) },
    });
    assertRefused(note, 'WARDEN_VALIDATION', /the limit is 1000/);
  });

  it('string_chars does not apply to a policy source (the body limit does)', async () => {
    const res = await app.inject({
      method: 'PUT',
      url: '/api/v1/policy',
      headers: as('admin-all'),
      payload: { source: `# ${'c'.repeat(5000)}\n${seedSource}` },
    });
    assert.equal(res.statusCode, 200, res.body);
  });

  it('payload_bytes → 413 WARDEN_BODY_TOO_LARGE with the size, on submit and evaluate', async () => {
    // 4000 bytes as JSON: strings of 3 × 996 + 999 characters, 8 quotes, 3 commas, 2 brackets.
    const fits = [...(Array(3).fill('p'.repeat(996)) as string[]), 'p'.repeat(999)];
    assert.equal(JSON.stringify(fits).length, 4000);
    assert.equal((await submit({ ...READ_JOB, payload: fits })).statusCode, 201);
    const over = [...fits.slice(0, 2), 'p'.repeat(997), 'p'.repeat(999)];
    const res = await submit({ ...READ_JOB, payload: over });
    assertRefused(res, 'WARDEN_BODY_TOO_LARGE', /payload is 4001 bytes as JSON; the limit is 4000/);
    assert.deepEqual(res.json<{ error: { details: unknown } }>().error.details, {
      path: 'body/payload',
      limit: 4000,
      size: 4001,
    });
    // Multi-byte characters count as their UTF-8 bytes.
    const wide = await submit({ ...READ_JOB, payload: Array(4).fill('é'.repeat(500)) });
    assertRefused(wide, 'WARDEN_BODY_TOO_LARGE', /payload is 4013 bytes as JSON/);
    const evaluated = await app.inject({
      method: 'POST',
      url: '/api/v1/policy/evaluate',
      headers: as('agent-acme'),
      payload: { ...READ_JOB, payload: over },
    });
    assertRefused(evaluated, 'WARDEN_BODY_TOO_LARGE', /payload is 4001 bytes/);
  });

  it('labels: count, key length and value length → 400 WARDEN_VALIDATION', async () => {
    const four = { a: '1', b: '2', c: '3', d: '4' };
    assert.equal((await submit({ ...READ_JOB, labels: four })).statusCode, 201);
    assertRefused(
      await submit({ ...READ_JOB, labels: { ...four, e: '5' } }),
      'WARDEN_VALIDATION',
      /body\/labels must NOT have more than 4 properties/,
    );
    assertRefused(
      await submit({ ...READ_JOB, labels: { ['k'.repeat(17)]: 'v' } }),
      'WARDEN_VALIDATION',
      /body\/labels must NOT have more than 16 characters/,
    );
    assertRefused(
      await submit({ ...READ_JOB, labels: { k: 'v'.repeat(33) } }),
      'WARDEN_VALIDATION',
      /body\/labels\/k must NOT have more than 32 characters/,
    );
    assertRefused(
      await submit({ ...READ_JOB, labels: { '': 'v' } }),
      'WARDEN_VALIDATION',
      /body\/labels/,
    );
  });

  it('labels: a key with a line break still has its value checked (was unchecked)', async () => {
    assertRefused(
      await submit({ ...READ_JOB, labels: { 'line\nbreak': 5 } }),
      'WARDEN_VALIDATION',
      /must be string/,
    );
  });

  it('a lone UTF-16 surrogate → 400 WARDEN_VALIDATION; a valid pair is accepted', async () => {
    const raw = (text: string): Promise<LightMyRequestResponse> =>
      app.inject({
        method: 'POST',
        url: '/api/v1/jobs',
        headers: { ...as('agent-acme'), 'content-type': 'application/json' },
        payload: `{"topic":"job.mcp-bridge.read.x","payload":{"note":"${text}"}}`,
      });
    assertRefused(await raw('a\\ud800b'), 'WARDEN_VALIDATION', /lone UTF-16 surrogate/);
    assertRefused(await raw('\\udc00'), 'WARDEN_VALIDATION', /lone UTF-16 surrogate/);
    assert.equal((await raw('\\ud83d\\ude00')).statusCode, 201);
  });

  it('url_chars → 400 WARDEN_VALIDATION, before authentication', async () => {
    const url = `/api/v1/jobs?topic=${'t'.repeat(300)}`;
    assertRefused(
      await app.inject({ method: 'GET', url, headers: as('agent-acme') }),
      'WARDEN_VALIDATION',
      /the URL is \d+ characters; the limit is 300/,
    );
    // No key: refused for its length, not its missing key.
    assertRefused(await app.inject({ method: 'GET', url }), 'WARDEN_VALIDATION', /the URL/);
  });

  it('header_count and header_bytes → 400 WARDEN_VALIDATION', async () => {
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x-h${i}`, 'v']));
    assertRefused(
      await app.inject({ method: 'GET', url: '/healthz', headers: many }),
      'WARDEN_VALIDATION',
      /more than 20 header fields/,
    );
    assertRefused(
      await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-big': 'v'.repeat(2100) } }),
      'WARDEN_VALIDATION',
      /exceed 2048 bytes/,
    );
    const fine = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-a': 'b' } });
    assert.equal(fine.statusCode, 200);
  });

  it('the OpenAPI document states the configured label bounds', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    const labels = res.json<{
      paths: Record<string, { post: { requestBody: { content: Record<string, unknown> } } }>;
    }>().paths['/api/v1/jobs']?.post.requestBody.content['application/json'];
    const text = JSON.stringify(labels);
    assert.match(text, /"maxProperties":4/);
    assert.match(text, /"propertyNames":\{"minLength":1,"maxLength":16\}/);
  });
});

describe('request limits: defaults and settings', () => {
  it('the defaults are the documented ones', () => {
    assert.deepEqual(resolveRequestLimits(), DEFAULT_REQUEST_LIMITS);
    assert.equal(DEFAULT_REQUEST_LIMITS.body_bytes, 1024 * 1024);
    assert.equal(DEFAULT_REQUEST_LIMITS.json_depth, 64);
    assert.equal(DEFAULT_REQUEST_LIMITS.payload_bytes, 256 * 1024);
    assert.equal(DEFAULT_REQUEST_LIMITS.string_chars, 64 * 1024);
    assert.equal(DEFAULT_REQUEST_LIMITS.headers_timeout_ms, 10_000);
    assert.equal(DEFAULT_REQUEST_LIMITS.request_timeout_ms, 30_000);
  });

  it('refuses values that cannot work, naming each', () => {
    assert.throws(
      () => resolveRequestLimits({ json_depth: 0, string_chars: 1.5 }),
      /json_depth must be a positive integer, got 0; string_chars must be a positive integer/,
    );
    assert.throws(
      () => resolveRequestLimits({ headers_timeout_ms: 5000, request_timeout_ms: 1000 }),
      /headers_timeout_ms must not exceed request_timeout_ms/,
    );
  });

  it('the legacy bodyLimit still applies, and requestLimits.body_bytes wins over it', async () => {
    const legacy = await testServer({ bodyLimit: 100, rateLimits: null });
    const body = { ...READ_JOB, payload: 'x'.repeat(200) };
    const res = await legacy.inject({ method: 'POST', url: '/api/v1/jobs', payload: body });
    assert.equal(res.statusCode, 413);
    const both = await testServer({
      bodyLimit: 100,
      requestLimits: { body_bytes: 1000 },
      rateLimits: null,
    });
    const ok = await both.inject({ method: 'POST', url: '/api/v1/jobs', payload: body });
    assert.equal(ok.statusCode, 201, ok.body);
  });
});

// ---------------------------------------------------------------------------------------------
// On a real socket: slow clients, oversized heads
// ---------------------------------------------------------------------------------------------

interface Trickle {
  /** Everything the server wrote before it closed the connection. */
  readonly answer: Promise<{ text: string; closedAfterMs: number }>;
  stop(): void;
}

/** Sends `head` at once, then one byte of `drip` every `everyMs` until closed or stopped. */
function trickle(port: number, head: string, drip: string, everyMs: number): Trickle {
  const socket: Socket = connect(port, '127.0.0.1');
  const started = performance.now();
  let text = '';
  let i = 0;
  const timer = setInterval(() => {
    if (socket.writable) socket.write(drip[i++ % drip.length] ?? 'x');
  }, everyMs);
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  socket.on('error', () => undefined);
  socket.write(head);
  const answer = new Promise<{ text: string; closedAfterMs: number }>((resolve) => {
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ text, closedAfterMs: performance.now() - started });
    });
  });
  return {
    answer,
    stop: () => {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

/** One raw request on a fresh socket; the whole answer once the server closes or ends it. */
function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      resolve(text);
    });
    socket.end(request);
  });
}

function envelopeOf(answer: string): { code: string; message: string } {
  const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
  return (JSON.parse(body) as { error: { code: string; message: string } }).error;
}

describe('request limits on a listening server: slow clients are cut off', () => {
  const HEADERS_MS = 300;
  const REQUEST_MS = 600;
  /** Event-loop delay a loaded test machine may add. */
  const SLACK_MS = 1500;
  let app: FastifyInstance;
  let port: number;
  before(async () => {
    app = await testServer({
      rateLimits: null,
      requestLimits: {
        headers_timeout_ms: HEADERS_MS,
        request_timeout_ms: REQUEST_MS,
        header_bytes: 4096,
      },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    assert.ok(address !== null && typeof address === 'object');
    port = address.port;
  });

  it('a client trickling its headers gets 408 and a closed connection within the limit', async () => {
    const slow = trickle(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'abcdef', 40);
    // Meanwhile other clients are served at once.
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(res.status, 200);
      await res.text();
    }
    const { text, closedAfterMs } = await slow.answer;
    slow.stop();
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.equal(envelopeOf(text).code, 'WARDEN_VALIDATION');
    assert.match(envelopeOf(text).message, /not received in time/);
    // Cut at the limit plus at most one check interval (a quarter of it), with slack for a busy
    // machine: far below the 10 s default, so it is the configured limit that cut it.
    assert.ok(closedAfterMs >= HEADERS_MS - 50, `closed after ${closedAfterMs} ms`);
    assert.ok(closedAfterMs < HEADERS_MS * 1.25 + SLACK_MS, `closed after ${closedAfterMs} ms`);
  });

  it('a client trickling its body gets 408 and a closed connection within the limit', async () => {
    const head =
      'POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Content-Length: 100000\r\n\r\n{"topic":"job.mcp-bridge.read.x","payload":"';
    const slow = trickle(port, head, 'zzzz', 20);
    const submitted = await fetch(`http://127.0.0.1:${port}/api/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(READ_JOB),
    });
    assert.equal(submitted.status, 201);
    await submitted.text();
    const { text, closedAfterMs } = await slow.answer;
    slow.stop();
    assert.match(text, /^HTTP\/1\.1 408 /);
    assert.ok(closedAfterMs >= REQUEST_MS - 50, `closed after ${closedAfterMs} ms`);
    assert.ok(closedAfterMs < REQUEST_MS * 1.25 + SLACK_MS, `closed after ${closedAfterMs} ms`);
  });

  it('many slow clients at once do not stop a normal one', async () => {
    const slow = Array.from({ length: 50 }, () =>
      trickle(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', 'X-A: b\r\n', 25),
    );
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(res.status, 200);
    await res.text();
    const answers = await Promise.all(slow.map((s) => s.answer));
    for (const s of slow) s.stop();
    for (const { text } of answers) assert.match(text, /^HTTP\/1\.1 408 /);
  });

  it('a head over header_bytes gets 400 WARDEN_VALIDATION with the envelope', async () => {
    const answer = await rawRequest(
      port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'v'.repeat(5000)}\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 400 /);
    const error = envelopeOf(answer);
    assert.equal(error.code, 'WARDEN_VALIDATION');
    assert.match(error.message, /exceed 4096 bytes/);
  });

  it('bytes that are not HTTP get 400 WARDEN_VALIDATION', async () => {
    const answer = await rawRequest(port, 'HELLO THERE\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.equal(envelopeOf(answer).code, 'WARDEN_VALIDATION');
  });

  it('afterwards the server still answers', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });
});
