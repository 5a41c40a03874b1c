/**
 * The HTTP API matrix: every live route is in the table below, every `/api/v1` endpoint is tried
 * with every role (plus no key, a bad key, and other-tenant principals), and every code in
 * `ERROR_REGISTRY` is produced through `inject()` with its status and the §12 envelope, or listed
 * as unreachable with a reason. Detailed behaviour lives in the other files of this folder; this
 * file only proves that nothing is left out.
 *
 * Expectations follow the code in `src/app` and `src/http/routes`; where it differs from the
 * role column of SPEC §12 the `spec` field of the endpoint says so.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { before, describe, it } from 'node:test';
import type { FastifyInstance, HTTPMethods, LightMyRequestResponse } from 'fastify';
import { ERROR_REGISTRY } from '../../src/core/errors.js';
import type { ErrorCode } from '../../src/core/errors.js';
import { ROLES } from '../../src/core/model/principal.js';
import type { Role } from '../../src/core/model/principal.js';
import type { Authenticator } from '../../src/ports/authenticator.js';
import {
  as,
  seedSource,
  testGateway,
  testServer,
  tokenAuthenticator,
} from '../support/http-server.js';

type Response = LightMyRequestResponse;
type Method = Extract<HTTPMethods, 'GET' | 'POST' | 'PUT' | 'DELETE'>;
type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Requests and fixtures
// ---------------------------------------------------------------------------------------------

/** An action the seed policy allows: the job ends QUEUED (cancellable). */
const READ_JOB = { topic: 'job.mcp-bridge.read.list_tickets' };
/** A production write: the seed policy requires approval. */
const PROD_WRITE = { topic: 'job.mcp-bridge.write.update_ticket', risk_tags: ['prod'] };
/** Denied by the seed policy: a terminal job at once. */
const DESTRUCTIVE = { topic: 'job.mcp-bridge.write.drop_table', risk_tags: ['destructive'] };

const BAD_KEY = { authorization: 'Bearer not-a-key' };

interface Submitted {
  readonly job_id: string;
  readonly trace_id: string;
  readonly job_hash: string;
  readonly state: string;
}

/** One request of a row: the URL, an optional JSON body, and the fixture id it is about. */
interface Req {
  readonly url: string;
  readonly payload?: Json;
  /** The id of the resource the row is about; `listed` rows look for it in the answer. */
  readonly fixture?: string;
}

function send(
  app: FastifyInstance,
  principal: string | null,
  method: HTTPMethods,
  url: string,
  payload?: Json,
): Promise<Response> {
  return app.inject({
    method,
    url,
    headers: principal === null ? {} : as(principal),
    ...(payload === undefined ? {} : { payload }),
  });
}

/** Fresh resources for one row, created through the API by principals allowed to. */
class Fixtures {
  private counter = 0;

  constructor(private readonly app: () => FastifyInstance) {}

  async job(by = 'agent-acme', body: Json = READ_JOB): Promise<Submitted> {
    const res = await send(this.app(), by, 'POST', '/api/v1/jobs', body);
    assert.equal(res.statusCode, 201, `fixture job by ${by}: ${res.body}`);
    return res.json<Submitted>();
  }

  async approval(by = 'agent-acme'): Promise<Submitted> {
    const job = await this.job(by, PROD_WRITE);
    assert.equal(job.state, 'APPROVAL_REQUIRED');
    return job;
  }

  async key(tenant: string): Promise<string> {
    const res = await send(this.app(), 'admin-all', 'POST', '/api/v1/keys', {
      name: `matrix key ${++this.counter}`,
      tenant,
      roles: ['agent'],
    });
    assert.equal(res.statusCode, 201, `fixture key: ${res.body}`);
    return res.json<{ id: string }>().id;
  }

  async agent(tenant: string): Promise<string> {
    const id = `matrix-agent-${++this.counter}`;
    const res = await send(this.app(), 'admin-all', 'PUT', `/api/v1/agents/${id}`, {
      risk_level: 'low',
      tenant_id: tenant,
    });
    assert.equal(res.statusCode, 200, `fixture agent: ${res.body}`);
    return id;
  }

  async snapshot(): Promise<string> {
    const res = await send(this.app(), 'admin-all', 'GET', '/api/v1/policy');
    assert.equal(res.statusCode, 200, `fixture snapshot: ${res.body}`);
    return res.json<{ snapshot: string }>().snapshot;
  }

  nextId(prefix: string): string {
    return `${prefix}-${++this.counter}`;
  }
}

