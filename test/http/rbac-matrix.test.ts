/**
 * The RBAC matrix (SPEC §11, §12): every `/api/v1` endpoint × every role × {a resource of the
 * caller's own tenant, a resource of another tenant}, each cell with its expected status. The
 * callers are `<role>-acme`; resources are made fresh for every cell, in `acme` or `globex`, by
 * principals of that tenant (test/support/rbac.ts). An agent's own-tenant job is one it submitted
 * (agents read only their own jobs; another agent's job is covered in matrix.test.ts).
 *
 * What a cell proves about another tenant's resource:
 * - it is 404 WARDEN_NOT_FOUND, or 403 WARDEN_FORBIDDEN only where the role is refused outright
 *   (403 on its own tenant's resource too); never 2xx;
 * - the answer is the one a resource that does not exist gets (the id, or the tenant written
 *   into, swapped for an unknown one), so it reveals nothing, and it echoes none of the
 *   resource's data that the request did not hold;
 * - the resource, read by its own tenant, did not change.
 * A list answers 200 without the other tenant's item (and with the own tenant's item where the
 * role may see it); a report on every tenant (the governance checklist) names none of another
 * tenant's data. Endpoints with no tenant-scoped resource (the policy, chain verification, the
 * signing key) are checked per role only, and say why.
 *
 * Adding an endpoint: one row in ROWS (method, path, scope, cells, target). The completeness test
 * fails until every endpoint of the OpenAPI document has a row.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { HTTPMethods, LightMyRequestResponse } from 'fastify';
import { ROLES } from '../../src/core/model/principal.js';
import type { Role } from '../../src/core/model/principal.js';
import { seedSource } from '../support/http-server.js';
import { actor, RbacFixtures } from '../support/rbac.js';
import type { Json, Made, Tenant } from '../support/rbac.js';

type Method = Extract<HTTPMethods, 'GET' | 'POST' | 'PUT' | 'DELETE'>;
type Status = 200 | 201 | 403 | 404;
/** The expected status on [the caller's own tenant's resource, another tenant's resource]. */
type Pair = readonly [own: Status, other: Status];

/** Refused by role before any lookup, whoever owns the resource. */
const NO: Pair = [403, 403];

const OWN: Tenant = 'acme';
const OTHER: Tenant = 'globex';

/** One request of a cell, about a resource made for it. */
interface Target {
  readonly url: string;
  readonly payload?: Json;
  /** What names the resource in the request: its id, or the tenant a write goes into. */
  readonly ref?: string;
  /** On a list: the id that shows the resource is in it. */
  readonly item?: string;
  /** The resource's data: a refusal echoes none of it that the request did not hold. */
  readonly secrets?: readonly string[];
  /** Asserts that the resource did not change. */
  readonly intact?: () => Promise<void>;
}

interface RowBase {
  readonly method: Method;
  /** As in the OpenAPI document. */
  readonly path: string;
  /** What the row's resource is (several rows may share an endpoint). */
  readonly about: string;
}

/**
 * `resource`: the URL names one resource (404 when it is another tenant's).
 * `list`: a collection, filtered to the caller's tenant (the item is absent for another tenant).
 * `into-tenant`: a write that names the tenant it goes into (refused for another tenant).
 * `report`: one answer about the whole gateway; it names nothing of another tenant's resource.
 */
interface TenantRow extends RowBase {
  readonly scope: 'resource' | 'list' | 'into-tenant' | 'report';
  readonly cells: Readonly<Record<Role, Pair>>;
  readonly target: (fx: RbacFixtures, tenant: Tenant) => Promise<Target>;
}

/** No tenant-scoped resource: one cell per role. */
interface GlobalRow extends RowBase {
  readonly scope: 'none';
  readonly cells: Readonly<Record<Role, Status>>;
  readonly target: (fx: RbacFixtures) => Promise<Target>;
}

type Row = TenantRow | GlobalRow;

/** A request about one made resource. */
const on = (made: Made, url: string, payload?: Json): Promise<Target> =>
  Promise.resolve({
    url,
    ...(payload === undefined ? {} : { payload }),
    ref: made.id,
    secrets: made.secrets,
    intact: made.intact,
  });

