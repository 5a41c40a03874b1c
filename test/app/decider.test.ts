/**
 * The evaluation deadline (§11) as the decider applies it: the watchdog cuts off only the
 * policies that can run long, and a finished evaluation always stands.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Decider } from '../../src/app/decider.js';
import type { FailOpen } from '../../src/app/fail-open.js';
import { UNKNOWN_AGENT } from '../../src/core/model/request.js';
import { compilePolicy } from '../../src/core/policy/index.js';
import type { CompiledPolicy } from '../../src/core/policy/index.js';
import { ThrottleLog } from '../../src/core/throttle/windows.js';
import { DeadlineExceeded } from '../../src/ports/deadline.js';
import type { DeadlineRunner } from '../../src/ports/deadline.js';
import { NO_METRICS } from '../../src/ports/metrics.js';

const seed = compilePolicy(readFileSync('examples/policies/seed.yaml', 'utf8'));
const NOW = '2026-11-21T10:00:00.000Z';
const read = { topic: 'job.mcp-bridge.read.list_tickets', tenant_id: 'acme' };

/** A runner that records its use and says the deadline passed, as a stalled evaluation would. */
function expiringRunner(): DeadlineRunner & { calls: number } {
  return {
    calls: 0,
    within() {
      this.calls += 1;
      throw new DeadlineExceeded(0);
    },
  };
}

function decider(
  policy: CompiledPolicy,
  runner: DeadlineRunner,
  failMode: 'closed' | 'open',
  failOpens: FailOpen[] = [],
): Decider {
  return new Decider({
    profiles: { profile: () => Promise.resolve(UNKNOWN_AGENT) },
    policy: () => policy,
    throttles: new ThrottleLog(),
    metrics: NO_METRICS,
    // A deadline no evaluation could meet if its elapsed time were what counted.
    deadline: { ms: 1e-9, runner, failMode, failedOpen: (f) => failOpens.push(f) },
  });
}

describe('evaluation deadline', () => {
  it('keeps the decision of a finished evaluation of a bounded policy, whatever it took', async () => {
    assert.equal(seed.unboundedCost, false);
    for (const mode of ['closed', 'open'] as const) {
      const runner = expiringRunner();
      const failOpens: FailOpen[] = [];
      const { decision } = await decider(seed, runner, mode, failOpens).decide(read, NOW, true);
      // A pause of the process (garbage collection, the scheduler) during the evaluation must
      // turn the policy's answer neither into a denial nor, fail mode open, into an allow.
      assert.equal(decision.type, 'ALLOW', mode);
      assert.equal(decision.rule_id, 'allow-low-risk-read');
      assert.equal(runner.calls, 0, 'a bounded policy needs no watchdog');
      assert.deepEqual(failOpens, []);
    }
  });

  it('answers by the fail mode when the watchdog cuts off a policy that can run long', async () => {
    const slow = compilePolicy(`version: v1
rules:
  - id: allow-when-any-long
    match:
      topics: ['job.**']
      when: 'job.risk_tags.all(t, t != "")'
    decision: allow
`);
    assert.equal(slow.unboundedCost, true);
    const closed = expiringRunner();
    const denied = await decider(slow, closed, 'closed').decide(read, NOW, true);
    assert.equal(closed.calls, 1);
    assert.equal(denied.decision.type, 'DENY');
    assert.match(
      denied.decision.reason,
      /deadline; denied because the evaluation fail mode is closed/,
    );
    const failOpens: FailOpen[] = [];
    const allowed = await decider(slow, expiringRunner(), 'open', failOpens).decide(
      read,
      NOW,
      true,
    );
    assert.equal(allowed.decision.type, 'ALLOW');
    assert.equal(failOpens.length, 1);
    assert.equal(failOpens[0]?.component, 'evaluation');
  });
});