function assertEnvelope(res: Response, code: ErrorCode): void {
  assert.equal(res.statusCode, ERROR_REGISTRY[code].status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json<{ error?: { code?: unknown; message?: unknown; details?: unknown } }>();
  assert.deepEqual(Object.keys(body), ['error'], res.body);
  assert.deepEqual(Object.keys(body.error ?? {}).sort(), ['code', 'details', 'message']);
  assert.equal(body.error?.code, code, res.body);
  assert.equal(typeof body.error.message, 'string');
  assert.ok((body.error.message as string).length > 0, 'the message says what to fix');
  const details = body.error.details;
  assert.ok(typeof details === 'object' && details !== null && !Array.isArray(details));
}

// ---------------------------------------------------------------------------------------------
// The table: every route, and for /api/v1 the expected answer per role
// ---------------------------------------------------------------------------------------------

/** 409: the role was let through and the request reached the job's state check. */
type Expect = 200 | 201 | 403 | 404 | 409;
const CODE_FOR: Readonly<Record<403 | 404 | 409, ErrorCode>> = {
  403: 'WARDEN_FORBIDDEN',
  404: 'WARDEN_NOT_FOUND',
  409: 'WARDEN_INVALID_STATE',
};

/** The acme principal that stands for each role. */
const ROLE_PRINCIPAL: Readonly<Record<Role, string>> = {
  agent: 'agent-acme',
  worker: 'worker-acme',
  approver: 'approver-acme',
  admin: 'admin-acme',
  auditor: 'auditor-acme',
};

/** A row beyond the five roles: another tenant, another principal of the tenant, or tenant `*`. */
interface Row {
  readonly principal: string;
  readonly expect: Expect;
  readonly why: string;
  /** Replaces the endpoint's request (e.g. a resource of another tenant). */
  readonly request?: (fx: Fixtures) => Promise<Req>;
  /** A 200 list that must (true) or must not (false) contain the row's fixture. */
  readonly listed?: boolean;
}

interface Endpoint {
  readonly method: Method;
  /** As in the OpenAPI document. */
  readonly path: string;
  /** The role column of SPEC §12, and how the code differs from it. */
  readonly spec: string;
  readonly expect: Readonly<Record<Role, Expect>>;
  readonly request: (fx: Fixtures) => Promise<Req>;
  readonly rows: readonly Row[];
}

const req = (url: string, payload?: Json, fixture?: string): Promise<Req> =>
  Promise.resolve({
    url,
    ...(payload === undefined ? {} : { payload }),
    ...(fixture === undefined ? {} : { fixture }),
  });

const jobOf = async (fx: Fixtures, by: string, suffix = ''): Promise<Req> => {
  const job = await fx.job(by);
  return req(`/api/v1/jobs/${job.job_id}${suffix}`, undefined, job.job_id);
};
/** A fresh job with a topic of its own, and the list filtered to that topic. */
const jobList = async (fx: Fixtures, by: string): Promise<Req> => {
  const topic = `job.mcp-bridge.read.${fx.nextId('list').replace(/-/g, '_')}`;
  const job = await fx.job(by, { topic });
  return req(`/api/v1/jobs?topic=${topic}&limit=500`, undefined, job.job_id);
};
const approvalOf = async (fx: Fixtures, by: string, suffix = ''): Promise<Req> => {
  const job = await fx.approval(by);
  return req(`/api/v1/approvals/${job.job_id}${suffix}`, { note: 'matrix' }, job.job_id);
};
const approvalGet = async (fx: Fixtures, by: string): Promise<Req> => {
  const job = await fx.approval(by);
  return req(`/api/v1/approvals/${job.job_id}`, undefined, job.job_id);
};
/** An inline job the seed policy clears, and its claim with the job hash. */
const claimOf = async (fx: Fixtures, by: string): Promise<Req> => {
  const job = await fx.job(by, { ...READ_JOB, dispatch: 'inline' });
  return req(`/api/v1/jobs/${job.job_id}/claim`, { job_hash: job.job_hash }, job.job_id);
};
/** A QUEUED bus job (not running, not quarantined) and a request about it. */
const queuedJob = async (fx: Fixtures, by: string, suffix: string, payload: Json): Promise<Req> => {
  const job = await fx.job(by);
  return req(`/api/v1/jobs/${job.job_id}${suffix}`, payload, job.job_id);
};
const traceOf = async (fx: Fixtures, by: string): Promise<Req> => {
  const job = await fx.job(by);
  return req(`/api/v1/traces/${job.trace_id}`, undefined, job.trace_id);
};

const ENDPOINTS: readonly Endpoint[] = [
  {
    method: 'POST',
    path: '/api/v1/workers/lease',
    spec: 'worker (code also admin)',
    expect: { agent: 403, worker: 200, approver: 403, admin: 200, auditor: 403 },
    request: () => req('/api/v1/workers/lease', { topics: ['job.matrix.none'], wait: 0 }),
    rows: [{ principal: 'admin-all', expect: 200, why: 'tenant *' }],
  },
  {
    method: 'POST',
    path: '/api/v1/jobs/{job_id}/heartbeat',
    spec: 'not in §12 (worker: extends a lease; an unknown lease answers cancel)',
    expect: { agent: 403, worker: 200, approver: 403, admin: 200, auditor: 403 },
    request: (fx) => queuedJob(fx, 'agent-acme', '/heartbeat', { lease_id: 'lease_matrix' }),
    rows: [
      {
        principal: 'admin-acme',
        expect: 404,
        why: 'another tenant’s job',
        request: (fx) => queuedJob(fx, 'agent-globex', '/heartbeat', { lease_id: 'lease_x' }),
      },
    ],
  },
  {
    method: 'POST',
    path: '/api/v1/jobs/{job_id}/result',
    spec: 'worker/agent (bus jobs: the lease holder, a worker or admin; inline: the submitter)',
    expect: { agent: 403, worker: 409, approver: 403, admin: 409, auditor: 403 },
    request: (fx) =>
      queuedJob(fx, 'agent-acme', '/result', { status: 'failed', lease_id: 'lease_matrix' }),
    rows: [
      {
        principal: 'admin-acme',
        expect: 404,
        why: 'another tenant’s job',
        request: (fx) => queuedJob(fx, 'agent-globex', '/result', { status: 'failed' }),
      },
    ],
  },
  {
    method: 'POST',
    path: '/api/v1/jobs/{job_id}/claim',
    spec: 'agent (the submitter; code also admin)',
    expect: { agent: 200, worker: 403, approver: 403, admin: 200, auditor: 403 },
    request: (fx) => claimOf(fx, 'agent-acme'),
    rows: [
      {
        principal: 'agent2-acme',
        expect: 404,
        why: 'another agent’s job (agents read own)',
        request: (fx) => claimOf(fx, 'agent-acme'),
      },
      {
        principal: 'agent-globex',
        expect: 404,
        why: 'another tenant’s job',
        request: (fx) => claimOf(fx, 'agent-acme'),
      },
    ],
  },
  ...(['release', 'discard'] as const).map((action): Endpoint => ({
    method: 'POST',
    path: `/api/v1/jobs/{job_id}/${action}`,
    spec: 'not in §12 (approver: a quarantined output, §8)',
    expect: { agent: 403, worker: 403, approver: 409, admin: 409, auditor: 403 },
    request: (fx) => queuedJob(fx, 'agent-acme', `/${action}`, { note: 'matrix' }),
    rows: [
      {
        principal: 'approver-globex',
        expect: 404,
        why: 'another tenant’s job',
        request: (fx) => queuedJob(fx, 'agent-acme', `/${action}`, { note: 'matrix' }),
      },
    ],
  })),
  {
    method: 'GET',
    path: '/api/v1/dead-letters',
    spec: 'not in §12 (admin/auditor/approver)',
    expect: { agent: 403, worker: 403, approver: 200, admin: 200, auditor: 200 },
    request: () => req('/api/v1/dead-letters'),
    rows: [{ principal: 'auditor-all', expect: 200, why: 'tenant *' }],
  },
  {
    method: 'GET',
    path: '/api/v1/dead-letters/{job_id}',
    spec: 'not in §12 (admin/auditor/approver, and the submitting agent); a live job is no dead letter',
    expect: { agent: 404, worker: 403, approver: 404, admin: 404, auditor: 404 },
    request: (fx) =>
      jobOf(fx, 'agent-acme').then((r) => ({
        ...r,
        url: r.url.replace('/jobs/', '/dead-letters/'),
      })),
    rows: [],
  },
  {
    method: 'POST',
    path: '/api/v1/dead-letters/{job_id}/retry',
    spec: 'not in §12 (agent/admin); a live job is no dead letter',
    expect: { agent: 404, worker: 403, approver: 403, admin: 404, auditor: 403 },
    request: (fx) =>
      jobOf(fx, 'agent-acme').then((r) => ({
        ...r,
        url: r.url.replace('/jobs/', '/dead-letters/') + '/retry',
      })),
    rows: [],
  },
  {
    method: 'POST',
    path: '/api/v1/jobs',
    spec: 'agent (code also lets admin submit)',
    expect: { agent: 201, worker: 403, approver: 403, admin: 201, auditor: 403 },
    request: () => req('/api/v1/jobs', READ_JOB),
    rows: [
      { principal: 'agent-globex', expect: 201, why: 'an agent of another tenant, for itself' },
      {
        principal: 'agent-acme',
        expect: 403,
        why: 'submitting into another tenant',
        request: () => req('/api/v1/jobs', { ...READ_JOB, tenant_id: 'globex' }),
      },
    ],
  },
  {
    method: 'GET',
    path: '/api/v1/jobs',
    spec: 'agent/auditor (code also admin)',
    expect: { agent: 200, worker: 403, approver: 403, admin: 200, auditor: 200 },
    request: () => req('/api/v1/jobs'),
    rows: [
      {
        principal: 'agent-acme',
        expect: 200,
        why: 'the submitter lists its job',
        listed: true,
        request: (fx) => jobList(fx, 'agent-acme'),
      },
      {
        principal: 'auditor-acme',
        expect: 200,
        why: 'an auditor of the tenant lists the job',
        listed: true,
        request: (fx) => jobList(fx, 'agent-acme'),
      },
      {
        principal: 'agent2-acme',
        expect: 200,
        why: 'another agent of the tenant lists without the job (agents read own)',
        listed: false,
        request: (fx) => jobList(fx, 'agent-acme'),
      },
      {
        principal: 'agent-globex',
        expect: 200,
        why: 'another tenant lists without the job',
        listed: false,
        request: (fx) => jobList(fx, 'agent-acme'),
      },
      { principal: 'auditor-all', expect: 200, why: 'tenant *' },
    ],
  },
  {
    method: 'GET',
    path: '/api/v1/jobs/{job_id}',
    spec: 'agent/approver/auditor (code also admin)',
    expect: { agent: 200, worker: 403, approver: 200, admin: 200, auditor: 200 },
    request: (fx) => jobOf(fx, 'agent-acme'),
    rows: [
      { principal: 'agent2-acme', expect: 404, why: 'another agent’s job (agents read own)' },
      { principal: 'agent-globex', expect: 404, why: 'another tenant’s job' },
      { principal: 'approver-globex', expect: 404, why: 'another tenant’s job' },
      {
        principal: 'admin-acme',
        expect: 404,
        why: 'an admin of another tenant',
        request: (fx) => jobOf(fx, 'agent-globex'),
      },
      {
        principal: 'auditor-acme',
        expect: 404,
        why: 'an auditor of another tenant',
        request: (fx) => jobOf(fx, 'agent-globex'),
      },
      { principal: 'admin-all', expect: 200, why: 'tenant *' },
      { principal: 'auditor-all', expect: 200, why: 'tenant *' },
    ],
  },
  {
    method: 'POST',
    path: '/api/v1/jobs/{job_id}/cancel',
    spec: 'agent/admin',
    expect: { agent: 200, worker: 403, approver: 403, admin: 200, auditor: 403 },
    request: (fx) => jobOf(fx, 'agent-acme', '/cancel'),
    rows: [
      { principal: 'agent2-acme', expect: 404, why: 'another agent’s job is not visible' },
      { principal: 'agent-globex', expect: 404, why: 'another tenant’s job' },
      { principal: 'admin-all', expect: 200, why: 'tenant *' },
    ],
  },
  {
    method: 'GET',
    path: '/api/v1/approvals',
    spec: 'approver (code also admin, as approver_roles in §5)',
    expect: { agent: 403, worker: 403, approver: 200, admin: 200, auditor: 403 },
    request: () => req('/api/v1/approvals'),
    rows: [
      {
        principal: 'approver-globex',
        expect: 200,
        why: 'another tenant’s queue without the acme approval',
        listed: false,
        request: async (fx) =>
          req('/api/v1/approvals?limit=500', undefined, (await fx.approval('agent-acme')).job_id),
      },
      {
        principal: 'approver-acme',
        expect: 200,
        why: 'the tenant’s queue has the approval',
        listed: true,
        request: async (fx) =>
          req('/api/v1/approvals?limit=500', undefined, (await fx.approval('agent-acme')).job_id),
      },
      { principal: 'admin-all', expect: 200, why: 'tenant *' },
    ],
  },
  {
    method: 'GET',
    path: '/api/v1/approvals/{job_id}',
    spec: 'approver (code also admin)',
    expect: { agent: 403, worker: 403, approver: 200, admin: 200, auditor: 403 },
    request: (fx) => approvalGet(fx, 'agent-acme'),
    rows: [
      { principal: 'approver2-acme', expect: 200, why: 'any approver of the tenant' },
      { principal: 'approver-globex', expect: 404, why: 'another tenant’s approval' },
      {
        principal: 'admin-acme',
        expect: 404,
        why: 'an admin of another tenant',
        request: (fx) => approvalGet(fx, 'agent-globex'),
      },
      { principal: 'admin-all', expect: 200, why: 'tenant *' },
    ],
  },
  {
    method: 'POST',
    path: '/api/v1/approvals/{job_id}/approve',
    spec: 'approver (code also admin)',
    expect: { agent: 403, worker: 403, approver: 200, admin: 200, auditor: 403 },
    request: (fx) => approvalOf(fx, 'agent-acme', '/approve'),
    rows: [
      { principal: 'approver2-acme', expect: 200, why: 'any approver of the tenant' },
      { principal: 'approver-globex', expect: 404, why: 'another tenant’s approval' },
      { principal: 'admin-all', expect: 200, why: 'tenant *' },
    ],
  },
  {
    method: 'POST',
    path: '/api/v1/approvals/{job_id}/reject',
    spec: 'approver (code also admin)',
    expect: { agent: 403, worker: 403, approver: 200, admin: 200, auditor: 403 },
    request: (fx) => approvalOf(fx, 'agent-acme', '/reject'),
    rows: [
      { principal: 'approver-globex', expect: 404, why: 'another tenant’s approval' },
      { principal: 'admin-all', expect: 200, why: 'tenant *' },
    ],
  },
  {
    method: 'GET',
    path: '/api/v1/traces/{trace_id}',
    spec: 'auditor/agent (code also admin)',
    expect: { agent: 200, worker: 403, approver: 403, admin: 200, auditor: 200 },
    request: (fx) => traceOf(fx, 'agent-acme'),
    rows: [
      { principal: 'agent-globex', expect: 404, why: 'another tenant’s trace' },
      {
        principal: 'auditor-acme',
        expect: 404,
        why: 'an auditor of another tenant',
        request: (fx) => traceOf(fx, 'agent-globex'),
      },
      { principal: 'auditor-all', expect: 200, why: 'tenant *' },
      {
        principal: 'agent2-acme',
        expect: 404,
        why: 'another agent’s trace (agents read own, as for GET /jobs/{job_id})',
      },
    ],
  },
  {
    method: 'GET',
    path: '/api/v1/audit',
    spec: 'auditor (code also admin)',
    expect: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 200 },
    request: () => req('/api/v1/audit'),
    rows: [{ principal: 'auditor-all', expect: 200, why: 'tenant *' }],
  },
  {
    method: 'GET',
    path: '/api/v1/audit/verify',
    spec: 'auditor (code also admin)',
    expect: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 200 },
    request: () => req('/api/v1/audit/verify'),
    rows: [{ principal: 'auditor-all', expect: 200, why: 'tenant *' }],
  },
  {
    method: 'GET',
    path: '/api/v1/audit/public-key',
    spec: 'not in §12 (auditor/admin, like verify)',
    expect: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 200 },
    request: () => req('/api/v1/audit/public-key'),
    rows: [{ principal: 'auditor-all', expect: 200, why: 'tenant *' }],
  },
  {
    method: 'GET',
    path: '/api/v1/governance/checklist',
    spec: 'auditor (code also admin)',
    expect: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 200 },
    request: () => req('/api/v1/governance/checklist'),
    rows: [{ principal: 'auditor-all', expect: 200, why: 'tenant *' }],
  },
  {
    method: 'GET',
    path: '/api/v1/policy',
    spec: 'admin',
    expect: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 403 },
    request: () => req('/api/v1/policy'),
    rows: [{ principal: 'admin-all', expect: 200, why: 'tenant *' }],
  },
  {
    method: 'PUT',
    path: '/api/v1/policy',
    spec: 'admin (code: only an admin of tenant *, the policy is global)',
    expect: { agent: 403, worker: 403, approver: 403, admin: 403, auditor: 403 },
    request: () => req('/api/v1/policy', { source: seedSource, message: 'matrix' }),
    rows: [{ principal: 'admin-all', expect: 200, why: 'tenant *' }],
  },
  {
    method: 'GET',
    path: '/api/v1/policy/snapshots',
    spec: 'admin',
    expect: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 403 },
    request: () => req('/api/v1/policy/snapshots'),
    rows: [{ principal: 'admin-all', expect: 200, why: 'tenant *' }],
  },
  {
    method: 'POST',
    path: '/api/v1/policy/rollback',
    spec: 'admin (code: only an admin of tenant *, the policy is global)',
    expect: { agent: 403, worker: 403, approver: 403, admin: 403, auditor: 403 },
    request: async (fx) => req('/api/v1/policy/rollback', { snapshot: await fx.snapshot() }),
    rows: [{ principal: 'admin-all', expect: 200, why: 'tenant *' }],
  },
  {
    method: 'POST',
    path: '/api/v1/policy/evaluate',
    spec: 'agent/admin',
    expect: { agent: 200, worker: 403, approver: 403, admin: 200, auditor: 403 },
    request: () => req('/api/v1/policy/evaluate', PROD_WRITE),
    rows: [
      { principal: 'agent-globex', expect: 200, why: 'an agent of another tenant, for itself' },
      {
        principal: 'agent-acme',
        expect: 403,
        why: 'evaluating for another tenant',
        request: () => req('/api/v1/policy/evaluate', { ...PROD_WRITE, tenant_id: 'globex' }),
      },
    ],
  },
  {
    method: 'PUT',
    path: '/api/v1/agents/{agent_id}',
    spec: 'admin/auditor for the agent endpoints; registering is admin only',
    expect: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 403 },
    request: (fx) => req(`/api/v1/agents/${fx.nextId('put-agent')}`, { risk_level: 'medium' }),
    rows: [
      {
        principal: 'admin-acme',
        expect: 404,
        why: 'registering into another tenant',
        request: (fx) =>
          req(`/api/v1/agents/${fx.nextId('put-agent')}`, {
            risk_level: 'medium',
            tenant_id: 'globex',
          }),
      },
      {
        principal: 'admin-all',
        expect: 200,
        why: 'tenant * names the tenant',
        request: (fx) =>
          req(`/api/v1/agents/${fx.nextId('put-agent')}`, {
            risk_level: 'medium',
            tenant_id: 'globex',
          }),
      },
    ],
  },
  {
    method: 'GET',
    path: '/api/v1/agents/{agent_id}',
    spec: 'not in §12 (the agents row gives admin/auditor)',
    expect: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 200 },
    request: async (fx) => req(`/api/v1/agents/${await fx.agent('acme')}`),
    rows: [
      {
        principal: 'auditor-acme',
        expect: 404,
        why: 'another tenant’s agent',
        request: async (fx) => req(`/api/v1/agents/${await fx.agent('globex')}?tenant_id=globex`),
      },
      {
        principal: 'admin-acme',
        expect: 404,
        why: 'another tenant’s agent',
        request: async (fx) => req(`/api/v1/agents/${await fx.agent('globex')}?tenant_id=globex`),
      },
      {
        principal: 'auditor-acme',
        expect: 404,
        why: 'another tenant’s agent id, looked up in the key’s tenant',
        request: async (fx) => req(`/api/v1/agents/${await fx.agent('globex')}`),
      },
      {
        principal: 'auditor-all',
        expect: 200,
        why: 'tenant *',
        request: async (fx) => req(`/api/v1/agents/${await fx.agent('globex')}?tenant_id=globex`),
      },
    ],
  },
  {
    method: 'GET',
    path: '/api/v1/agents',
    spec: 'admin/auditor',
    expect: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 200 },
    request: () => req('/api/v1/agents'),
    rows: [
      {
        principal: 'auditor-acme',
        expect: 200,
        why: 'lists without another tenant’s agent',
        listed: false,
        request: async (fx) => req('/api/v1/agents?limit=500', undefined, await fx.agent('globex')),
      },
      {
        principal: 'auditor-acme',
        expect: 200,
        why: 'lists the tenant’s agent',
        listed: true,
        request: async (fx) => req('/api/v1/agents?limit=500', undefined, await fx.agent('acme')),
      },
      { principal: 'admin-all', expect: 200, why: 'tenant *' },
    ],
  },
  {
    method: 'POST',
    path: '/api/v1/keys',
    spec: 'admin',
    expect: { agent: 403, worker: 403, approver: 403, admin: 201, auditor: 403 },
    request: () => req('/api/v1/keys', { name: 'matrix', tenant: 'acme', roles: ['agent'] }),
    rows: [
      {
        principal: 'admin-acme',
        expect: 403,
        why: 'a key for another tenant',
        request: () => req('/api/v1/keys', { name: 'matrix', tenant: 'globex', roles: ['agent'] }),
      },
      {
        principal: 'admin-acme',
        expect: 403,
        why: 'a key for tenant * from a tenant admin',
        request: () => req('/api/v1/keys', { name: 'matrix', tenant: '*', roles: ['admin'] }),
      },
      {
        principal: 'admin-all',
        expect: 201,
        why: 'tenant *',
        request: () => req('/api/v1/keys', { name: 'matrix', tenant: 'globex', roles: ['agent'] }),
      },
    ],
  },
  {
    method: 'GET',
    path: '/api/v1/keys',
    spec: 'not in §12 (keys are admin)',
    expect: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 403 },
    request: () => req('/api/v1/keys'),
    rows: [
      {
        principal: 'admin-acme',
        expect: 200,
        why: 'lists without another tenant’s key',
        listed: false,
        request: async (fx) => req('/api/v1/keys', undefined, await fx.key('globex')),
      },
      {
        principal: 'admin-acme',
        expect: 200,
        why: 'lists the tenant’s key',
        listed: true,
        request: async (fx) => req('/api/v1/keys', undefined, await fx.key('acme')),
      },
      { principal: 'admin-all', expect: 200, why: 'tenant *' },
    ],
  },
  {
    method: 'DELETE',
    path: '/api/v1/keys/{id}',
    spec: 'admin',
    expect: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 403 },
    request: async (fx) => req(`/api/v1/keys/${await fx.key('acme')}`),
    rows: [
      {
        principal: 'admin-acme',
        expect: 404,
        why: 'another tenant’s key',
        request: async (fx) => req(`/api/v1/keys/${await fx.key('globex')}`),
      },
      { principal: 'admin-all', expect: 200, why: 'tenant *' },
    ],
  },
];

