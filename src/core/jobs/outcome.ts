/**
 * What a decision means for the job: the state it moves to (§3). Dispatch handlers reflect the
 * decision exactly, without an interpretation layer.
 */
import type { DecisionType } from '../model/decision.js';
import { assertNever } from '../policy/combining.js';
import type { JobState } from './states.js';

export function stateForDecision(type: DecisionType): JobState {
  switch (type) {
    case 'ALLOW':
    case 'ALLOW_WITH_CONSTRAINTS':
      return 'QUEUED';
    case 'DENY':
      return 'DENIED';
    case 'THROTTLE':
      return 'THROTTLED';
    case 'REQUIRE_APPROVAL':
      return 'APPROVAL_REQUIRED';
    default:
      return assertNever(type);
  }
}

/** The trace id in a W3C `traceparent` header, or null when the header is absent or invalid. */
export function traceIdFromTraceparent(header: string | undefined): string | null {
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(header?.trim() ?? '');
  const traceId = match?.[1];
  return traceId === undefined || /^0+$/.test(traceId) ? null : traceId;
}
