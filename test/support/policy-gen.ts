/**
 * fast-check generators for random policies and requests over a small vocabulary, so that
 * random rules and random requests actually meet. Shared by the property tests.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import type { JobRequest } from '../../src/core/model/request.js';
import { RULE_DECISIONS } from '../../src/core/policy/spec.js';
import type { RuleDecision } from '../../src/core/policy/spec.js';

export const TOPIC_PATTERNS = [
  'job.a.*',
  'job.a.b',
  'job.**',
  'job.b.*',
  '**',
  'x.*.y',
  'job.*.b',
  'job.a.**',
];
export const TOPICS = ['job.a.b', 'job.a.c', 'job.b.x', 'x.q.y', 'job.a.b.c', 'other'];
export const TAGS = ['prod', 'pii', 'destructive', 'medium'];

export interface GenRule {
  id: string;
  match: Record<string, unknown>;
  decision: RuleDecision;
  constraints?: Record<string, unknown>;
  throttle?: { limit: number; window: string };
  unless?: Record<string, unknown>;
}

const constraintsArb = fc.record(
  {
    max_runtime_sec: fc.integer({ min: 1, max: 100 }),
    max_retries: fc.integer({ min: 0, max: 5 }),
    allowed_paths: fc.subarray(['/tmp/**', '/srv/*', '/var/log/**']),
    denied_hosts: fc.subarray(['*.evil.test', 'metadata.internal']),
    redact_output: fc.boolean(),
  },
  { requiredKeys: [] },
);

const matchArb = fc.record(
  {
    topics: fc.subarray(TOPIC_PATTERNS, { minLength: 1, maxLength: 2 }),
    risk_tags: fc.subarray(TAGS, { maxLength: 2 }),
    risk_tags_all: fc.subarray(TAGS, { minLength: 1, maxLength: 2 }),
    tenants: fc.subarray(['acme-*', 'default', 'globex'], { minLength: 1 }),
    labels: fc.constantFrom({ 'mcp.action': 'write' }, { 'mcp.action': ['read', 'write'] }),
  },
  { requiredKeys: [] },
);

export const ruleArb = (id: string): fc.Arbitrary<GenRule> =>
  fc
    .record({
      match: matchArb,
      decision: fc.constantFrom(...RULE_DECISIONS),
      constraints: fc.option(constraintsArb, { nil: undefined }),
      throttleLimit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      unless: fc.option(
        fc.record({ risk_tags: fc.subarray(TAGS, { minLength: 1, maxLength: 1 }) }),
        {
          nil: undefined,
        },
      ),
    })
    .map(({ match, decision, constraints, throttleLimit, unless }) => {
      const rule: GenRule = { id, match, decision };
      if (decision === 'allow_with_constraints')
        rule.constraints = constraints ?? { max_retries: 1 };
      else if (constraints !== undefined) rule.constraints = constraints;
      if (decision === 'throttle' && throttleLimit !== undefined)
        rule.throttle = { limit: throttleLimit, window: '1m' };
      if (unless !== undefined) rule.unless = unless;
      return rule;
    });

export const rulesArb = (maxRules = 8): fc.Arbitrary<GenRule[]> =>
  fc
    .integer({ min: 0, max: maxRules })
    .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => ruleArb(`r${i}`))));

export const defaultDecisionArb = fc.constantFrom('allow', 'deny', 'require_approval', undefined);

export function policyYaml(rules: readonly GenRule[], defaultDecision?: string): string {
  const doc: Record<string, unknown> = { version: 'v1', rules };
  if (defaultDecision !== undefined) doc['default_decision'] = defaultDecision;
  return stringify(doc);
}

export const requestArb: fc.Arbitrary<JobRequest> = fc.record({
  topic: fc.constantFrom(...TOPICS),
  tenant_id: fc.constantFrom('default', 'acme-eu', 'globex'),
  risk_tags: fc.subarray(TAGS),
  labels: fc.constantFrom({}, { 'mcp.action': 'write' }, { 'mcp.action': 'read' }),
});

export const countersArb = (ruleCount: number): fc.Arbitrary<Record<string, number>> =>
  fc
    .array(fc.integer({ min: 0, max: 4 }), { minLength: ruleCount, maxLength: ruleCount })
    .map((counts) => Object.fromEntries(counts.map((c, i) => [`r${i}`, c])));
