/**
 * A policy for worker and inline-client tests: exec jobs run under short limits (a 2 s runtime so
 * deadlines are reached quickly, one retry, a path allow-list, a denied host), inline tools are
 * allowed, deploys need a human, and outputs are redacted for secrets and PII.
 */
import assert from 'node:assert/strict';
import { as, testGateway, tokenAuthenticator } from './http-server.js';
import type { TestGateway } from './http-server.js';

export const WORKER_POLICY = `
version: v1
default_decision: deny
rules:
  - id: exec-with-limits
    match: { topics: ['job.agent.exec.**'] }
    decision: allow_with_constraints
    reason: exec is allowed within limits
    constraints:
      max_runtime_sec: 2
      max_retries: 1
      allowed_paths: ['/srv/work/**']
      denied_hosts: ['*.internal']
      max_output_bytes: 4000
  - id: inline-tools
    match: { topics: ['job.inline.**'] }
    decision: allow
    reason: inline tools are allowed
  - id: no-deletes
    match: { topics: ['job.inline.delete.**'] }
    decision: deny
    reason: deletes are not allowed
  - id: deploys-need-a-human
    match: { topics: ['job.deploy.**'] }
    decision: require_approval
    reason: deploys need a human
output:
  - id: redact-secrets
    match: { topics: ['**'] }
    scanners: [secrets, pii]
    action: redact
`;

/** An AWS-style access key the secrets scanner finds. */
export const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';

/** A gateway on WORKER_POLICY, its relay and sweeps on 20 ms timers, listening on a free port. */
export async function listeningWorkGateway(): Promise<{ gw: TestGateway; url: string }> {
  const gw = await testGateway({
    authenticator: tokenAuthenticator,
    policySource: WORKER_POLICY,
    backgroundMs: 20,
  });
  return { gw, url: await gw.app.listen({ port: 0, host: '127.0.0.1' }) };
}

/** Submits a job as agent-acme in tenant acme; asserts 201 and returns the answer. */
export async function submitAs<T extends { job_id: string }>(
  gw: TestGateway,
  topic: string,
  payload: unknown,
): Promise<T> {
  const response = await gw.app.inject({
    method: 'POST',
    url: '/api/v1/jobs',
    headers: as('agent-acme'),
    payload: { topic, tenant_id: 'acme', payload },
  });
  assert.equal(response.statusCode, 201, response.body);
  return response.json<T>();
}

/** The job once it is terminal (long-poll of up to 20 s), as agent-acme. */
export async function terminalJob<T>(gw: TestGateway, jobId: string): Promise<T> {
  const response = await gw.app.inject({
    method: 'GET',
    url: `/api/v1/jobs/${jobId}?wait_for=terminal&wait=20`,
    headers: as('agent-acme'),
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.json<T>();
}
