import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canTransition,
  isTerminal,
  JOB_STATES,
  nextStates,
} from '../../../src/core/jobs/states.js';

describe('job state machine', () => {
  it('has the spec terminal states, and they have no way out', () => {
    const terminal = JOB_STATES.filter(isTerminal);
    assert.deepEqual(terminal, [
      'DENIED',
      'THROTTLED',
      'SUCCEEDED',
      'FAILED',
      'TIMED_OUT',
      'REJECTED',
      'EXPIRED',
      'CANCELLED',
    ]);
    for (const state of terminal) assert.deepEqual(nextStates(state), []);
  });

  it('lets every non-terminal state be cancelled', () => {
    for (const state of JOB_STATES.filter((s) => !isTerminal(s)))
      assert.ok(canTransition(state, 'CANCELLED'), state);
  });

  it('follows the spec arrows', () => {
    const arrows: [string, string][] = [
      ['PENDING', 'DENIED'],
      ['PENDING', 'THROTTLED'],
      ['PENDING', 'APPROVAL_REQUIRED'],
      ['PENDING', 'QUEUED'],
      ['APPROVAL_REQUIRED', 'QUEUED'],
      ['APPROVAL_REQUIRED', 'REJECTED'],
      ['APPROVAL_REQUIRED', 'EXPIRED'],
      ['APPROVAL_REQUIRED', 'DENIED'],
      ['QUEUED', 'DISPATCHED'],
      ['DISPATCHED', 'RUNNING'],
      ['RUNNING', 'SUCCEEDED'],
      ['RUNNING', 'FAILED'],
      ['RUNNING', 'TIMED_OUT'],
      ['RUNNING', 'QUARANTINED'],
      ['QUARANTINED', 'SUCCEEDED'],
      ['QUARANTINED', 'FAILED'],
    ];
    for (const [from, to] of arrows) {
      assert.ok(canTransition(from as never, to as never), `${from} -> ${to}`);
    }
  });

  it('refuses shortcuts that would skip the decision or approval', () => {
    assert.equal(canTransition('PENDING', 'DISPATCHED'), false);
    assert.equal(canTransition('APPROVAL_REQUIRED', 'DISPATCHED'), false);
    assert.equal(canTransition('APPROVAL_REQUIRED', 'RUNNING'), false);
    assert.equal(canTransition('DENIED', 'QUEUED'), false);
    assert.equal(canTransition('QUARANTINED', 'QUEUED'), false);
  });
});