/** A list that should (own tenant) or should not (another tenant) hold the made resource. */
const listing = (made: Made, url: string, payload?: Json): Promise<Target> =>
  Promise.resolve({
    url,
    ...(payload === undefined ? {} : { payload }),
    item: made.id,
    secrets: made.secrets,
    intact: made.intact,
  });

/** A write into `tenant`; `intact` checks that nothing of it landed there. */
const into = async (
  fx: RbacFixtures,
  tenant: Tenant,
  url: string,
  payload: Json,
  read: string,
): Promise<Target> => ({
  url,
  payload,
  ref: tenant,
  intact: await fx.unchanged([actor('auditor', tenant), read]),
});

const ROWS: readonly Row[] = [
  // ------------------------------------------------------------------------------- jobs
  {
    method: 'POST',
    path: '/api/v1/jobs',
    about: 'a submit into the tenant',
    scope: 'into-tenant',
    cells: { agent: [201, 403], worker: NO, approver: NO, admin: [201, 403], auditor: NO },
    target: (fx, tenant) => {
      const { body } = fx.jobBody('read', tenant);
      return into(fx, tenant, '/api/v1/jobs', body, `/api/v1/jobs?topic=${String(body['topic'])}`);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/jobs',
    about: 'a QUEUED job, listed by its topic',
    scope: 'list',
    cells: { agent: [200, 200], worker: NO, approver: NO, admin: [200, 200], auditor: [200, 200] },
    target: async (fx, tenant) => {
      const job = await fx.queued(tenant);
      return listing(job, `/api/v1/jobs?topic=${job.topic}`);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/jobs/{job_id}',
    about: 'a QUEUED job',
    scope: 'resource',
    cells: {
      agent: [200, 404],
      worker: NO,
      approver: [200, 404],
      admin: [200, 404],
      auditor: [200, 404],
    },
    target: async (fx, tenant) => {
      const job = await fx.queued(tenant);
      return on(job, `/api/v1/jobs/${job.id}`);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/jobs/{job_id}',
    about: 'a DENIED job, long-polled (?wait_for=terminal)',
    scope: 'resource',
    cells: {
      agent: [200, 404],
      worker: NO,
      approver: [200, 404],
      admin: [200, 404],
      auditor: [200, 404],
    },
    target: async (fx, tenant) => {
      const job = await fx.denied(tenant);
      return on(job, `/api/v1/jobs/${job.id}?wait_for=terminal&wait=5`);
    },
  },
  {
    method: 'POST',
    path: '/api/v1/jobs/{job_id}/cancel',
    about: 'a QUEUED job',
    scope: 'resource',
    cells: { agent: [200, 404], worker: NO, approver: NO, admin: [200, 404], auditor: NO },
    target: async (fx, tenant) => {
      const job = await fx.queued(tenant);
      return on(job, `/api/v1/jobs/${job.id}/cancel`);
    },
  },
  // -------------------------------------------------------------------------- approvals
  {
    method: 'GET',
    path: '/api/v1/approvals',
    about: 'a PENDING approval, listed by its topic',
    scope: 'list',
    cells: { agent: NO, worker: NO, approver: [200, 200], admin: [200, 200], auditor: NO },
    target: async (fx, tenant) => {
      const job = await fx.approval(tenant);
      return listing(job, `/api/v1/approvals?topic=${job.topic}`);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/approvals',
    about: 'a PENDING approval, listed by its topic and tenant (?tenant_id=)',
    scope: 'list',
    cells: { agent: NO, worker: NO, approver: [200, 200], admin: [200, 200], auditor: NO },
    target: async (fx, tenant) => {
      const job = await fx.approval(tenant);
      return listing(job, `/api/v1/approvals?topic=${job.topic}&tenant_id=${tenant}`);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/approvals/{job_id}',
    about: 'a PENDING approval',
    scope: 'resource',
    cells: { agent: NO, worker: NO, approver: [200, 404], admin: [200, 404], auditor: NO },
    target: async (fx, tenant) => {
      const job = await fx.approval(tenant);
      return on(job, `/api/v1/approvals/${job.id}`);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/approvals/{job_id}',
    about: 'a REJECTED approval, long-polled (?wait=)',
    scope: 'resource',
    cells: { agent: NO, worker: NO, approver: [200, 404], admin: [200, 404], auditor: NO },
    target: async (fx, tenant) => {
      const job = await fx.rejectedApproval(tenant);
      return on(job, `/api/v1/approvals/${job.id}?wait=5`);
    },
  },
  ...(['approve', 'reject'] as const).map((action): Row => ({
    method: 'POST',
    path: `/api/v1/approvals/{job_id}/${action}`,
    about: 'a PENDING approval',
    scope: 'resource',
    cells: { agent: NO, worker: NO, approver: [200, 404], admin: [200, 404], auditor: NO },
    target: async (fx, tenant) => {
      const job = await fx.approval(tenant);
      return on(job, `/api/v1/approvals/${job.id}/${action}`, { note: 'rbac matrix' });
    },
  })),
  // ------------------------------------------------------------------------------ audit
  {
    method: 'GET',
    path: '/api/v1/traces/{trace_id}',
    about: 'the trace of a QUEUED job',
    scope: 'resource',
    cells: { agent: [200, 404], worker: NO, approver: NO, admin: [200, 404], auditor: [200, 404] },
    target: async (fx, tenant) => {
      const job = await fx.queued(tenant);
      return { ...(await on(job, `/api/v1/traces/${job.trace_id}`)), ref: job.trace_id };
    },
  },
  {
    method: 'GET',
    path: '/api/v1/audit',
    about: 'the events of a QUEUED job (?job_id=)',
    scope: 'list',
    cells: { agent: NO, worker: NO, approver: NO, admin: [200, 200], auditor: [200, 200] },
    target: async (fx, tenant) => {
      const job = await fx.queued(tenant);
      return listing(job, `/api/v1/audit?job_id=${job.id}`);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/audit/verify',
    about: 'no tenant: the chain is one sequence across tenants; the answer holds no event data',
    scope: 'none',
    cells: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 200 },
    target: () => Promise.resolve({ url: '/api/v1/audit/verify' }),
  },
  {
    method: 'GET',
    path: '/api/v1/audit/public-key',
    about: 'no tenant: one key signs the checkpoints of the whole chain',
    scope: 'none',
    cells: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 200 },
    target: () => Promise.resolve({ url: '/api/v1/audit/public-key' }),
  },
  {
    method: 'GET',
    path: '/api/v1/governance/checklist',
    about: 'a report on every tenant, made after a decision and a PENDING approval',
    scope: 'report',
    cells: { agent: NO, worker: NO, approver: NO, admin: [200, 200], auditor: [200, 200] },
    target: async (fx, tenant) =>
      listing(await fx.approval(tenant), '/api/v1/governance/checklist'),
  },
  // ------------------------------------------------------------------------------- keys
  {
    method: 'POST',
    path: '/api/v1/keys',
    about: 'a key for the tenant',
    scope: 'into-tenant',
    cells: { agent: NO, worker: NO, approver: NO, admin: [201, 403], auditor: NO },
    target: async (fx, tenant) => ({
      url: '/api/v1/keys',
      payload: { name: fx.unique('rbac key'), tenant, roles: ['agent'] },
      ref: tenant,
      intact: await fx.unchanged([actor('admin', tenant), '/api/v1/keys']),
    }),
  },
  {
    method: 'GET',
    path: '/api/v1/keys',
    about: 'an agent key of the tenant',
    scope: 'list',
    cells: { agent: NO, worker: NO, approver: NO, admin: [200, 200], auditor: NO },
    target: async (fx, tenant) => listing(await fx.key(tenant), '/api/v1/keys'),
  },
  {
    method: 'DELETE',
    path: '/api/v1/keys/{id}',
    about: 'an agent key of the tenant',
    scope: 'resource',
    cells: { agent: NO, worker: NO, approver: NO, admin: [200, 404], auditor: NO },
    target: async (fx, tenant) => {
      const key = await fx.key(tenant);
      return on(key, `/api/v1/keys/${key.id}`);
    },
  },
  // ----------------------------------------------------------------------------- policy
  {
    method: 'GET',
    path: '/api/v1/policy',
    about: 'no tenant: one policy governs every tenant',
    scope: 'none',
    cells: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 403 },
    target: () => Promise.resolve({ url: '/api/v1/policy' }),
  },
  {
    method: 'PUT',
    path: '/api/v1/policy',
    about: 'no tenant: changing the policy needs an admin of tenant *, so admin-acme is refused',
    scope: 'none',
    cells: { agent: 403, worker: 403, approver: 403, admin: 403, auditor: 403 },
    target: () =>
      Promise.resolve({ url: '/api/v1/policy', payload: { source: seedSource, message: 'rbac' } }),
  },
  {
    method: 'GET',
    path: '/api/v1/policy/snapshots',
    about: 'no tenant: one policy history for every tenant',
    scope: 'none',
    cells: { agent: 403, worker: 403, approver: 403, admin: 200, auditor: 403 },
    target: () => Promise.resolve({ url: '/api/v1/policy/snapshots' }),
  },
  {
    method: 'POST',
    path: '/api/v1/policy/rollback',
    about: 'no tenant: changing the policy needs an admin of tenant *, so admin-acme is refused',
    scope: 'none',
    cells: { agent: 403, worker: 403, approver: 403, admin: 403, auditor: 403 },
    target: async (fx) => {
      const active = await fx.expect<{ snapshot: string }>(
        200,
        actor('admin', OWN),
        'GET',
        '/api/v1/policy',
      );
      return { url: '/api/v1/policy/rollback', payload: { snapshot: active.snapshot } };
    },
  },
  {
    method: 'POST',
    path: '/api/v1/policy/evaluate',
    about: 'an evaluation in the tenant (records nothing)',
    scope: 'into-tenant',
    cells: { agent: [200, 403], worker: NO, approver: NO, admin: [200, 403], auditor: NO },
    target: (fx, tenant) =>
      into(
        fx,
        tenant,
        '/api/v1/policy/evaluate?explain=true',
        fx.jobBody('prod-write', tenant).body,
        '/api/v1/audit?limit=1000',
      ),
  },
  // ----------------------------------------------------------------------------- agents
  {
    method: 'PUT',
    path: '/api/v1/agents/{agent_id}',
    about: 'a registered agent, its tenant named in the body',
    scope: 'resource',
    cells: { agent: NO, worker: NO, approver: NO, admin: [200, 404], auditor: NO },
    target: async (fx, tenant) => {
      const agent = await fx.agent(tenant);
      return on(agent, `/api/v1/agents/${agent.id}`, { risk_level: 'high', tenant_id: tenant });
    },
  },
  {
    method: 'GET',
    path: '/api/v1/agents/{agent_id}',
    about: 'a registered agent, its tenant named in the query',
    scope: 'resource',
    cells: { agent: NO, worker: NO, approver: NO, admin: [200, 404], auditor: [200, 404] },
    target: async (fx, tenant) => {
      const agent = await fx.agent(tenant);
      return on(agent, `/api/v1/agents/${agent.id}?tenant_id=${tenant}`);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/agents/{agent_id}',
    about: 'a registered agent, looked up in the key’s tenant',
    scope: 'resource',
    cells: { agent: NO, worker: NO, approver: NO, admin: [200, 404], auditor: [200, 404] },
    target: async (fx, tenant) => {
      const agent = await fx.agent(tenant);
      return on(agent, `/api/v1/agents/${agent.id}`);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/agents',
    about: 'a registered agent',
    scope: 'list',
    cells: { agent: NO, worker: NO, approver: NO, admin: [200, 200], auditor: [200, 200] },
    target: async (fx, tenant) => listing(await fx.agent(tenant), '/api/v1/agents?limit=500'),
  },
  // ------------------------------------------------------------------------------- work
  {
    method: 'POST',
    path: '/api/v1/workers/lease',
    about: 'a DISPATCHED bus job on a topic of its own',
    scope: 'list',
    cells: { agent: NO, worker: [200, 200], approver: NO, admin: [200, 200], auditor: NO },
    target: async (fx, tenant) => {
      const job = await fx.dispatched(tenant);
      return listing(job, '/api/v1/workers/lease', { topics: [job.topic], wait: 0 });
    },
  },
  {
    method: 'POST',
    path: '/api/v1/jobs/{job_id}/heartbeat',
    about: 'a RUNNING bus job, with its lease id',
    scope: 'resource',
    cells: { agent: NO, worker: [200, 404], approver: NO, admin: [200, 404], auditor: NO },
    target: async (fx, tenant) => {
      const job = await fx.running(tenant);
      return on(job, `/api/v1/jobs/${job.id}/heartbeat`, { lease_id: job.lease_id });
    },
  },
  {
    method: 'POST',
    path: '/api/v1/jobs/{job_id}/result',
    about: 'a RUNNING bus job, with its lease id (bus results come from workers)',
    scope: 'resource',
    cells: {
      agent: [403, 404],
      worker: [200, 404],
      approver: NO,
      admin: [200, 404],
      auditor: NO,
    },
    target: async (fx, tenant) => {
      const job = await fx.running(tenant);
      const result = { status: 'succeeded', output: { ok: true }, lease_id: job.lease_id };
      return on(job, `/api/v1/jobs/${job.id}/result`, result);
    },
  },
  {
    method: 'POST',
    path: '/api/v1/jobs/{job_id}/result',
    about: 'a RUNNING inline job (inline results come from the submitter)',
    scope: 'resource',
    cells: {
      agent: [200, 404],
      worker: [403, 404],
      approver: NO,
      admin: [200, 404],
      auditor: NO,
    },
    target: async (fx, tenant) => {
      const job = await fx.inlineRunning(tenant);
      return on(job, `/api/v1/jobs/${job.id}/result`, { status: 'succeeded', output: { ok: 1 } });
    },
  },
  {
    method: 'POST',
    path: '/api/v1/jobs/{job_id}/claim',
    about: 'a QUEUED inline job, with its job hash',
    scope: 'resource',
    cells: { agent: [200, 404], worker: NO, approver: NO, admin: [200, 404], auditor: NO },
    target: async (fx, tenant) => {
      const job = await fx.inline(tenant);
      return on(job, `/api/v1/jobs/${job.id}/claim`, { job_hash: job.job_hash });
    },
  },
  ...(['release', 'discard'] as const).map((action): Row => ({
    method: 'POST',
    path: `/api/v1/jobs/{job_id}/${action}`,
    about: 'a QUARANTINED job',
    scope: 'resource',
    cells: { agent: NO, worker: NO, approver: [200, 404], admin: [200, 404], auditor: NO },
    target: async (fx, tenant) => {
      const job = await fx.quarantined(tenant);
      return on(job, `/api/v1/jobs/${job.id}/${action}`, { note: 'rbac matrix' });
    },
  })),
  // ----------------------------------------------------------------------- dead letters
  {
    method: 'GET',
    path: '/api/v1/dead-letters',
    about: 'a dead letter',
    scope: 'list',
    cells: { agent: NO, worker: NO, approver: [200, 200], admin: [200, 200], auditor: [200, 200] },
    target: async (fx, tenant) =>
      listing(await fx.deadLetter(tenant), '/api/v1/dead-letters?limit=500'),
  },
  {
    method: 'GET',
    path: '/api/v1/dead-letters/{job_id}',
    about: 'a dead letter',
    scope: 'resource',
    cells: {
      agent: [200, 404],
      worker: NO,
      approver: [200, 404],
      admin: [200, 404],
      auditor: [200, 404],
    },
    target: async (fx, tenant) => {
      const dead = await fx.deadLetter(tenant);
      return on(dead, `/api/v1/dead-letters/${dead.id}`);
    },
  },
  {
    method: 'POST',
    path: '/api/v1/dead-letters/{job_id}/retry',
    about: 'a dead letter',
    scope: 'resource',
    cells: { agent: [201, 404], worker: NO, approver: NO, admin: [201, 404], auditor: NO },
    target: async (fx, tenant) => {
      const dead = await fx.deadLetter(tenant);
      return on(dead, `/api/v1/dead-letters/${dead.id}/retry`);
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Checking one cell
// ---------------------------------------------------------------------------------------------

const ERROR_CODE = { 403: 'WARDEN_FORBIDDEN', 404: 'WARDEN_NOT_FOUND' } as const;

const is2xx = (status: Status): boolean => status < 300;

/** An id (or tenant) of the same shape that names nothing. */
const absentOf = (ref: string): string => (ref.startsWith('zz') ? 'yy' : 'zz') + ref.slice(2);

function swapped(target: Target, from: string, to: string): Target {
  return {
    url: target.url.replaceAll(from, to),
    ...(target.payload === undefined
      ? {}
      : { payload: JSON.parse(JSON.stringify(target.payload).replaceAll(from, to)) as Json }),
  };
}

function assertError(res: LightMyRequestResponse, status: 403 | 404, context: string): void {
  const body = res.json<{ error?: { code?: unknown; message?: unknown; details?: unknown } }>();
  assert.deepEqual(Object.keys(body), ['error'], context);
  assert.equal(body.error?.code, ERROR_CODE[status], context);
  assert.equal(typeof body.error.message, 'string', context);
  const { details } = body.error;
  assert.ok(typeof details === 'object' && details !== null && !Array.isArray(details), context);
}

async function checkCell(
  fx: RbacFixtures,
  row: Row,
  role: Role,
  tenant: Tenant,
  expected: Status,
): Promise<void> {
  const target = row.scope === 'none' ? await row.target(fx) : await row.target(fx, tenant);
  const principal = actor(role, OWN);
  const send = (t: Target): Promise<LightMyRequestResponse> =>
    fx.send(principal, row.method, t.url, t.payload);
  const res = await send(target);
  const context = `${principal} ${row.method} ${target.url} → ${String(res.statusCode)} ${res.body}`;
  assert.equal(res.statusCode, expected, context);
  if (!is2xx(expected)) assertError(res, expected as 403 | 404, context);
  if (row.scope === 'none') return;

  if (tenant === OWN) {
    if (row.scope === 'list' && is2xx(expected)) {
      assert.ok(target.item !== undefined, 'a list row names its item');
      assert.ok(res.body.includes(target.item), `the tenant's own item is listed: ${context}`);
    }
    return;
  }

  // Another tenant's resource: nothing of it in the answer that the request did not hold.
  const sent = `${target.url} ${JSON.stringify(target.payload ?? null)}`;
  for (const secret of target.secrets ?? []) {
    if (sent.includes(secret)) continue;
    assert.ok(!res.body.includes(secret), `the answer echoes ${secret}: ${context}`);
  }
  if (row.scope === 'list' || row.scope === 'report') {
    assert.ok(target.item !== undefined, 'a list row names its item');
    assert.ok(!res.body.includes(target.item), `another tenant's item is listed: ${context}`);
  } else {
    // Indistinguishable from a resource (or tenant) that does not exist.
    assert.ok(target.ref !== undefined, 'a resource row names its resource');
    const absent = absentOf(target.ref);
    const none = await send(swapped(target, target.ref, absent));
    assert.equal(none.statusCode, res.statusCode, `unlike an absent one: ${context}`);
    assert.equal(
      none.body.replaceAll(absent, target.ref),
      res.body,
      `unlike an absent one: ${context}`,
    );
  }
  await target.intact?.();
}

const rowName = (row: Row): string => `${row.method} ${row.path} · ${row.about}`;
const routeKey = (method: string, path: string): string => `${method} ${path}`;
const sorted = (values: Iterable<string>): string[] => [...new Set(values)].sort();

// ---------------------------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------------------------

for (const row of ROWS) {
  describe(rowName(row), () => {
    let fx: RbacFixtures;
    before(async () => {
      fx = await RbacFixtures.open();
    });
    for (const role of ROLES) {
      if (row.scope === 'none') {
        const expected = row.cells[role];
        it(`${role} (no tenant) → ${String(expected)}`, () =>
          checkCell(fx, row, role, OWN, expected));
        continue;
      }
      const [own, other] = row.cells[role];
      it(`${role} · own tenant → ${String(own)}`, () => checkCell(fx, row, role, OWN, own));
      it(`${role} · other tenant → ${String(other)}`, () => checkCell(fx, row, role, OTHER, other));
    }
  });
}

describe('the RBAC table', () => {
  it('has a row for every /api/v1 endpoint of the OpenAPI document, and no other', async () => {
    const fx = await RbacFixtures.open();
    const res = await fx.gw.app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json<{ paths: Record<string, Record<string, unknown>> }>();
    const documented = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/v1/'))
      .flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => routeKey(method.toUpperCase(), path)),
      );
    assert.ok(documented.length > 0);
    assert.deepEqual(sorted(ROWS.map((r) => routeKey(r.method, r.path))), sorted(documented));
  });

  it('names every role in every row, each row once', () => {
    for (const row of ROWS) assert.deepEqual(sorted(Object.keys(row.cells)), sorted(ROLES));
    assert.equal(new Set(ROWS.map(rowName)).size, ROWS.length);
  });

  it('never lets another tenant’s resource answer other than 404, or 403 for a refused role', () => {
    for (const row of ROWS) {
      if (row.scope === 'none') continue;
      for (const role of ROLES) {
        const [own, other]: Pair = row.cells[role];
        const cell: string = `${rowName(row)}, ${role}: [${String(own)}, ${String(other)}]`;
        switch (row.scope) {
          case 'list':
          case 'report':
            assert.equal(other, own, cell);
            break;
          case 'resource':
            // 403 only where the role is refused on its own tenant's resource too.
            assert.ok(other === 404 || (other === 403 && own === 403), cell);
            break;
          case 'into-tenant':
            assert.ok(other === 403 || other === 404, cell);
            if (own === 403) assert.equal(other, 403, cell);
            break;
        }
      }
    }
  });
});

describe('the governance checklist names no resource of another tenant', () => {
  /** A clock the test moves. */
  const clock = { ms: Date.parse('2026-11-21T09:00:00.000Z') };
  const now = { now: (): string => new Date(clock.ms).toISOString() };

  it('a tenant at its bound and an overdue approval fail the check without naming them', async () => {
    const fx = await RbacFixtures.open({ clock: now, maxPendingApprovals: 1 });
    const job = await fx.approval(OTHER);
    // Past the approval's deadline (an hour by default) and the sweep's grace; no sweep runs.
    clock.ms += 2 * 3600 * 1000;
    type Report = { checks: { id: string; pass: boolean; detail: string }[] };
    const report = (principal: string): Promise<Report> =>
      fx.expect<Report>(200, principal, 'GET', '/api/v1/governance/checklist');
    const queue = (r: Report): { pass: boolean; detail: string } | undefined =>
      r.checks.find((c) => c.id === 'approval_queue_bounded');

    const theirs = await report(actor('auditor', OTHER));
    assert.equal(queue(theirs)?.pass, false);
    assert.match(queue(theirs)?.detail ?? '', new RegExp(`tenant ${OTHER} holds 1 pending`));
    assert.match(queue(theirs)?.detail ?? '', new RegExp(`approval of job ${job.id}`));

    for (const role of ['auditor', 'admin'] as const) {
      const ours = await report(actor(role, OWN));
      assert.equal(queue(ours)?.pass, false, 'the gateway-wide result is the same');
      const body = JSON.stringify(ours);
      for (const secret of job.secrets) assert.ok(!body.includes(secret), `${secret}: ${body}`);
      assert.match(queue(ours)?.detail ?? '', /another tenant is at its bound/);
      assert.match(queue(ours)?.detail ?? '', /an approval of another tenant is still pending/);
    }
  });
});
