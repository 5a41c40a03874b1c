/**
 * The published surface: `warden/policy`, `warden/worker` and `warden/client` resolve through package.json `exports` to the built
 * library and behave like the source.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

describe('package exports', () => {
  it('warden/policy exports compilePolicy that loads the seed policy', async () => {
    const lib = await import('warden/policy');
    const policy = lib.compilePolicy(readFileSync('examples/policies/seed.yaml', 'utf8'));
    assert.equal(
      policy.evaluate({ topic: 'job.mcp-bridge.write.x', risk_tags: ['prod'] }).type,
      'REQUIRE_APPROVAL',
    );
    assert.throws(() => lib.compilePolicy('version: v9\nrules: []\n'), lib.PolicyLoadError);
  });

  it('warden/worker and warden/client export the worker SDK and guard()', async () => {
    const worker = await import('warden/worker');
    assert.equal(typeof worker.createWorker, 'function');
    assert.ok(
      new worker.ConstraintViolation(
        'allowed_paths',
        '/x',
        'path "/x" is outside allowed_paths',
      ) instanceof Error,
    );
    const client = await import('warden/client');
    assert.equal(typeof client.createClient, 'function');
    assert.equal(typeof client.createClient({ url: 'http://127.0.0.1:1' }).guard, 'function');
  });

  it('points bin and exports at files the build produces', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      bin: Record<string, string>;
      exports: Record<string, { default: string; types: string }>;
    };
    assert.equal(pkg.bin['warden'], 'dist/cli/main.js');
    assert.equal(pkg.exports['./policy']?.default, './dist/policy.js');
    assert.equal(pkg.exports['./worker']?.default, './dist/sdk/worker.js');
    assert.equal(pkg.exports['./client']?.default, './dist/sdk/client.js');
    assert.match(readFileSync(pkg.bin['warden'], 'utf8'), /^#!\/usr\/bin\/env node/);
  });
});
