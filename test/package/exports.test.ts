/**
 * The published surface: `warden/policy` resolves through package.json `exports` to the built
 * library and behaves like the source.
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

  it('points bin and exports at files the build produces', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      bin: Record<string, string>;
      exports: Record<string, { default: string; types: string }>;
    };
    assert.equal(pkg.bin['warden'], 'dist/cli/main.js');
    assert.equal(pkg.exports['./policy']?.default, './dist/policy.js');
    assert.match(readFileSync(pkg.bin['warden'], 'utf8'), /^#!\/usr\/bin\/env node/);
  });
});
