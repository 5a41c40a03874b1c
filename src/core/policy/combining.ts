/**
 * The combining table (ADR 0001): when several rules match, the most restrictive decision wins;
 * among equals, the first in file order gives rule_id and reason. Written once, as data, with an
 * exhaustive switch so adding a decision kind cannot compile until its rank is chosen.
 */
import type { DecisionType } from '../model/decision.js';
import type { RuleDecision } from './spec.js';

/** Higher is more restrictive: deny > throttle > require_approval > allow_with_constraints > allow. */
export function restrictiveness(decision: RuleDecision): number {
  switch (decision) {
    case 'allow':
      return 0;
    case 'allow_with_constraints':
      return 1;
    case 'require_approval':
      return 2;
    case 'throttle':
      return 3;
    case 'deny':
      return 4;
    default:
      return assertNever(decision);
  }
}

/** The wire name of a rule decision. An `allow` that carries constraints is reported as such. */
export function wireDecision(decision: RuleDecision, hasConstraints: boolean): DecisionType {
  switch (decision) {
    case 'allow':
      return hasConstraints ? 'ALLOW_WITH_CONSTRAINTS' : 'ALLOW';
    case 'allow_with_constraints':
      return 'ALLOW_WITH_CONSTRAINTS';
    case 'require_approval':
      return 'REQUIRE_APPROVAL';
    case 'throttle':
      return 'THROTTLE';
    case 'deny':
      return 'DENY';
    default:
      return assertNever(decision);
  }
}

/** Ordering of wire decision types, for comparing outcomes (e.g. in property tests). */
export function wireRestrictiveness(type: DecisionType): number {
  switch (type) {
    case 'ALLOW':
      return 0;
    case 'ALLOW_WITH_CONSTRAINTS':
      return 1;
    case 'REQUIRE_APPROVAL':
      return 2;
    case 'THROTTLE':
      return 3;
    case 'DENY':
      return 4;
    default:
      return assertNever(type);
  }
}

export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${String(value)}`);
}
