/**
 * A policy for worker and inline-client tests: exec jobs run under short limits (a 2 s runtime so
 * deadlines are reached quickly, one retry, a path allow-list, a denied host), inline tools are
 * allowed, deploys need a human, and outputs are redacted for secrets and PII.
 */
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