/** Routes that need no key. `probe` is a URL that exercises the route; 200 unless `status`. */
const PUBLIC_ROUTES: readonly {
  readonly method: Method;
  readonly path: string;
  readonly probe: string;
  readonly status?: number;
}[] = [
  { method: 'GET', path: '/healthz', probe: '/healthz' },
  { method: 'GET', path: '/readyz', probe: '/readyz' },
  { method: 'GET', path: '/metrics', probe: '/metrics' },
  { method: 'GET', path: '/api/v1/openapi.json', probe: '/api/v1/openapi.json' },
  // The docs UI (@fastify/swagger-ui).
  { method: 'GET', path: '/docs', probe: '/docs' },
  { method: 'GET', path: '/docs/', probe: '/docs/' },
  { method: 'GET', path: '/docs/json', probe: '/docs/json' },
  { method: 'GET', path: '/docs/yaml', probe: '/docs/yaml' },
  { method: 'GET', path: '/docs/static/index.html', probe: '/docs/static/index.html', status: 302 },
  {
    method: 'GET',
    path: '/docs/static/swagger-initializer.js',
    probe: '/docs/static/swagger-initializer.js',
  },
  { method: 'GET', path: '/docs/static/*', probe: '/docs/static/swagger-ui.css' },
];

/**
 * §12 endpoints with no route yet. Kept so that the report is in the code: when one is
 * implemented, the route check below fails until it gets a row in `ENDPOINTS`.
 */
