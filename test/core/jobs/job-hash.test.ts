import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../../../src/core/hash/jcs.js';
import { sha256Hex } from '../../../src/core/hash/sha256.js';
import { jobHash, jobHashInput } from '../../../src/core/jobs/job-hash.js';

describe('job hash', () => {
  it('is SHA-256 of the JCS of the identity fields, absent optional fields omitted', () => {
    const job = {
      topic: 'job.mcp-bridge.write.update_ticket',
      risk_tags: ['prod'],
      labels: { 'mcp.action': 'write' },
    };
    const expected = sha256Hex(
      '{"labels":{"mcp.action":"write"},"risk_tags":["prod"],"tenant_id":"default","topic":"job.mcp-bridge.write.update_ticket"}',
    );
    assert.equal(jobHash(job), expected);
    assert.match(jobHash(job), /^[0-9a-f]{64}$/);
  });

  it('sorts and de-duplicates risk tags and ignores key order', () => {
    const a = { topic: 't', risk_tags: ['b', 'a', 'b'], payload: { x: 1, y: [1, 2] } };
    const b = { payload: { y: [1, 2], x: 1 }, risk_tags: ['a', 'b'], topic: 't' };
    assert.equal(jobHash(a), jobHash(b));
  });

  it('changes with anything that changes the action or who asks', () => {
    const base = {
      topic: 't',
      tenant_id: 'acme',
      agent_id: 'bot',
      principal: 'key-1',
      payload: { amount: 5 },
    };
    const variants = [
      { ...base, topic: 'u' },
      { ...base, tenant_id: 'other' },
      { ...base, agent_id: 'bot2' },
      { ...base, principal: 'key-2' },
      { ...base, payload: { amount: 6 } },
      { ...base, risk_tags: ['prod'] },
      { ...base, labels: { a: 'b' } },
    ];
    for (const v of variants) assert.notEqual(jobHash(v), jobHash(base));
  });

  it('does not cover transport fields (trace id, idempotency key, dispatch mode)', () => {
    const base = { topic: 't' };
    assert.equal(
      jobHash({ ...base, trace_id: 'x', idempotency_key: 'k', dispatch: 'inline' as const }),
      jobHash(base),
    );
  });

  it('equals the hash of its canonical input for any payload', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (payload) => {
        const job = { topic: 't', payload };
        assert.equal(jobHash(job), sha256Hex(canonicalJson(jobHashInput(job))));
      }),
    );
  });
});
