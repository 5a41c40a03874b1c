/**
 * The per-API-key rate limit: a token bucket per principal, 429 `WARDEN_RATE_LIMITED` with
 * `Retry-After`, on an injected clock (no sleeping).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { DEFAULT_RATE_LIMITS } from '../../src/http/rate-limit.js';
import { as, testServer, tokenAuthenticator } from '../support/http-server.js';

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

function assertLimited(res: LightMyRequestResponse, retryAfterMs: number): void {
  assert.equal(res.statusCode, 429, res.body);
  assert.equal(res.headers['retry-after'], String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  const body = res.json<{ error: { code: string; message: string; details: unknown } }>();
  assert.equal(body.error.code, 'WARDEN_RATE_LIMITED');
  assert.match(body.error.message, /retry after \d+ ms/);
  assert.deepEqual(body.error.details, { retry_after_ms: retryAfterMs });
}

describe('rate limit per API key (burst 5, 2 per second)', () => {
  const clock = manualClock();
  let app: FastifyInstance;
  before(async () => {
    app = await testServer({
      authenticator: tokenAuthenticator,
      rateLimits: { requests_per_second: 2, burst: 5 },
      now: clock.now,
    });
  });
  const get = (principal: string | null, url = '/api/v1/jobs'): Promise<LightMyRequestResponse> =>
    app.inject({ method: 'GET', url, headers: principal === null ? {} : as(principal) });

  it('lets the burst through, then answers 429 with Retry-After and retry_after_ms', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await get('auditor-acme')).statusCode, 200);
    // One token every 500 ms: Retry-After rounds up to whole seconds.
    assertLimited(await get('auditor-acme'), 500);
    clock.advance(200);
    assertLimited(await get('auditor-acme'), 300);
  });

  it('another key is not affected', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await get('auditor-all')).statusCode, 200);
    assert.equal((await get('agent-acme')).statusCode, 200);
  });

  it('refills with time: one request per 500 ms, a full burst after 2.5 s', async () => {
    clock.advance(300);
    assert.equal((await get('auditor-acme')).statusCode, 200);
    assertLimited(await get('auditor-acme'), 500);
    clock.advance(2500);
    for (let i = 0; i < 5; i++) assert.equal((await get('auditor-acme')).statusCode, 200);
    assert.equal((await get('auditor-acme')).statusCode, 429);
  });

  it('limits every endpoint of the key, writes included', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('auditor-acme'),
      payload: { topic: 'job.mcp-bridge.read.x' },
    });
    assert.equal(res.statusCode, 429);
  });

  it('probes, the API document and unauthenticated requests are not counted', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/api/v1/openapi.json']) {
      const res = await app.inject({ method: 'GET', url, headers: as('auditor-acme') });
      assert.equal(res.statusCode, 200, url);
    }
    for (let i = 0; i < 10; i++) assert.equal((await get(null)).statusCode, 401);
  });

  it('Retry-After is whole seconds, rounded up', async () => {
    const slow = await testServer({
      authenticator: tokenAuthenticator,
      rateLimits: { requests_per_second: 0.4, burst: 1 },
      now: clock.now,
    });
    const first = await slow.inject({
      method: 'GET',
      url: '/api/v1/jobs',
      headers: as('admin-acme'),
    });
    assert.equal(first.statusCode, 200);
    const res = await slow.inject({
      method: 'GET',
      url: '/api/v1/jobs',
      headers: as('admin-acme'),
    });
    assertLimited(res, 2500);
    assert.equal(res.headers['retry-after'], '3');
  });
});

describe('rate limit: defaults and switching it off', () => {
  it('is on by default (burst 2000, 1000 per second), the dev principal included', async () => {
    assert.deepEqual(
      { rps: DEFAULT_RATE_LIMITS.requests_per_second, burst: DEFAULT_RATE_LIMITS.burst },
      { rps: 1000, burst: 2000 },
    );
    const clock = manualClock();
    // Dev mode: every request is the principal `dev`.
    const app = await testServer({ now: clock.now });
    for (let i = 0; i < 2000; i++) {
      const res = await app.inject({ method: 'GET', url: '/api/v1/policy' });
      assert.equal(res.statusCode, 200, `request ${i}: ${res.body}`);
    }
    assertLimited(await app.inject({ method: 'GET', url: '/api/v1/policy' }), 1);
  });

  it('null switches it off', async () => {
    const clock = manualClock();
    const app = await testServer({ rateLimits: null, now: clock.now });
    for (let i = 0; i < 600; i++) {
      const res = await app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(res.statusCode, 200);
    }
    for (let i = 0; i < 2100; i++) {
      const res = await app.inject({ method: 'GET', url: '/api/v1/policy' });
      assert.equal(res.statusCode, 200, res.body);
    }
  });

  it('refuses settings that cannot work at start', async () => {
    await assert.rejects(
      testServer({ rateLimits: { requests_per_second: 0, burst: 10 } }),
      /requests_per_second must be > 0/,
    );
    await assert.rejects(
      testServer({ rateLimits: { requests_per_second: 10, burst: 0.5 } }),
      /burst an integer >= 1/,
    );
  });
});
