/**
 * Fixtures for the RBAC matrix (test/http/rbac-matrix.test.ts): one principal per role in each of
 * two tenants, and fresh resources made in a given tenant through the API, by principals of that
 * tenant allowed to make them: jobs in every state an endpoint acts on, approvals, dead letters,
 * keys and agent profiles. Each resource comes with the data a refusal must not echo and a check
 * that it did not change. This module asserts only that its own fixtures were made.
 */
import assert from 'node:assert/strict';
import type { HTTPMethods, LightMyRequestResponse } from 'fastify';
import { ROLES } from '../../src/core/model/principal.js';
import type { Principal, Role } from '../../src/core/model/principal.js';
import type { Authenticator } from '../../src/ports/authenticator.js';
import { as, seedSource, testGateway } from './http-server.js';
import type { TestGateway, TestServerOptions } from './http-server.js';
import { AWS_KEY } from './work-policy.js';

export type Json = Record<string, unknown>;

/** The tenant the acting principals belong to, and the other one. */
export const TENANTS = ['acme', 'globex'] as const;
export type Tenant = (typeof TENANTS)[number];

/** `<role>-<tenant>`: `agent-acme`, `worker-globex`, … (one role each). */
export const actor = (role: Role, tenant: Tenant): string => `${role}-${tenant}`;

const PRINCIPALS = new Map<string, Principal>(
  TENANTS.flatMap((tenant) =>
    ROLES.map((role): [string, Principal] => [
      actor(role, tenant),
      { id: actor(role, tenant), tenant, roles: [role] },
    ]),
  ),
);

/** `Bearer <role>-<tenant>` for every role and both tenants; anything else is unknown. */
export const rbacAuthenticator: Authenticator = {
  authenticate: (header) =>
    Promise.resolve(
      header?.startsWith('Bearer ') === true ? (PRINCIPALS.get(header.slice(7)) ?? null) : null,
    ),
};

/**
 * The seed policy, plus one output rule so that a result can be quarantined (release and discard
 * act only on a quarantined output).
 */
export const RBAC_POLICY = `${seedSource.trimEnd()}
output:
  - id: quarantine-secrets
    match: { topics: ['job.mcp-bridge.read.*'] }
    scanners: [secrets]
    action: quarantine
`;

/** A resource made for one cell. */
export interface Made {
  /** The id the API names it by. */
  readonly id: string;
  /** Its data, id included: a refusal must not echo any of it that the request did not hold. */
  readonly secrets: readonly string[];
  /** Asserts that the resource, as its own tenant reads it, is as it was when made. */
  readonly intact: () => Promise<void>;
}

export interface MadeJob extends Made {
  readonly trace_id: string;
  readonly job_hash: string;
  readonly topic: string;
  /** The lease of a job a worker holds. */
  readonly lease_id?: string;
}

interface Submitted {
  readonly job_id: string;
  readonly trace_id: string;
  readonly job_hash: string;
  readonly state: string;
}

type JobKind = 'read' | 'prod-write' | 'destructive';

export class RbacFixtures {
  private counter = 0;

  private constructor(readonly gw: TestGateway) {}

  /** A gateway of its own on RBAC_POLICY, with the RBAC principals. */
  static async open(
    options: Omit<TestServerOptions, 'authenticator' | 'policySource'> = {},
  ): Promise<RbacFixtures> {
    const gw = await testGateway({
      ...options,
      authenticator: rbacAuthenticator,
      policySource: RBAC_POLICY,
    });
    return new RbacFixtures(gw);
  }

  send(
    principal: string,
    method: HTTPMethods,
    url: string,
    payload?: Json,
  ): Promise<LightMyRequestResponse> {
    return this.gw.app.inject({
      method,
      url,
      headers: as(principal),
      ...(payload === undefined ? {} : { payload }),
    });
  }

  /** A fixture request that must answer `status`; its JSON body. */
  async expect<T>(
    status: number,
    principal: string,
    method: HTTPMethods,
    url: string,
    payload?: Json,
  ): Promise<T> {
    const res = await this.send(principal, method, url, payload);
    assert.equal(res.statusCode, status, `fixture ${principal} ${method} ${url}: ${res.body}`);
    return res.json<T>();
  }

  /** A name no other fixture of this gateway uses (letters, digits, underscores). */
  unique(prefix: string): string {
    return `${prefix}_${String(++this.counter)}`;
  }

