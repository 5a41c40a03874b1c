/**
 * Invariants of the engine, checked on random policies and requests (fast-check).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compilePolicy } from '../../../src/core/policy/index.js';
import { wireRestrictiveness } from '../../../src/core/policy/combining.js';
import {
  countersArb,
  defaultDecisionArb,
  policyYaml,
  requestArb,
  rulesArb,
  ruleArb,
} from '../../support/policy-gen.js';

const runs = { numRuns: 300 };

describe('policy engine properties', () => {
  it('is deterministic: the same input gives the same decision, from a fresh compile too', () => {
    fc.assert(
      fc.property(rulesArb(), requestArb, countersArb(8), (rules, request, counters) => {
        const text = policyYaml(rules);
        const a = compilePolicy(text).evaluate(request, { counters });
        const b = compilePolicy(text).evaluate(request, { counters });
        const c = compilePolicy(text).evaluate(structuredClone(request), {
          counters: { ...counters },
        });
        assert.deepEqual(a, b);
        assert.deepEqual(a, c);
      }),
      runs,
    );
  });

  it('the index never drops a rule: matched_rules equals the exhaustive per-rule check', () => {
    fc.assert(
      fc.property(rulesArb(10), requestArb, countersArb(10), (rules, request, counters) => {
        const policy = compilePolicy(policyYaml(rules));
        const exhaustive = policy
          .explain(request, { counters })
          .rules.filter((r) => r.matched)
          .map((r) => r.rule_id);
        assert.deepEqual(policy.evaluate(request, { counters }).matched_rules, exhaustive);
      }),
      runs,
    );
  });

  it('adding a deny rule never makes a decision less restrictive', () => {
    fc.assert(
      fc.property(
        rulesArb(),
        ruleArb('added-deny'),
        requestArb,
        countersArb(8),
        (rules, extra, request, counters) => {
          const before = compilePolicy(policyYaml(rules)).evaluate(request, { counters });
          const deny = { ...extra, decision: 'deny' as const };
          delete deny.throttle;
          const afterPolicies = [
            [...rules, deny],
            [deny, ...rules],
          ];
          for (const after of afterPolicies) {
            const decision = compilePolicy(policyYaml(after)).evaluate(request, { counters });
            assert.ok(
              wireRestrictiveness(decision.type) >= wireRestrictiveness(before.type),
              `${before.type} became ${decision.type}`,
            );
            if (decision.matched_rules.includes('added-deny')) assert.equal(decision.type, 'DENY');
          }
        },
      ),
      runs,
    );
  });

  it('no matching rule gives the default decision (absent default: deny)', () => {
    fc.assert(
      fc.property(rulesArb(), defaultDecisionArb, requestArb, (rules, defaultDecision, request) => {
        const decision = compilePolicy(policyYaml(rules, defaultDecision)).evaluate(request);
        if (decision.matched_rules.length > 0) return;
        const expected = { allow: 'ALLOW', deny: 'DENY', require_approval: 'REQUIRE_APPROVAL' }[
          defaultDecision ?? 'deny'
        ];
        assert.equal(decision.type, expected);
        assert.equal(decision.rule_id, null);
        assert.deepEqual(decision.constraints, {});
      }),
      runs,
    );
  });

  it('the decision is the most restrictive matched rule, ties going to file order', () => {
    fc.assert(
      fc.property(rulesArb(), requestArb, countersArb(8), (rules, request, counters) => {
        const policy = compilePolicy(policyYaml(rules));
        const decision = policy.evaluate(request, { counters });
        if (decision.rule_id === null) return;
        const rank = ['allow', 'allow_with_constraints', 'require_approval', 'throttle', 'deny'];
        const matched = decision.matched_rules.map((id) => policy.rule(id));
        const best = Math.max(...matched.map((r) => rank.indexOf(r?.decision ?? 'allow')));
        const first = matched.find((r) => rank.indexOf(r?.decision ?? 'allow') === best);
        assert.equal(decision.rule_id, first?.id);
      }),
      runs,
    );
  });

  it('reordering rules changes no decision type (only which tied rule is named)', () => {
    fc.assert(
      fc.property(rulesArb(), requestArb, countersArb(8), (rules, request, counters) => {
        const forward = compilePolicy(policyYaml(rules)).evaluate(request, { counters });
        const backward = compilePolicy(policyYaml([...rules].reverse())).evaluate(request, {
          counters,
        });
        assert.equal(forward.type, backward.type);
        assert.deepEqual(forward.constraints, backward.constraints);
        assert.deepEqual([...forward.matched_rules].sort(), [...backward.matched_rules].sort());
      }),
      runs,
    );
  });
});
