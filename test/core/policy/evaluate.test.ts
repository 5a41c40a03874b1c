/**
 * Evaluation behaviour not covered by the golden corpus: snapshot identity, diagnostics,
 * purity of inputs, explain wording and the load-error surface.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compilePolicy, PolicyLoadError } from '../../../src/core/policy/index.js';

const seedText = readFileSync('examples/policies/seed.yaml', 'utf8');

describe('policy snapshot id', () => {
  it('ignores comments, formatting and key order, but not meaning', () => {
    const seed = compilePolicy(seedText);
    const reformatted = compilePolicy(
      `# a comment\n${seedText.replace('version: v1', 'version: "v1"').replace('  - id: deny-destructive\n    match:\n      risk_tags: ["destructive"]\n    decision: deny', '  - decision: deny\n    match: {risk_tags: [destructive]}\n    id: deny-destructive')}`,
    );
    assert.equal(reformatted.snapshot, seed.snapshot);
    const changed = compilePolicy(seedText.replace('max_retries: 1', 'max_retries: 2'));
    assert.notEqual(changed.snapshot, seed.snapshot);
    assert.match(seed.snapshot, /^[0-9a-f]{64}$/);
  });

  it('is carried by every decision', () => {
    const seed = compilePolicy(seedText);
    assert.equal(seed.evaluate({ topic: 'nothing' }).policy_snapshot, seed.snapshot);
  });
});

describe('conditions at run time', () => {
  const policy = compilePolicy(`
version: v1
default_decision: allow
rules:
  - id: over-limit
    match: {topics: ["pay.**"], when: "payload.amount > agent.max_transaction_amount"}
    decision: deny
    reason: Amount exceeds the agent's limit
  - id: vip-allow
    match: {topics: ["pay.**"], when: "payload.vip == true"}
    decision: allow
    constraints: {max_retries: 0}
`);

  it('a failing condition on a deny rule matches and is reported (fail closed)', () => {
    const decision = policy.evaluate({ topic: 'pay.refund', payload: { amount: 5 } });
    assert.equal(decision.type, 'DENY');
    assert.equal(decision.rule_id, 'over-limit');
    assert.equal(decision.diagnostics.length, 2);
    assert.match(decision.diagnostics[0]?.message ?? '', /over-limit.*treated as matching/);
    assert.match(decision.diagnostics[1]?.message ?? '', /vip-allow.*treated as not matching/);
  });

  it('a condition that holds or not decides normally, without diagnostics', () => {
    const agent = { risk_level: 'high' as const, max_transaction_amount: 100 };
    assert.equal(
      policy.evaluate({ topic: 'pay.refund', payload: { amount: 50, vip: false } }, { agent }).type,
      'ALLOW',
    );
    const over = policy.evaluate(
      { topic: 'pay.refund', payload: { amount: 500, vip: true } },
      { agent },
    );
    assert.equal(over.type, 'DENY');
    assert.deepEqual(over.matched_rules, ['over-limit', 'vip-allow']);
    assert.deepEqual(over.constraints, { max_retries: 0 });
    assert.deepEqual(over.diagnostics, []);
  });

  it('does not mutate its inputs', () => {
    const request = Object.freeze({
      topic: 'pay.x',
      payload: Object.freeze({ amount: 1, vip: true }),
    });
    const facts = Object.freeze({
      agent: Object.freeze({ risk_level: 'low' as const, max_transaction_amount: 5 }),
    });
    assert.doesNotThrow(() => policy.evaluate(request, facts));
  });
});

describe('explain', () => {
  it('lists every rule in file order with the first condition that failed', () => {
    const policy = compilePolicy(seedText);
    const explanation = policy.explain({ topic: 'job.agent.exec.run', risk_tags: ['prod'] });
    assert.deepEqual(
      explanation.rules.map((r) => [r.rule_id, r.matched]),
      [
        ['allow-low-risk-read', false],
        ['require-approval-prod-write', false],
        ['constrain-medium-risk', false],
        ['deny-destructive', false],
      ],
    );
    assert.match(
      explanation.rules[2]?.detail ?? '',
      /risk_tags: request tags \[prod\] include none of \[medium\]/,
    );
    assert.equal(explanation.decision.type, 'DENY');
  });

  it('explains throttle counters and unless exceptions', () => {
    const policy = compilePolicy(`
version: v1
rules:
  - id: burst
    match: {topics: ["**"]}
    unless: {tenants: [internal]}
    decision: throttle
    throttle: {limit: 3, window: 1m}
`);
    assert.match(
      policy.explain({ topic: 'a' }, { counters: { burst: 1 } }).rules[0]?.detail ?? '',
      /holds 1 of 3/,
    );
    assert.match(
      policy.explain({ topic: 'a', tenant_id: 'internal' }).rules[0]?.detail ?? '',
      /unless/,
    );
    const throttled = policy.evaluate({ topic: 'a' }, { counters: { burst: 3 } });
    assert.equal(throttled.type, 'THROTTLE');
    assert.equal(throttled.retry_after_sec, 60);
  });
});

describe('load errors', () => {
  it('collects every problem, sorted by position, each with file:line:col', () => {
    const text =
      'version: v1\nrules:\n  - id: x\n    decision: maybe\n  - id: y\n    decision: deny\n    match: {topics: [""]}\n';
    const error = (() => {
      try {
        compilePolicy(text, { file: 'p.yaml' });
      } catch (e) {
        return e;
      }
      return null;
    })();
    assert.ok(error instanceof PolicyLoadError);
    assert.equal(error.code, 'WARDEN_POLICY_INVALID');
    assert.deepEqual(
      error.problems.map((p) => [p.code, p.line, p.col]),
      [
        ['bad_value', 4, 15],
        ['bad_glob', 7, 22],
      ],
    );
    assert.match(error.message, /p\.yaml:4:15: "rules\[0\]\.decision" must be one of/);
  });

  it('accepts YAML anchors and aliases', () => {
    const policy = compilePolicy(`
version: v1
rules:
  - id: a
    match: &writes {topics: ["job.*.write.*"]}
    decision: require_approval
  - id: b
    match: *writes
    decision: deny
`);
    assert.equal(policy.evaluate({ topic: 'job.x.write.y' }).type, 'DENY');
  });
});

describe('edge semantics', () => {
  const problemsOf = (text: string): [string, number, number][] => {
    try {
      compilePolicy(text);
    } catch (error) {
      if (error instanceof PolicyLoadError)
        return error.problems.map((p) => [p.code, p.line, p.col]);
      throw error;
    }
    return [];
  };

  it('locates YAML syntax errors', () => {
    assert.deepEqual(problemsOf('version: v1\nrules: []\nrules: []\n'), [['yaml_syntax', 3, 1]]);
  });

  it('refuses an empty topics/tenants/agents list instead of matching everything', () => {
    for (const field of ['topics', 'tenants', 'agents']) {
      const text = `version: v1\nrules:\n  - id: a\n    decision: allow\n    match: {${field}: []}\n`;
      assert.equal(problemsOf(text)[0]?.[0], 'bad_value', field);
    }
  });

  it('an agents pattern never matches a request that names no agent', () => {
    const policy = compilePolicy(
      'version: v1\ndefault_decision: allow\nrules:\n  - id: agents-only\n    match: {agents: ["*"]}\n    decision: deny\n',
    );
    assert.equal(policy.evaluate({ topic: 't' }).type, 'ALLOW');
    assert.equal(policy.evaluate({ topic: 't', agent_id: 'bot' }).type, 'DENY');
  });

  it('spelling out approval defaults does not change the snapshot id', () => {
    const base = 'version: v1\nrules:\n  - id: a\n    decision: require_approval\n';
    const explicit = `${base}    approval: {timeout: 1h, quorum: 1, approver_roles: [approver, admin], allow_self_approval: false}\n`;
    assert.equal(compilePolicy(explicit).snapshot, compilePolicy(base).snapshot);
  });

  it('CEL glob() has path semantics: * stays within a / segment, dots are ordinary', () => {
    const policy = compilePolicy(
      'version: v1\nrules:\n  - id: tmp\n    match: {when: \'glob(payload.path, "/tmp/*")\'}\n    decision: allow\n',
    );
    assert.equal(policy.evaluate({ topic: 't', payload: { path: '/tmp/a.txt' } }).type, 'ALLOW');
    assert.equal(policy.evaluate({ topic: 't', payload: { path: '/tmp/a/b.txt' } }).type, 'DENY');
  });

  it('label value lists accept numbers and booleans as text', () => {
    const policy = compilePolicy(
      'version: v1\nrules:\n  - id: p\n    match: {labels: {priority: [1, 2], urgent: true}}\n    decision: allow\n',
    );
    assert.equal(
      policy.evaluate({ topic: 't', labels: { priority: '2', urgent: 'true' } }).type,
      'ALLOW',
    );
    assert.equal(
      policy.evaluate({ topic: 't', labels: { priority: '3', urgent: 'true' } }).type,
      'DENY',
    );
  });

  it('redact_output: false imposes nothing, so an allow stays ALLOW', () => {
    const policy = compilePolicy(
      'version: v1\nrules:\n  - id: a\n    decision: allow\n    constraints: {redact_output: false}\n',
    );
    assert.deepEqual(policy.evaluate({ topic: 't' }), {
      ...policy.evaluate({ topic: 't' }),
      type: 'ALLOW',
      constraints: {},
    });
  });
});