  /** A fresh topic: a read (allowed), a production write (approval) or a destructive write (deny). */
  topic(kind: JobKind): string {
    return `job.mcp-bridge.${kind === 'read' ? 'read' : 'write'}.${this.unique('rbac')}`;
  }

  /**
   * A job body of `kind` on a fresh topic, with a label and a payload marker that only this job
   * holds; `markers` are the values that identify them.
   */
  jobBody(
    kind: JobKind,
    tenant: Tenant,
    extra: Json = {},
  ): { readonly body: Json; readonly markers: readonly string[] } {
    const tags = { read: [], 'prod-write': ['prod'], destructive: ['destructive'] }[kind];
    const label = this.unique('label');
    const marker = this.unique('marker');
    const body = {
      topic: this.topic(kind),
      tenant_id: tenant,
      risk_tags: tags,
      labels: { fixture: label },
      payload: { marker },
      ...extra,
    };
    return { body, markers: [label, marker] };
  }

  /**
   * Reads each URL as its principal now; the returned check reads them again and asserts that
   * nothing changed.
   */
  async unchanged(...reads: readonly (readonly [string, string])[]): Promise<() => Promise<void>> {
    const read = (): Promise<string[]> =>
      Promise.all(
        reads.map(async ([principal, url]) => {
          const res = await this.send(principal, 'GET', url);
          return `${String(res.statusCode)} ${res.body}`;
        }),
      );
    const before = await read();
    return async () => {
      assert.deepEqual(await read(), before, 'the other tenant’s resource changed');
    };
  }

  /** A job submitted by `agent-<tenant>`, in the state the submit leaves it. */
  async job(
    tenant: Tenant,
    kind: JobKind = 'read',
    extra: Json = {},
    expectState?: string,
  ): Promise<MadeJob> {
    const { body, markers } = this.jobBody(kind, tenant, extra);
    const job = await this.expect<Submitted>(
      201,
      actor('agent', tenant),
      'POST',
      '/api/v1/jobs',
      body,
    );
    if (expectState !== undefined) assert.equal(job.state, expectState, 'fixture job state');
    return this.madeJob(tenant, job, String(body['topic']), markers);
  }

  /** A bus job the policy allowed: QUEUED, not yet published. */
  queued(tenant: Tenant): Promise<MadeJob> {
    return this.job(tenant, 'read', {}, 'QUEUED');
  }

  /** A terminal job: DENIED at submit. */
  denied(tenant: Tenant): Promise<MadeJob> {
    return this.job(tenant, 'destructive', {}, 'DENIED');
  }

  /** A job waiting for a human: APPROVAL_REQUIRED, its approval PENDING. */
  approval(tenant: Tenant): Promise<MadeJob> {
    return this.job(tenant, 'prod-write', {}, 'APPROVAL_REQUIRED');
  }

  /** An approval already rejected by `approver-<tenant>` (its job REJECTED). */
  async rejectedApproval(tenant: Tenant): Promise<MadeJob> {
    const job = await this.approval(tenant);
    const url = `/api/v1/approvals/${job.id}/reject`;
    await this.expect(200, actor('approver', tenant), 'POST', url, { note: 'fixture' });
    return this.refreshed(tenant, job);
  }

  /** An inline job the policy allowed: QUEUED, to be claimed by its submitter. */
  inline(tenant: Tenant): Promise<MadeJob> {
    return this.job(tenant, 'read', { dispatch: 'inline' }, 'QUEUED');
  }

  /** An inline job its submitter claimed: RUNNING. */
  async inlineRunning(tenant: Tenant): Promise<MadeJob> {
    const job = await this.inline(tenant);
    const url = `/api/v1/jobs/${job.id}/claim`;
    await this.expect(200, actor('agent', tenant), 'POST', url, { job_hash: job.job_hash });
    return this.refreshed(tenant, job);
  }

  /** A bus job published to the dispatcher: DISPATCHED, waiting for a worker. */
  async dispatched(tenant: Tenant): Promise<MadeJob> {
    const job = await this.queued(tenant);
    await this.gw.services.relay.publishPending();
    return this.refreshed(tenant, job);
  }

