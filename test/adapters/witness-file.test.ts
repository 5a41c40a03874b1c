/**
 * The checkpoint witness file (adapters/system/witness-file.ts): one checkpoint per line,
 * appended durably; a line torn by a crash is skipped and never merges with the next one.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { witnessFile } from '../../src/adapters/system/witness-file.js';
import type { AuditCheckpoint } from '../../src/core/audit/checkpoint.js';

const checkpoint = (seq: number): AuditCheckpoint => ({
  seq,
  hash: 'a'.repeat(64),
  at: '2026-11-21T10:00:00.000Z',
  key_id: '0123456789abcdef',
  signature: 'c2ln',
});

describe('checkpoint witness file', () => {
  it('is empty before the first checkpoint, then reads back what was appended, in order', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'warden-witness-')), 'audit-checkpoints.jsonl');
    const witness = witnessFile(path);
    assert.equal(witness.location, path);
    assert.deepEqual(await witness.read(), []);
    for (const seq of [10, 20, 30]) await witness.append(checkpoint(seq));
    assert.deepEqual(await witness.read(), [checkpoint(10), checkpoint(20), checkpoint(30)]);
    assert.deepEqual(await witness.read(20), [checkpoint(30)], 'only those after a seq');
    assert.equal(readFileSync(path, 'utf8').split('\n').length, 4, 'one line each');
  });

  it('skips a torn line and starts the next checkpoint on a line of its own', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'warden-witness-')), 'audit-checkpoints.jsonl');
    const witness = witnessFile(path);
    await witness.append(checkpoint(10));
    appendFileSync(path, '{"seq":20,"hash":"ab');
    await witness.append(checkpoint(30));
    appendFileSync(path, '\n[1,2]\n{"seq":"40"}\n');
    assert.deepEqual(await witness.read(), [checkpoint(10), checkpoint(30)]);
  });
});
