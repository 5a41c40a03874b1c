/**
 * The job state machine (§3), written once as a table. Every transition the gateway makes is
 * checked here and recorded as one audit event.
 */

export const JOB_STATES = [
  'PENDING',
  'DENIED',
  'THROTTLED',
  'APPROVAL_REQUIRED',
  'QUEUED',
  'DISPATCHED',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'QUARANTINED',
  'REJECTED',
  'EXPIRED',
  'CANCELLED',
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<JobState> = new Set([
  'DENIED',
  'THROTTLED',
  'REJECTED',
  'EXPIRED',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'CANCELLED',
]);

/**
 * Allowed moves. Besides the spec's arrows: QUEUED → RUNNING is an inline job being claimed;
 * QUEUED → DENIED is a hash mismatch found at dispatch; DISPATCHED/RUNNING → QUEUED is a retry
 * or an expired lease (attempt + 1); every non-terminal state may be CANCELLED.
 */
const TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = {
  PENDING: ['DENIED', 'THROTTLED', 'APPROVAL_REQUIRED', 'QUEUED', 'CANCELLED'],
  APPROVAL_REQUIRED: ['QUEUED', 'REJECTED', 'EXPIRED', 'DENIED', 'CANCELLED'],
  QUEUED: ['DISPATCHED', 'RUNNING', 'DENIED', 'CANCELLED'],
  DISPATCHED: ['RUNNING', 'QUEUED', 'TIMED_OUT', 'FAILED', 'CANCELLED'],
  RUNNING: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'QUARANTINED', 'QUEUED', 'CANCELLED'],
  QUARANTINED: ['SUCCEEDED', 'FAILED', 'CANCELLED'],
  DENIED: [],
  THROTTLED: [],
  REJECTED: [],
  EXPIRED: [],
  SUCCEEDED: [],
  FAILED: [],
  TIMED_OUT: [],
  CANCELLED: [],
};

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.has(state);
}

export function canTransition(from: JobState, to: JobState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function nextStates(from: JobState): readonly JobState[] {
  return TRANSITIONS[from];
}