  /** A bus job leased by `worker-<tenant>`: RUNNING, with its lease id. */
  async running(tenant: Tenant): Promise<MadeJob> {
    const job = await this.dispatched(tenant);
    const leased = await this.expect<{ items: { lease_id: string; job: { job_id: string } }[] }>(
      200,
      actor('worker', tenant),
      'POST',
      '/api/v1/workers/lease',
      { topics: [job.topic], wait: 0 },
    );
    const [lease] = leased.items;
    assert.ok(lease !== undefined && lease.job.job_id === job.id, 'fixture lease');
    const held = await this.refreshed(tenant, job);
    return { ...held, lease_id: lease.lease_id, secrets: [...held.secrets, lease.lease_id] };
  }

  /** A bus job whose output held a secret: QUARANTINED, for an approver to release or discard. */
  async quarantined(tenant: Tenant): Promise<MadeJob> {
    return this.reported(tenant, { status: 'succeeded', output: { text: AWS_KEY } }, 'QUARANTINED');
  }

  /** A bus job that failed for good: FAILED and on the dead-letter list. */
  async deadLetter(tenant: Tenant): Promise<MadeJob> {
    const job = await this.reported(
      tenant,
      { status: 'failed', error: this.unique('error'), retryable: false },
      'FAILED',
    );
    const dead = await this.unchanged([actor('auditor', tenant), `/api/v1/dead-letters/${job.id}`]);
    const jobIntact = job.intact;
    return {
      ...job,
      intact: async () => {
        await jobIntact();
        await dead();
      },
    };
  }

  /** An agent key of the tenant, made by `admin-<tenant>`. */
  async key(tenant: Tenant): Promise<Made> {
    const name = this.unique('rbac key');
    const key = await this.expect<{ id: string }>(
      201,
      actor('admin', tenant),
      'POST',
      '/api/v1/keys',
      {
        name,
        tenant,
        roles: ['agent'],
      },
    );
    return {
      id: key.id,
      secrets: [key.id, name, actor('admin', tenant), tenant],
      intact: await this.unchanged([actor('admin', tenant), '/api/v1/keys']),
    };
  }

  /** An agent profile of the tenant, registered by `admin-<tenant>`. */
  async agent(tenant: Tenant): Promise<Made> {
    const id = this.unique('rbac-agent').replace(/_/g, '-');
    const owner = this.unique('owner');
    await this.expect(200, actor('admin', tenant), 'PUT', `/api/v1/agents/${id}`, {
      risk_level: 'low',
      owner,
      tenant_id: tenant,
    });
    return {
      id,
      secrets: [id, owner, actor('admin', tenant), tenant],
      intact: await this.unchanged([
        actor('auditor', tenant),
        `/api/v1/agents/${id}?tenant_id=${tenant}`,
      ]),
    };
  }

  /** Makes `state`'s job by reporting a result for a freshly leased bus job. */
  private async reported(tenant: Tenant, result: Json, state: string): Promise<MadeJob> {
    const job = await this.running(tenant);
    const done = await this.expect<{ state: string }>(
      200,
      actor('worker', tenant),
      'POST',
      `/api/v1/jobs/${job.id}/result`,
      { ...result, lease_id: job.lease_id },
    );
    assert.equal(done.state, state, 'fixture result state');
    return this.refreshed(tenant, job);
  }

  private async madeJob(
    tenant: Tenant,
    job: Submitted,
    topic: string,
    markers: readonly string[],
  ): Promise<MadeJob> {
    return {
      id: job.job_id,
      trace_id: job.trace_id,
      job_hash: job.job_hash,
      topic,
      secrets: [
        job.job_id,
        job.trace_id,
        job.job_hash,
        topic,
        ...markers,
        actor('agent', tenant),
        tenant,
      ],
      intact: await this.jobIntact(tenant, job.job_id),
    };
  }

  /** The same job with its intact check taken again after a fixture step changed it. */
  private async refreshed(tenant: Tenant, job: MadeJob): Promise<MadeJob> {
    return { ...job, intact: await this.jobIntact(tenant, job.id) };
  }

  /** The job as its tenant's auditor reads it, and its approval as its approver does. */
  private jobIntact(tenant: Tenant, jobId: string): Promise<() => Promise<void>> {
    return this.unchanged(
      [actor('auditor', tenant), `/api/v1/jobs/${jobId}`],
      [actor('approver', tenant), `/api/v1/approvals/${jobId}`],
    );
  }
}