const SPEC_ONLY: Readonly<Record<string, string>> = {
  'GET /api/v1/agents/{agent_id}/compliance': 'admin/auditor: EU AI Act report (§12)',
};

const routeKey = (method: string, path: string): string => `${method} ${path}`;

/**
 * Every (method, path) the router serves, from `printRoutes`, with `:param` as `{param}`. Each
 * parsed route is checked against the router with `hasRoute`. The printed tree drops the static
 * part before a wildcard (`/docs/static/*` prints as `*` under `/docs/`), so a wildcard is resolved
 * to the one `wildcards` entry under the printed prefix that the router has; a wildcard route
 * with no such entry fails.
 */
function liveRoutes(app: FastifyInstance, wildcards: readonly string[]): Set<string> {
  const tree = app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes = new Set<string>();
  const has = (method: string, url: string): boolean => app.hasRoute({ method, url });
  for (const line of tree.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+) \(([A-Z]+(?:, [A-Z]+)*)\)$/.exec(line);
    assert.ok(m !== null, `cannot parse the route tree line ${JSON.stringify(line)}`);
    const [, indent = '', segment = '', methods = ''] = m;
    const depth = indent.length / 4;
    const printed = (depth === 0 ? '' : (stack[depth - 1] ?? '')) + segment;
    stack.length = depth;
    stack.push(printed);
    for (const method of methods.split(', ')) {
      let path = printed;
      if (!has(method, path) && segment === '*') {
        const prefix = printed.slice(0, -1);
        const candidates = wildcards.filter(
          (w) => w.startsWith(prefix) && w.endsWith('*') && has(method, w),
        );
        assert.equal(candidates.length, 1, `wildcard route ${method} ${printed} not in the table`);
        path = candidates[0] ?? printed;
      }
      assert.ok(has(method, path), `parsed ${method} ${path} but the router has no such route`);
      routes.add(routeKey(method, path.replace(/:(\w+)/g, '{$1}')));
    }
  }
  // HEAD is added by Fastify for every GET; it is covered by the GET row.
  for (const route of [...routes]) {
    if (!route.startsWith('HEAD ')) continue;
    assert.ok(routes.has(route.replace(/^HEAD /, 'GET ')), `${route} without a GET`);
    routes.delete(route);
  }
  return routes;
}

