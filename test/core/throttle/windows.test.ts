import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicy } from '../../../src/core/policy/index.js';
import { ThrottleLog, throttleKey } from '../../../src/core/throttle/windows.js';
import type { ThrottleWindow } from '../../../src/core/throttle/windows.js';

const window = (key = '["a"]', limit = 3, window_sec = 60): ThrottleWindow => ({
  rule_id: 'r',
  key,
  limit,
  window_sec,
});

describe('throttle log', () => {
  it('counts the requests inside the sliding window only', () => {
    const log = new ThrottleLog();
    log.record(window(), 0);
    log.record(window(), 30_000);
    assert.equal(log.count(window(), 59_999), 2);
    // The first request leaves the window exactly one window length later.
    assert.equal(log.count(window(), 60_000), 1);
    assert.equal(log.count(window(), 90_001), 0);
  });

  it('keeps keys and rules apart', () => {
    const log = new ThrottleLog();
    log.record(window('["a"]'), 0);
    assert.equal(log.count(window('["b"]'), 1), 0);
    assert.equal(log.count({ ...window('["a"]'), rule_id: 'other' }, 1), 0);
    assert.equal(log.count(window('["a"]'), 1), 1);
  });

  it('takes back a request that did not happen', () => {
    const log = new ThrottleLog();
    log.record(window(), 10);
    log.record(window(), 20);
    log.unrecord(window(), 20);
    assert.equal(log.count(window(), 30), 1);
    log.unrecord(window('["other"]'), 10);
    assert.equal(log.count(window(), 30), 1);
  });

  it('never holds more than the limit per key', () => {
    const log = new ThrottleLog();
    for (let t = 0; t < 100; t += 1) log.record(window('["a"]', 3), t);
    assert.equal(log.count(window('["a"]', 3), 100), 3);
  });

  it('sweeps keys whose window has emptied', () => {
    const log = new ThrottleLog();
    for (let i = 0; i < 5000; i += 1) log.record(window(`["k${String(i)}"]`, 1, 1), i);
    // The sweep after 4096 records dropped every key older than one second at that time.
    assert.ok(log.size < 5000 - 3000, `kept ${String(log.size)} keys`);
  });
});

describe('throttle keys', () => {
  it('reads request fields and labels, absent ones as null', () => {
    const request = { topic: 't.x', tenant_id: 'acme', labels: { env: 'prod' } };
    assert.equal(
      throttleKey(['tenant_id', 'agent_id', 'topic', 'labels.env', 'labels.none'], request),
      '["acme",null,"t.x","prod",null]',
    );
  });
});

describe('policy throttle windows', () => {
  const policy = compilePolicy(`
version: v1
default_decision: allow
rules:
  - id: burst
    match: {topics: ["job.write.*"]}
    decision: throttle
    reason: too many writes
    throttle: {limit: 2, window: 1m, key: [tenant_id, agent_id]}
  - id: burst-exempt
    match: {topics: ["job.read.*"]}
    unless: {agents: ["trusted-*"]}
    decision: throttle
    reason: too many reads
    throttle: {limit: 5, window: 10s, key: [agent_id]}
  - id: always
    match: {topics: ["job.never.*"]}
    decision: throttle
    reason: never allowed
`);

  it('lists every throttle rule with a block whose match holds, whatever the counters', () => {
    const request = { topic: 'job.write.x', tenant_id: 'acme', agent_id: 'bot' };
    assert.deepEqual(policy.throttleWindows(request, { counters: { burst: 99 } }), [
      { rule_id: 'burst', key: '["acme","bot"]', limit: 2, window_sec: 60 },
    ]);
    assert.equal(policy.evaluate(request, { counters: { burst: 1 } }).type, 'ALLOW');
    assert.equal(policy.evaluate(request, { counters: { burst: 2 } }).type, 'THROTTLE');
  });

  it('leaves out rules whose exception holds and rules without a window', () => {
    assert.deepEqual(policy.throttleWindows({ topic: 'job.read.x', agent_id: 'trusted-1' }), []);
    assert.deepEqual(policy.throttleWindows({ topic: 'job.never.x' }), []);
    assert.equal(policy.throttleWindows({ topic: 'job.read.x', agent_id: 'bot' }).length, 1);
  });
});
