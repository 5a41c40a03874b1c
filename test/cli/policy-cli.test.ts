/**
 * The `warden policy` verbs through the built binary (the `bin` of package.json), as a user runs
 * them. `npm test` builds first, so this exercises exactly what `npm ci` installs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { warden } from '../support/cli.js';

const SEED = 'examples/policies/seed.yaml';

function tempFile(name: string, content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'warden-cli-')), name);
  writeFileSync(path, content);
  return path;
}

describe('warden policy lint', () => {
  it('accepts the seed policy', () => {
    const { code, stdout } = warden('policy', 'lint', SEED);
    assert.equal(code, 0);
    assert.match(stdout, /seed\.yaml: ok \(4 rules/);
  });

  it('prints every problem as file:line:col and exits 1', () => {
    const bad = tempFile(
      'bad.yaml',
      'version: v1\nrules:\n  - id: a\n    decision: allow\n    mach: {}\n  - id: a\n    decision: deny\n',
    );
    const { code, stderr } = warden('policy', 'lint', bad);
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`${bad}:5:5: unknown key "mach"`));
    assert.match(stderr, new RegExp(`${bad}:6:5: rule id "a" is already used`));
  });

  it('exits 2 with a clear message for a missing file', () => {
    const { code, stderr } = warden('policy', 'lint', 'does-not-exist.yaml');
    assert.equal(code, 2);
    assert.match(stderr, /does-not-exist\.yaml/);
  });
});

describe('warden policy test', () => {
  it('runs the example request set: N passed, N failed, exit 0', () => {
    const { code, stdout } = warden(
      'policy',
      'test',
      '--policy',
      SEED,
      'examples/policies/seed.cases.yaml',
    );
    assert.equal(code, 0);
    assert.match(stdout.trim().split('\n').at(-1) ?? '', /^6 passed, 0 failed$/);
  });

  it('prints one line per failing case and exits 1', () => {
    const cases = tempFile(
      'cases.yaml',
      'cases:\n  - name: wrong on purpose\n    request: {topic: job.mcp-bridge.read.x}\n    expect: {decision: DENY}\n  - name: right\n    request: {topic: job.mcp-bridge.read.x}\n    expect: {decision: ALLOW, rule_id: allow-low-risk-read}\n',
    );
    const { code, stdout } = warden('policy', 'test', '--policy', SEED, cases);
    assert.equal(code, 1);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? '', /^FAIL wrong on purpose .*decision: expected DENY, got ALLOW/);
    assert.equal(lines[1], '1 passed, 1 failed');
  });

  it('rejects a malformed case file with its location', () => {
    const cases = tempFile(
      'cases.yaml',
      'cases:\n  - name: x\n    request: {topic: a}\n    expect: {decision: NOPE}\n',
    );
    const { code, stderr } = warden('policy', 'test', '--policy', SEED, cases);
    assert.equal(code, 2);
    assert.match(stderr, /cases\.yaml:4:24: .*must be one of/);
  });
});

describe('warden policy eval and explain', () => {
  const request = tempFile(
    'req.json',
    JSON.stringify({ topic: 'pay.refund', payload: { amount: 250 } }),
  );
  const agent = tempFile(
    'agent.json',
    JSON.stringify({ risk_level: 'medium', max_transaction_amount: 100 }),
  );
  const policy = tempFile(
    'policy.yaml',
    'version: v1\ndefault_decision: allow\nrules:\n  - id: over-limit\n    match: {topics: ["pay.**"], when: "payload.amount > agent.max_transaction_amount && business_hours(now, \\"UTC\\", 9, 17)"}\n    decision: require_approval\n    reason: over the agent limit\n',
  );

  const evalAt = (now: string) =>
    warden(
      'policy',
      'eval',
      '--policy',
      policy,
      '--request',
      request,
      '--agent',
      agent,
      '--now',
      now,
    );

  it('eval prints the decision JSON', () => {
    const { code, stdout } = evalAt('2026-11-20T10:00:00Z');
    assert.equal(code, 0);
    const decision = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(decision['type'], 'REQUIRE_APPROVAL');
    assert.equal(decision['rule_id'], 'over-limit');
    assert.deepEqual(Object.keys(decision), [
      'type',
      'rule_id',
      'reason',
      'policy_snapshot',
      'constraints',
      'matched_rules',
      'retry_after_sec',
      'diagnostics',
    ]);
  });

  it('eval honours --now (outside business hours the rule does not match)', () => {
    const { stdout } = evalAt('2026-11-20T20:00:00Z');
    assert.equal((JSON.parse(stdout) as { type: string }).type, 'ALLOW');
  });

  it('explain prints a table with each rule and the decision', () => {
    const { code, stdout } = warden(
      'policy',
      'explain',
      '--policy',
      SEED,
      '--request',
      tempFile('r.json', '{"topic":"job.agent.exec.x","risk_tags":["medium"]}'),
    );
    assert.equal(code, 0);
    assert.match(stdout, /^RULE\s+DECISION\s+MATCHED\s+DETAIL/m);
    assert.match(stdout, /^constrain-medium-risk\s+allow_with_constraints\s+yes\s+matched$/m);
    assert.match(stdout, /^decision: ALLOW_WITH_CONSTRAINTS \(constrain-medium-risk\)/m);
  });

  it('refuses a request that is not JSON', () => {
    const { code, stderr } = warden(
      'policy',
      'eval',
      '--policy',
      SEED,
      '--request',
      tempFile('r.json', '{topic:'),
    );
    assert.equal(code, 2);
    assert.match(stderr, /is not valid JSON/);
  });
});

describe('warden policy diff', () => {
  it('lists the cases whose decision changes', () => {
    const stricter = tempFile(
      'new.yaml',
      readFileSync(SEED, 'utf8').replace('decision: allow\n', 'decision: require_approval\n'),
    );
    const { code, stdout } = warden(
      'policy',
      'diff',
      SEED,
      stricter,
      '--cases',
      'examples/policies/seed.cases.yaml',
    );
    assert.equal(code, 0);
    assert.match(
      stdout,
      /^CHANGED a low-risk read is allowed: ALLOW \(allow-low-risk-read\) -> REQUIRE_APPROVAL \(allow-low-risk-read\)$/m,
    );
    assert.match(stdout.trim().split('\n').at(-1) ?? '', /^6 cases, 1 changed$/);
    assert.equal(
      warden(
        'policy',
        'diff',
        SEED,
        stricter,
        '--cases',
        'examples/policies/seed.cases.yaml',
        '--exit-code',
      ).code,
      1,
    );
    assert.equal(
      warden(
        'policy',
        'diff',
        SEED,
        SEED,
        '--cases',
        'examples/policies/seed.cases.yaml',
        '--exit-code',
      ).code,
      0,
    );
  });
});

describe('warden --help', () => {
  it('documents every policy verb', () => {
    const { code, stdout } = warden('policy', '--help');
    assert.equal(code, 0);
    for (const verb of ['lint', 'test', 'eval', 'explain', 'diff'])
      assert.match(stdout, new RegExp(`^\\s+${verb}\\b`, 'm'));
  });
});