/** The table's wildcard paths, which `liveRoutes` needs to name wildcard routes. */
const WILDCARDS = PUBLIC_ROUTES.map((r) => r.path).filter((p) => p.endsWith('*'));

const sorted = (values: Iterable<string>): string[] => [...values].sort();

describe('route coverage: the table has an entry for every live route', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await testServer({ authenticator: tokenAuthenticator });
  });

  it('every live (method, path) is in the table, and every table entry is live', () => {
    const live = liveRoutes(app, WILDCARDS);
    assert.ok(live.has('GET /healthz') && live.has('GET /api/v1/jobs/{job_id}'), 'parse sanity');
    const table = [
      ...ENDPOINTS.map((e) => routeKey(e.method, e.path)),
      ...PUBLIC_ROUTES.map((r) => routeKey(r.method, r.path)),
    ];
    assert.equal(new Set(table).size, table.length, 'no duplicate table entries');
    assert.deepEqual(sorted(live), sorted(table));
  });

  it('the OpenAPI document lists exactly the /api/v1 endpoints of the table', async () => {
    const res = await send(app, null, 'GET', '/api/v1/openapi.json');
    assert.equal(res.statusCode, 200);
    const doc = res.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
    assert.equal(doc.openapi, '3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => routeKey(method.toUpperCase(), path)),
    );
    assert.deepEqual(sorted(documented), sorted(ENDPOINTS.map((e) => routeKey(e.method, e.path))));
  });

  it('the §12 endpoints in SPEC_ONLY have no route yet', () => {
    const live = liveRoutes(app, WILDCARDS);
    for (const route of Object.keys(SPEC_ONLY)) assert.ok(!live.has(route), route);
  });

  for (const route of PUBLIC_ROUTES) {
    it(`${route.method} ${route.path} answers without a key (${route.probe})`, async () => {
      const res = await send(app, null, route.method, route.probe);
      assert.equal(res.statusCode, route.status ?? 200, res.body);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Role matrix
// ---------------------------------------------------------------------------------------------

describe('role matrix: every /api/v1 endpoint × every role, no key, other tenants', () => {
  let app: FastifyInstance;
  const fx = new Fixtures(() => app);
  before(async () => {
    app = await testServer({ authenticator: tokenAuthenticator });
  });

  const check = async (
    endpoint: Endpoint,
    headers: Record<string, string>,
    request: Req,
    expected: Expect | 401,
    listed?: boolean,
  ): Promise<void> => {
    const res = await app.inject({
      method: endpoint.method,
      url: request.url,
      headers,
      ...(request.payload === undefined ? {} : { payload: request.payload }),
    });
    const context = `${endpoint.method} ${request.url} → ${res.statusCode} ${res.body}`;
    assert.equal(res.statusCode, expected, context);
    if (expected === 401) assertEnvelope(res, 'WARDEN_UNAUTHENTICATED');
    else if (expected === 403 || expected === 404 || expected === 409) {
      assertEnvelope(res, CODE_FOR[expected]);
    }
    if (listed !== undefined) {
      assert.ok(request.fixture !== undefined, 'a listed row names its fixture');
      assert.equal(res.body.includes(request.fixture), listed, `${request.fixture}: ${context}`);
    }
  };

  for (const endpoint of ENDPOINTS) {
    describe(`${endpoint.method} ${endpoint.path} [§12: ${endpoint.spec}]`, () => {
      it('no key → 401', async () => {
        await check(endpoint, {}, await endpoint.request(fx), 401);
      });
      it('an unknown key → 401', async () => {
        await check(endpoint, BAD_KEY, await endpoint.request(fx), 401);
      });
      for (const role of ROLES) {
        const principal = ROLE_PRINCIPAL[role];
        const expected = endpoint.expect[role];
        it(`${role} (${principal}) → ${expected}`, async () => {
          await check(endpoint, as(principal), await endpoint.request(fx), expected);
        });
      }
      for (const row of endpoint.rows) {
        it(`${row.principal}, ${row.why} → ${row.expect}`, async () => {
          const request = await (row.request ?? endpoint.request)(fx);
          await check(endpoint, as(row.principal), request, row.expect, row.listed);
        });
      }
    });
  }

  it('the role table names every role for every endpoint', () => {
    for (const endpoint of ENDPOINTS) {
      assert.deepEqual(sorted(Object.keys(endpoint.expect)), sorted(ROLES), endpoint.path);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Error codes
// ---------------------------------------------------------------------------------------------

/**
 * Codes no request can produce yet, each with the reason. The last test below fails when one of
 * them becomes reachable (add a case, remove it here) or when a new code has neither.
 */
const UNREACHABLE: Readonly<Partial<Record<ErrorCode, string>>> = {
  WARDEN_METHOD_NOT_ALLOWED:
    'not wired: Fastify answers a known path with an unsupported method through the ' +
    'not-found handler, so PATCH /api/v1/jobs is 404 WARDEN_ROUTE_NOT_FOUND (see that case)',
};

const ERROR_BODY_LIMIT = 32 * 1024;

interface ErrorContext {
  readonly app: FastifyInstance;
  readonly fx: Fixtures;
  /** A JSON request as a principal (null: no key). */
  readonly send: (
    principal: string | null,
    method: HTTPMethods,
    url: string,
    payload?: Json,
  ) => Promise<Response>;
  /** A raw body with a content type, as a principal. */
  readonly raw: (
    principal: string,
    method: HTTPMethods,
    url: string,
    body: string,
    contentType: string,
  ) => Promise<Response>;
}

interface ErrorCase {
  readonly code: ErrorCode;
  readonly name: string;
  readonly run: (ctx: ErrorContext) => Promise<Response>;
  readonly check?: (body: { error: { message: string; details: Json } }) => void;
}

const ERROR_CASES: readonly ErrorCase[] = [
  {
    code: 'WARDEN_VALIDATION',
    name: 'a body field of the wrong type',
    run: ({ send }) => send('agent-acme', 'POST', '/api/v1/jobs', { topic: 123 }),
    check: (body) => {
      assert.match(body.error.message, /topic/);
    },
  },
  {
    code: 'WARDEN_VALIDATION',
    name: 'an unknown body field, named in the details',
    run: ({ send }) => send('agent-acme', 'POST', '/api/v1/jobs', { ...READ_JOB, colour: 'red' }),
    check: (body) => {
      assert.deepEqual(
        (body.error.details['problems'] as { field?: string }[]).map((p) => p.field),
        ['colour'],
      );
    },
  },
  {
    code: 'WARDEN_VALIDATION',
    name: 'a missing required field',
    run: ({ send }) => send('admin-acme', 'POST', '/api/v1/keys', { name: 'k', tenant: 'acme' }),
  },
  {
    code: 'WARDEN_VALIDATION',
    name: 'a query parameter of the wrong type',
    run: ({ send }) => send('agent-acme', 'GET', '/api/v1/jobs?limit=many'),
  },
  {
    code: 'WARDEN_VALIDATION',
    name: 'an unknown query parameter',
    run: ({ send }) => send('agent-acme', 'GET', '/api/v1/jobs?colour=red'),
  },
  {
    code: 'WARDEN_VALIDATION',
    name: 'a path parameter that is too long',
    run: ({ send }) => send('agent-acme', 'GET', `/api/v1/jobs/${'j'.repeat(65)}`),
  },
  {
    code: 'WARDEN_VALIDATION',
    name: 'a cursor that is not a cursor',
    run: ({ send }) => send('admin-acme', 'GET', '/api/v1/agents?cursor=not-a-cursor'),
  },
  {
    code: 'WARDEN_MALFORMED_JSON',
    name: 'a body that is not JSON',
    run: ({ raw }) => raw('agent-acme', 'POST', '/api/v1/jobs', '{"topic":', 'application/json'),
  },
  {
    code: 'WARDEN_MALFORMED_JSON',
    name: 'an empty JSON body',
    run: ({ raw }) => raw('agent-acme', 'POST', '/api/v1/jobs', '', 'application/json'),
  },
  {
    code: 'WARDEN_MALFORMED_JSON',
    name: 'JSON followed by garbage',
    run: ({ raw }) =>
      raw('agent-acme', 'POST', '/api/v1/jobs', '{"topic":"a.b"} tail', 'application/json'),
  },
  {
    code: 'WARDEN_UNAUTHENTICATED',
    name: 'no key',
    run: ({ send }) => send(null, 'GET', '/api/v1/jobs'),
  },
  {
    code: 'WARDEN_UNAUTHENTICATED',
    name: 'an unknown key',
    run: ({ app }) => app.inject({ method: 'GET', url: '/api/v1/jobs', headers: BAD_KEY }),
  },
  {
    code: 'WARDEN_FORBIDDEN',
    name: 'a worker submitting a job',
    run: ({ send }) => send('worker-acme', 'POST', '/api/v1/jobs', READ_JOB),
  },
  {
    code: 'WARDEN_SELF_APPROVAL',
    name: 'an admin approving the job it submitted',
    run: async ({ send, fx }) => {
      const job = await fx.approval('admin-acme');
      return send('admin-acme', 'POST', `/api/v1/approvals/${job.job_id}/approve`, {});
    },
  },
  {
    code: 'WARDEN_NOT_FOUND',
    name: 'an unknown job',
    run: ({ send }) => send('agent-acme', 'GET', '/api/v1/jobs/no-such-job'),
  },
  {
    code: 'WARDEN_NOT_FOUND',
    name: 'an approval for a job that needed none',
    run: async ({ send, fx }) => {
      const job = await fx.job('agent-acme');
      return send('approver-acme', 'GET', `/api/v1/approvals/${job.job_id}`);
    },
  },
  {
    code: 'WARDEN_ROUTE_NOT_FOUND',
    name: 'an unknown path',
    run: ({ send }) => send('agent-acme', 'GET', '/api/v1/no-such-endpoint'),
  },
  {
    code: 'WARDEN_ROUTE_NOT_FOUND',
    name: 'a known path with a method it does not serve (405 is not wired)',
    run: ({ send }) => send('agent-acme', 'PATCH', '/api/v1/jobs', READ_JOB),
  },
  {
    code: 'WARDEN_IDEMPOTENCY_CONFLICT',
    name: 'an idempotency key reused with different content',
    run: async ({ send }) => {
      const key = { idempotency_key: 'matrix-idem' };
      const first = await send('agent-acme', 'POST', '/api/v1/jobs', { ...READ_JOB, ...key });
      assert.equal(first.statusCode, 201);
      return send('agent-acme', 'POST', '/api/v1/jobs', { ...PROD_WRITE, ...key });
    },
  },
  {
    code: 'WARDEN_INVALID_STATE',
    name: 'cancelling a job that is already terminal',
    run: async ({ send, fx }) => {
      const job = await fx.job('agent-acme', DESTRUCTIVE);
      assert.equal(job.state, 'DENIED');
      return send('agent-acme', 'POST', `/api/v1/jobs/${job.job_id}/cancel`);
    },
  },
  {
    code: 'WARDEN_INVALID_STATE',
    name: 'revoking a key twice',
    run: async ({ send, fx }) => {
      const id = await fx.key('acme');
      assert.equal((await send('admin-acme', 'DELETE', `/api/v1/keys/${id}`)).statusCode, 200);
      return send('admin-acme', 'DELETE', `/api/v1/keys/${id}`);
    },
  },
  {
    code: 'WARDEN_APPROVAL_RESOLVED',
    name: 'approving an approval already rejected',
    run: async ({ send, fx }) => {
      const job = await fx.approval('agent-acme');
      const url = `/api/v1/approvals/${job.job_id}`;
      assert.equal((await send('approver-acme', 'POST', `${url}/reject`, {})).statusCode, 200);
      return send('approver2-acme', 'POST', `${url}/approve`, {});
    },
  },
  {
    code: 'WARDEN_JOB_HASH_MISMATCH',
    name: 'approving with a job hash other than the stored one',
    run: async ({ send, fx }) => {
      const job = await fx.approval('agent-acme');
      return send('approver-acme', 'POST', `/api/v1/approvals/${job.job_id}/approve`, {
        job_hash: '0'.repeat(64),
      });
    },
  },
  {
    code: 'WARDEN_BODY_TOO_LARGE',
    name: 'a body over the configured limit',
    run: ({ send }) =>
      send('agent-acme', 'POST', '/api/v1/jobs', {
        ...READ_JOB,
        payload: 'x'.repeat(ERROR_BODY_LIMIT),
      }),
  },
  {
    code: 'WARDEN_UNSUPPORTED_MEDIA_TYPE',
    name: 'a text/plain body',
    run: ({ raw }) => raw('agent-acme', 'POST', '/api/v1/jobs', 'topic=a.b', 'text/plain'),
  },
  {
    code: 'WARDEN_UNSUPPORTED_MEDIA_TYPE',
    name: 'a form body',
    run: ({ raw }) =>
      raw('agent-acme', 'POST', '/api/v1/jobs', 'topic=a.b', 'application/x-www-form-urlencoded'),
  },
  {
    code: 'WARDEN_POLICY_INVALID',
    name: 'a policy that does not load (JSON body)',
    run: ({ send }) =>
      send('admin-all', 'PUT', '/api/v1/policy', { source: 'version: v1\nrules: 3\n' }),
    check: (body) => {
      assert.ok(Array.isArray(body.error.details['problems']));
    },
  },
  {
    code: 'WARDEN_POLICY_INVALID',
    name: 'a policy that does not load (raw YAML body)',
    run: ({ raw }) =>
      raw('admin-all', 'PUT', '/api/v1/policy', 'version: v1\nbogus: 1\n', 'application/yaml'),
  },
  {
    code: 'WARDEN_RATE_LIMITED',
    name: 'a key past its burst (burst 2, 1 per second, a frozen clock), with Retry-After',
    run: async () => {
      const app = await testServer({
        authenticator: tokenAuthenticator,
        rateLimits: { requests_per_second: 1, burst: 2 },
        now: () => 0,
      });
      for (let i = 0; i < 2; i++) {
        assert.equal((await send(app, 'agent-acme', 'GET', '/api/v1/jobs')).statusCode, 200);
      }
      const res = await send(app, 'agent-acme', 'GET', '/api/v1/jobs');
      assert.equal(res.headers['retry-after'], '1');
      return res;
    },
    check: (body) => {
      assert.equal(body.error.details['retry_after_ms'], 1000);
    },
  },
  {
    code: 'WARDEN_INTERNAL',
    name: 'an unexpected fault (an authenticator that throws), revealing nothing',
    run: async () => {
      const faulty: Authenticator = {
        authenticate: () => Promise.reject(new Error('injected fault: secret detail')),
      };
      const app = await testServer({ authenticator: faulty });
      return send(app, null, 'GET', '/api/v1/jobs');
    },
    check: (body) => {
      assert.doesNotMatch(JSON.stringify(body), /injected|secret/);
    },
  },
  {
    code: 'WARDEN_STORE_UNAVAILABLE',
    name: 'a read after the store closed',
    run: async () => {
      const { app, store } = await testGateway({ authenticator: tokenAuthenticator });
      await store.close();
      return send(app, 'agent-acme', 'GET', '/api/v1/jobs');
    },
  },
  {
    code: 'WARDEN_AUDIT_UNAVAILABLE',
    name: 'a submit while the audit table refuses inserts (audit fail mode closed)',
    run: async () => {
      const path = join(mkdtempSync(join(tmpdir(), 'warden-matrix-')), 'gateway.db');
      const { app } = await testGateway({ authenticator: tokenAuthenticator, dbPath: path });
      const handle = new Database(path);
      handle.exec(
        "CREATE TRIGGER audit_broken BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'broken'); END",
      );
      handle.close();
      return send(app, 'agent-acme', 'POST', '/api/v1/jobs', READ_JOB);
    },
  },
  {
    code: 'WARDEN_LEASE_LOST',
    name: 'a result under a lease that does not hold the running job',
    run: async () => {
      const { app, services } = await testGateway({ authenticator: tokenAuthenticator });
      const submitted = await send(app, 'agent-acme', 'POST', '/api/v1/jobs', READ_JOB);
      await services.relay.publishPending();
      const leased = await send(app, 'worker-acme', 'POST', '/api/v1/workers/lease', {
        topics: [READ_JOB.topic],
      });
      assert.equal(leased.json<{ items: unknown[] }>().items.length, 1);
      const jobId = submitted.json<Submitted>().job_id;
      return send(app, 'worker-acme', 'POST', `/api/v1/jobs/${jobId}/result`, {
        status: 'succeeded',
        lease_id: 'lease_not_the_one',
      });
    },
  },
  {
    code: 'WARDEN_STORE_UNAVAILABLE',
    name: 'a submit after the store closed (nothing released)',
    run: async () => {
      const { app, store } = await testGateway({ authenticator: tokenAuthenticator });
      await store.close();
      return send(app, 'agent-acme', 'POST', '/api/v1/jobs', READ_JOB);
    },
  },
];

describe('error codes: every registered code through inject(), with status and envelope', () => {
  let app: FastifyInstance;
  const fx = new Fixtures(() => app);
  before(async () => {
    app = await testServer({ authenticator: tokenAuthenticator, bodyLimit: ERROR_BODY_LIMIT });
  });
  const ctx = (): ErrorContext => ({
    app,
    fx,
    send: (principal, method, url, payload) => send(app, principal, method, url, payload),
    raw: (principal, method, url, body, contentType) =>
      app.inject({
        method,
        url,
        headers: { ...as(principal), 'content-type': contentType },
        payload: body,
      }),
  });

  for (const errorCase of ERROR_CASES) {
    const { status } = ERROR_REGISTRY[errorCase.code];
    it(`${errorCase.code} (${status}): ${errorCase.name}`, async () => {
      const res = await errorCase.run(ctx());
      assertEnvelope(res, errorCase.code);
      errorCase.check?.(res.json());
    });
  }

  it('every registry code is produced above or listed, with a reason, as unreachable', () => {
    const covered = new Set(ERROR_CASES.map((c) => c.code));
    const uncovered = (Object.keys(ERROR_REGISTRY) as ErrorCode[]).filter((c) => !covered.has(c));
    assert.deepEqual(sorted(Object.keys(UNREACHABLE)), sorted(uncovered));
    for (const reason of Object.values(UNREACHABLE)) assert.ok(reason.length > 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Bad input on every endpoint that takes a body
// ---------------------------------------------------------------------------------------------

const BODY_ENDPOINTS: readonly {
  readonly method: Method;
  readonly url: string;
  readonly principal: string;
  readonly valid: Json;
  readonly wrongType: Json;
}[] = [
  {
    method: 'POST',
    url: '/api/v1/jobs',
    principal: 'agent-acme',
    valid: READ_JOB,
    wrongType: { topic: ['a'] },
  },
  {
    method: 'POST',
    url: '/api/v1/approvals/no-such-job/approve',
    principal: 'approver-acme',
    valid: { note: 'ok' },
    wrongType: { note: 1 },
  },
  {
    method: 'POST',
    url: '/api/v1/approvals/no-such-job/reject',
    principal: 'approver-acme',
    valid: { note: 'no' },
    wrongType: { note: false },
  },
  {
    method: 'PUT',
    url: '/api/v1/policy',
    principal: 'admin-all',
    valid: { source: seedSource },
    wrongType: { source: { rules: [] } },
  },
  {
    method: 'POST',
    url: '/api/v1/policy/rollback',
    principal: 'admin-all',
    valid: { snapshot: '0'.repeat(64) },
    wrongType: { snapshot: 1 },
  },
  {
    method: 'POST',
    url: '/api/v1/policy/evaluate',
    principal: 'agent-acme',
    valid: READ_JOB,
    wrongType: { topic: 'a.b', risk_tags: 'prod' },
  },
  {
    method: 'PUT',
    url: '/api/v1/agents/bad-input',
    principal: 'admin-acme',
    valid: { risk_level: 'low' },
    wrongType: { risk_level: 'low', max_transaction_amount: '10' },
  },
  {
    method: 'POST',
    url: '/api/v1/keys',
    principal: 'admin-acme',
    valid: { name: 'k', tenant: 'acme', roles: ['agent'] },
    wrongType: { name: 'k', tenant: 'acme', roles: 'agent' },
  },
];

const BAD_BODIES: readonly {
  readonly name: string;
  readonly code: ErrorCode;
  readonly body: (valid: Json, wrongType: Json) => string;
  readonly contentType: string;
}[] = [
  {
    name: 'malformed JSON',
    code: 'WARDEN_MALFORMED_JSON',
    body: () => '{"a":',
    contentType: 'application/json',
  },
  {
    name: 'an empty body',
    code: 'WARDEN_MALFORMED_JSON',
    body: () => '',
    contentType: 'application/json',
  },
  {
    name: 'an array',
    code: 'WARDEN_VALIDATION',
    body: () => '[]',
    contentType: 'application/json',
  },
  { name: 'null', code: 'WARDEN_VALIDATION', body: () => 'null', contentType: 'application/json' },
  {
    name: 'a wrong type',
    code: 'WARDEN_VALIDATION',
    body: (_valid, wrongType) => JSON.stringify(wrongType),
    contentType: 'application/json',
  },
  {
    name: 'an unknown field',
    code: 'WARDEN_VALIDATION',
    body: (valid) => JSON.stringify({ ...valid, unexpected_field: true }),
    contentType: 'application/json',
  },
  {
    name: 'an oversized body',
    code: 'WARDEN_BODY_TOO_LARGE',
    body: (valid) => JSON.stringify({ ...valid, padding: 'x'.repeat(ERROR_BODY_LIMIT) }),
    contentType: 'application/json',
  },
  {
    name: 'a text/plain body',
    code: 'WARDEN_UNSUPPORTED_MEDIA_TYPE',
    body: (valid) => JSON.stringify(valid),
    contentType: 'text/plain',
  },
  {
    name: 'an XML body',
    code: 'WARDEN_UNSUPPORTED_MEDIA_TYPE',
    body: () => '<job/>',
    contentType: 'application/xml',
  },
];

/**
 * Bad input at the edges of what JSON, YAML and URLs allow: numbers beyond the double range, deep
 * nesting, bad percent-encoding, long path parameters. Each gets a 4xx with a registered code and
 * the envelope (§11), never a 5xx or the framework's own body.
 */
const BAD_INPUT_EDGES: readonly {
  readonly name: string;
  readonly method: Method;
  readonly url: string;
  readonly principal: string;
  readonly body?: string;
  readonly contentType?: string;
  readonly expect: { readonly status: number; readonly code?: ErrorCode };
}[] = [
  {
    name: 'a non-finite number in a job payload',
    method: 'POST',
    url: '/api/v1/jobs',
    principal: 'agent-acme',
    body: '{"topic":"job.mcp-bridge.read.x","payload":{"amount":1e999}}',
    contentType: 'application/json',
    expect: { status: 400, code: 'WARDEN_VALIDATION' },
  },
  {
    name: 'a non-finite number in an evaluated payload',
    method: 'POST',
    url: '/api/v1/policy/evaluate',
    principal: 'agent-acme',
    body: '{"topic":"job.mcp-bridge.read.x","payload":-1e999}',
    contentType: 'application/json',
    expect: { status: 400, code: 'WARDEN_VALIDATION' },
  },
  {
    name: 'a deeply nested job payload (10,000 levels, 20 KB)',
    method: 'POST',
    url: '/api/v1/jobs',
    principal: 'agent-acme',
    body: `{"topic":"job.mcp-bridge.read.x","payload":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
    contentType: 'application/json',
    expect: { status: 400, code: 'WARDEN_VALIDATION' },
  },
  {
    name: 'a non-finite max_transaction_amount in an agent profile',
    method: 'PUT',
    url: '/api/v1/agents/infinite',
    principal: 'admin-acme',
    body: '{"risk_level":"low","max_transaction_amount":1e999}',
    contentType: 'application/json',
    expect: { status: 400, code: 'WARDEN_VALIDATION' },
  },
  {
    name: 'a deeply nested policy (1,000 levels)',
    method: 'PUT',
    url: '/api/v1/policy',
    principal: 'admin-all',
    body: `version: v1\nrules: ${'['.repeat(1000)}${']'.repeat(1000)}\n`,
    contentType: 'application/yaml',
    expect: { status: 422, code: 'WARDEN_POLICY_INVALID' },
  },
  {
    name: 'a path with a bad percent-encoding',
    method: 'GET',
    url: '/api/v1/jobs/%zz',
    principal: 'agent-acme',
    expect: { status: 400, code: 'WARDEN_VALIDATION' },
  },
  {
    name: 'a trace id of 101 characters (the schema allows 128)',
    method: 'GET',
    url: `/api/v1/traces/${'t'.repeat(101)}`,
    principal: 'auditor-acme',
    expect: { status: 404, code: 'WARDEN_NOT_FOUND' },
  },
  {
    name: 'an agent id of 101 characters (the schema allows 128)',
    method: 'PUT',
    url: `/api/v1/agents/${'a'.repeat(101)}`,
    principal: 'admin-acme',
    body: '{"risk_level":"low"}',
    contentType: 'application/json',
    expect: { status: 200 },
  },
];

describe('bad input: stable 4xx codes on every endpoint that takes a body, never a 5xx', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await testServer({ authenticator: tokenAuthenticator, bodyLimit: ERROR_BODY_LIMIT });
  });

  for (const endpoint of BODY_ENDPOINTS) {
    for (const bad of BAD_BODIES) {
      it(`${endpoint.method} ${endpoint.url}: ${bad.name} → ${bad.code}`, async () => {
        const res = await app.inject({
          method: endpoint.method,
          url: endpoint.url,
          headers: { ...as(endpoint.principal), 'content-type': bad.contentType },
          payload: bad.body(endpoint.valid, endpoint.wrongType),
        });
        assertEnvelope(res, bad.code);
      });
    }
  }

  for (const edge of BAD_INPUT_EDGES) {
    it(`${edge.method} ${edge.url.slice(0, 60)}: ${edge.name} → ${edge.expect.status}`, async () => {
      const res = await app.inject({
        method: edge.method,
        url: edge.url,
        headers: {
          ...as(edge.principal),
          ...(edge.contentType === undefined ? {} : { 'content-type': edge.contentType }),
        },
        ...(edge.body === undefined ? {} : { payload: edge.body }),
      });
      if (edge.expect.code === undefined) assert.equal(res.statusCode, edge.expect.status);
      else assertEnvelope(res, edge.expect.code);
    });
  }
});
