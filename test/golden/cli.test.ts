/**
 * The golden corpus through the command line: every decision case file through
 * `warden policy test`, every validation case through `warden policy lint`, using the built binary.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  displayName,
  findCaseFiles,
  findValidationFiles,
  loadCaseFile,
  loadValidationFile,
} from './corpus.js';
import { warden } from '../support/cli.js';

describe('golden decision cases through `warden policy test`', () => {
  for (const file of findCaseFiles()) {
    it(displayName(file), () => {
      const expected = loadCaseFile(file).cases.length;
      const { code, stdout, stderr } = warden('policy', 'test', file);
      assert.equal(
        stdout.trim().split('\n').at(-1),
        `${expected} passed, 0 failed`,
        stdout + stderr,
      );
      assert.equal(code, 0);
    });
  }
});

describe('golden validation cases through `warden policy lint`', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-golden-'));
  const cases = findValidationFiles().flatMap((file) =>
    loadValidationFile(file).map((c, i) => ({
      ...c,
      path: join(dir, `${displayName(file).replace(/\W/g, '_')}-${i}.yaml`),
    })),
  );
  for (const c of cases) writeFileSync(c.path, c.policy);
  // One process lints every file; each case then checks its own lines of the output.
  const run = warden('policy', 'lint', ...cases.map((c) => c.path));

  it('exits 1 because every file is invalid', () => {
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
  });

  for (const c of cases) {
    it(c.name, () => {
      const lines = run.stderr.split('\n').filter((line) => line.startsWith(`${c.path}:`));
      for (const e of c.errors) {
        const prefix = `${c.path}:${e.line}:${e.col}: `;
        assert.ok(
          lines.some((line) => line.startsWith(prefix) && line.includes(`[${e.code}`)),
          `expected ${e.code} at ${e.line}:${e.col}, got:\n${lines.join('\n')}`,
        );
      }
    });
  }
});
