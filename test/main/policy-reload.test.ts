import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startGateway } from '../../src/main/gateway.js';
import type { Gateway } from '../../src/main/gateway.js';
import { parseStoreLocation } from '../../src/main/store-location.js';

const ALLOW_ALL = 'version: v1\ndefault_decision: allow\nrules: []\n';
const BROKEN = 'version: v1\nrules:\n  - id: r1\n    decision: maybe\n    reason: x\n';

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface ActivePolicy {
  snapshot: string;
  origin: string;
  author: string;
}

describe('policy file hot reload', () => {
  it('activates a changed file, refuses a broken one while the active keeps serving, and audits both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-reload-'));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, readFileSync('examples/policies/seed.yaml'));
    const messages: string[] = [];
    const start = (): Promise<Gateway> =>
      startGateway({
        policyFile,
        store: parseStoreLocation(`sqlite:${join(dir, 'warden.db')}`),
        dev: true,
        onPolicyReload: (message) => messages.push(message),
      });
    let gateway = await start();
    const active = async (): Promise<ActivePolicy> =>
      (await gateway.server.inject({ url: '/api/v1/policy' })).json<ActivePolicy>();
    try {
      const first = await active();
      assert.equal(first.origin, 'start');

      // Replaced the way deploy tools do it: write a new file, rename it over the old one.
      writeFileSync(join(dir, 'next.yaml'), ALLOW_ALL);
      renameSync(join(dir, 'next.yaml'), policyFile);
      const reloaded = await until(active, (p) => p.snapshot !== first.snapshot);
      assert.notEqual(reloaded.snapshot, first.snapshot);
      assert.equal(reloaded.origin, 'file');
      assert.equal(reloaded.author, `file:${policyFile}`);
      const decided = await gateway.server.inject({
        method: 'POST',
        url: '/api/v1/jobs',
        payload: { topic: 'job.anything', risk_tags: ['destructive'] },
      });
      assert.equal(decided.json<{ state: string }>().state, 'QUEUED');

      writeFileSync(policyFile, BROKEN);
      await until(
        () => Promise.resolve(messages),
        (m) => m.some((line) => line.includes('refused')),
      );
      assert.ok(
        messages.some((line) => line.includes('refused') && line.includes('policy.yaml:4:15:')),
        messages.join('\n'),
      );
      assert.equal((await active()).snapshot, reloaded.snapshot);
      const rejected = await gateway.server.inject({ url: '/api/v1/audit?type=policy.rejected' });
      assert.equal(rejected.json<{ items: unknown[] }>().items.length, 1);

      // A broken file also stops a start: the gateway never runs without a valid policy.
      await gateway.close();
      await assert.rejects(start(), /policy\.yaml:4:15/);

      // A restart with the file as last activated records nothing new.
      writeFileSync(policyFile, ALLOW_ALL);
      gateway = await start();
      const history = await gateway.server.inject({ url: '/api/v1/policy/snapshots' });
      assert.deepEqual(
        history.json<{ items: { origin: string }[] }>().items.map((i) => i.origin),
        ['file', 'start'],
      );
      assert.equal((await active()).snapshot, reloaded.snapshot);
    } finally {
      await gateway.close();
    }
  });
});
