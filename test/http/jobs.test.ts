/**
 * `/api/v1/jobs` through Fastify's inject(): status codes, shapes, error envelopes, roles.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { as, seedPolicy as seed, testServer, tokenAuthenticator } from '../support/http-server.js';
import type { Authenticator } from '../../src/ports/authenticator.js';

const server = (authenticator?: Authenticator): Promise<FastifyInstance> =>
  testServer({ bodyLimit: 4096, ...(authenticator === undefined ? {} : { authenticator }) });

const SEED_CURL = {
  topic: 'job.mcp-bridge.write.update_ticket',
  tenant_id: 'default',
  risk_tags: ['prod'],
  labels: { 'mcp.action': 'write' },
};

describe('POST /api/v1/jobs (dev mode)', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await server();
  });
  after(() => app.close());

  it('decides the seed curl request: 201, APPROVAL_REQUIRED, exact response fields', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/jobs', payload: SEED_CURL });
    assert.equal(res.statusCode, 201);
    const body = res.json<Record<string, unknown>>();
    assert.deepEqual(Object.keys(body).sort(), [
      'decision',
      'job_hash',
      'job_id',
      'state',
      'trace_id',
    ]);
    assert.equal(body['state'], 'APPROVAL_REQUIRED');
    const decision = body['decision'] as Record<string, unknown>;
    assert.equal(decision['type'], 'REQUIRE_APPROVAL');
    assert.equal(decision['rule_id'], 'require-approval-prod-write');
    assert.equal(decision['reason'], 'Production writes require human review');
    assert.equal(decision['policy_snapshot'], seed.snapshot);
  });

  it('returns DENY as a successful response with state DENIED', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      payload: { topic: 'job.x', risk_tags: ['destructive'] },
    });
    assert.equal(res.statusCode, 201);
    assert.equal(res.json<{ state: string }>().state, 'DENIED');
  });

  it('replays an idempotency key with 200 and refuses different content with 409', async () => {
    const payload = { ...SEED_CURL, idempotency_key: 'idem-1' };
    const first = await app.inject({ method: 'POST', url: '/api/v1/jobs', payload });
    const replay = await app.inject({ method: 'POST', url: '/api/v1/jobs', payload });
    assert.equal(first.statusCode, 201);
    assert.equal(replay.statusCode, 200);
    assert.equal(replay.json<{ job_id: string }>().job_id, first.json<{ job_id: string }>().job_id);
    const conflict = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      payload: { ...payload, payload: { other: 1 } },
    });
    assert.equal(conflict.statusCode, 409);
    assert.equal(
      conflict.json<{ error: { code: string } }>().error.code,
      'WARDEN_IDEMPOTENCY_CONFLICT',
    );
  });

  it('refuses another submitter reusing a key of the tenant, naming nothing of the first job', async () => {
    const tokens = await server(tokenAuthenticator);
    const payload = { ...SEED_CURL, tenant_id: 'acme', idempotency_key: 'idem-shared' };
    const first = await tokens.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('agent-acme'),
      payload,
    });
    assert.equal(first.statusCode, 201, first.body);
    const other = await tokens.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('agent2-acme'),
      payload,
    });
    assert.equal(other.statusCode, 409, other.body);
    const body = other.json<{ error: { code: string; details: Record<string, unknown> } }>();
    assert.equal(body.error.code, 'WARDEN_IDEMPOTENCY_CONFLICT');
    assert.deepEqual(body.error.details, {});
    assert.ok(!other.body.includes(first.json<{ job_id: string }>().job_id));
  });

  const bad: [string, Record<string, unknown>, number, string][] = [
    [
      'an unknown field',
      { headers: {}, payload: { topic: 't', topics: 'x' } },
      400,
      'WARDEN_VALIDATION',
    ],
    [
      'a wrong type',
      { headers: {}, payload: { topic: 't', risk_tags: 'prod' } },
      400,
      'WARDEN_VALIDATION',
    ],
    ['a bad topic', { headers: {}, payload: { topic: 'has spaces' } }, 400, 'WARDEN_VALIDATION'],
    ['a missing topic', { headers: {}, payload: {} }, 400, 'WARDEN_VALIDATION'],
    [
      'malformed JSON',
      { headers: { 'content-type': 'application/json' }, payload: '{"topic":' },
      400,
      'WARDEN_MALFORMED_JSON',
    ],
    [
      'an oversized body',
      { headers: {}, payload: { topic: 't', payload: 'x'.repeat(5000) } },
      413,
      'WARDEN_BODY_TOO_LARGE',
    ],
    [
      'a non-JSON media type',
      { headers: { 'content-type': 'text/plain' }, payload: 'topic=t' },
      415,
      'WARDEN_UNSUPPORTED_MEDIA_TYPE',
    ],
  ];
  for (const [label, request, status, code] of bad) {
    it(`answers ${label} with ${status} ${code}`, async () => {
      const res = await app.inject({ method: 'POST', url: '/api/v1/jobs', ...request });
      assert.equal(res.statusCode, status);
      const body = res.json<{ error: { code: string; message: string } }>();
      assert.equal(body.error.code, code);
      assert.ok(body.error.message.length > 0);
    });
  }

  it('reads, lists and cancels', async () => {
    const created = (
      await app.inject({ method: 'POST', url: '/api/v1/jobs', payload: SEED_CURL })
    ).json<{ job_id: string }>();
    const job = await app.inject({ method: 'GET', url: `/api/v1/jobs/${created.job_id}` });
    assert.equal(job.statusCode, 200);
    assert.equal(job.json<{ topic: string }>().topic, SEED_CURL.topic);
    const list = await app.inject({
      method: 'GET',
      url: '/api/v1/jobs?state=APPROVAL_REQUIRED&limit=100',
    });
    assert.ok(
      list.json<{ items: { job_id: string }[] }>().items.some((j) => j.job_id === created.job_id),
    );
    const cancel = await app.inject({
      method: 'POST',
      url: `/api/v1/jobs/${created.job_id}/cancel`,
    });
    assert.equal(cancel.json<{ state: string }>().state, 'CANCELLED');
    const again = await app.inject({
      method: 'POST',
      url: `/api/v1/jobs/${created.job_id}/cancel`,
    });
    assert.equal(again.statusCode, 409);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/jobs/nope' })).statusCode, 404);
    assert.equal(
      (await app.inject({ method: 'GET', url: '/api/v1/jobs?state=NOPE' })).statusCode,
      400,
    );
  });

  it('answers unknown routes with WARDEN_ROUTE_NOT_FOUND', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/nothing' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'WARDEN_ROUTE_NOT_FOUND');
  });

  it('serves probes, the OpenAPI 3.1 document and the docs UI', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    const spec = (await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json<{
      openapi: string;
      paths: Record<string, unknown>;
    }>();
    assert.equal(spec.openapi, '3.1.0');
    for (const path of ['/api/v1/jobs', '/api/v1/jobs/{job_id}', '/api/v1/jobs/{job_id}/cancel'])
      assert.ok(spec.paths[path], path);
    const docs = await app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /swagger/i);
  });
});

describe('roles and tenants on /api/v1/jobs', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await server(tokenAuthenticator);
  });
  after(() => app.close());

  it('requires a key (401) except for probes and the OpenAPI document', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/jobs', payload: SEED_CURL });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'WARDEN_UNAUTHENTICATED');
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal(
      (await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).statusCode,
      200,
    );
  });

  it('lets an agent submit for its own tenant only, and refuses a worker (403)', async () => {
    const headers = as('agent-acme');
    const own = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers,
      payload: { topic: 'job.mcp-bridge.read.x' },
    });
    assert.equal(own.statusCode, 201);
    const other = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers,
      payload: { topic: 't', tenant_id: 'globex' },
    });
    assert.equal(other.statusCode, 403);
    const worker = await app.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      headers: as('worker-acme'),
      payload: { topic: 't' },
    });
    assert.equal(worker.statusCode, 403);
    assert.equal(worker.json<{ error: { code: string } }>().error.code, 'WARDEN_FORBIDDEN');
    const job = own.json<{ job_id: string }>().job_id;
    const auditor = await app.inject({
      method: 'GET',
      url: `/api/v1/jobs/${job}`,
      headers: as('auditor-acme'),
    });
    assert.equal(auditor.statusCode, 200);
  });
});
