/**
 * The golden corpus run through the library (`warden/policy`): every decision case in
 * `test/cases/**\/*.cases.yaml` must decide as it expects, and every policy in
 * `test/cases/validation/*.yaml` must fail to load with the problems it lists.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DECISION_TYPES } from '../../src/core/model/decision.js';
import { PROBLEM_CODES, runCase } from '../../src/policy.js';
import type { DecisionType, PolicyCase } from '../../src/policy.js';
import {
  displayName,
  findCaseFiles,
  findValidationFiles,
  loadCaseFile,
  loadValidationFile,
  runValidationCase,
} from './corpus.js';
import type { LoadedCaseFile, ValidationCase } from './corpus.js';

const MIN_DECISION_CASES = 70;
const MIN_VALIDATION_CASES = 20;

function loadAll<T>(
  files: readonly string[],
  load: (file: string) => T,
): { loaded: T[]; broken: { file: string; error: string }[] } {
  const loaded: T[] = [];
  const broken: { file: string; error: string }[] = [];
  for (const file of files) {
    try {
      loaded.push(load(file));
    } catch (error) {
      broken.push({ file, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return { loaded, broken };
}

const caseFiles = loadAll(findCaseFiles(), (file) => loadCaseFile(file));
const validationFiles = loadAll(findValidationFiles(), (file) => ({
  name: displayName(file),
  cases: loadValidationFile(file),
}));

function everyCase(): PolicyCase[] {
  return caseFiles.loaded.flatMap((f) => [...f.cases]);
}

function everyValidationCase(): ValidationCase[] {
  return validationFiles.loaded.flatMap((f) => f.cases);
}

describe('golden corpus: decision cases', () => {
  it('every case file and its policy load', () => {
    const report = caseFiles.broken.map((b) => `${displayName(b.file)}: ${b.error}`).join('\n');
    assert.equal(caseFiles.broken.length, 0, report);
  });

  it(`holds at least ${MIN_DECISION_CASES} decision cases`, () => {
    const count = everyCase().length;
    assert.ok(count >= MIN_DECISION_CASES, `only ${count} decision cases`);
  });

  it('expects every decision type at least once', () => {
    const seen = new Set<DecisionType>(everyCase().map((c) => c.expect.decision));
    const missing = DECISION_TYPES.filter((type) => !seen.has(type));
    assert.deepEqual(missing, [], `no case expects ${missing.join(', ')}`);
  });

  it('case names are unique within each file', () => {
    const duplicates = caseFiles.loaded.flatMap((f) => {
      const names = f.cases.map((c) => c.name);
      return names.filter((n, i) => names.indexOf(n) !== i).map((n) => `${f.name}: ${n}`);
    });
    assert.deepEqual(duplicates, []);
  });

  for (const file of caseFiles.loaded) {
    describe(file.name, () => {
      for (const c of file.cases) {
        it(c.name, () => {
          const result = runCase(file.policy, c);
          assert.ok(
            result.passed,
            `${file.name}: "${c.name}": ${result.failures.join('; ')}\n` +
              `decision: ${JSON.stringify(result.decision)}`,
          );
        });
      }
    });
  }
});

describe('golden corpus: validation cases', () => {
  it('every validation file loads', () => {
    const report = validationFiles.broken.map((b) => `${displayName(b.file)}: ${b.error}`);
    assert.equal(validationFiles.broken.length, 0, report.join('\n'));
  });

  it(`holds at least ${MIN_VALIDATION_CASES} validation cases`, () => {
    const count = everyValidationCase().length;
    assert.ok(count >= MIN_VALIDATION_CASES, `only ${count} validation cases`);
  });

  it('expects every problem code at least once', () => {
    const seen = new Set(everyValidationCase().flatMap((c) => c.errors.map((e) => e.code)));
    const missing = PROBLEM_CODES.filter((code) => !seen.has(code));
    assert.deepEqual(missing, [], `no validation case expects ${missing.join(', ')}`);
  });

  for (const file of validationFiles.loaded) {
    describe(file.name, () => {
      for (const c of file.cases) {
        it(c.name, () => {
          const result = runValidationCase(c);
          assert.ok(result.passed, `${file.name}: "${c.name}": ${result.failures.join('; ')}`);
        });
      }
    });
  }
});

describe('golden corpus: the runner can fail', () => {
  function firstCase(): { file: LoadedCaseFile; c: PolicyCase } {
    const file = caseFiles.loaded.find((f) => f.name.startsWith('seed/'));
    const c = file?.cases[0];
    assert.ok(file !== undefined && c !== undefined, 'the seed case file is missing or empty');
    return { file, c };
  }

  it('a real case passes as written', () => {
    const { file, c } = firstCase();
    assert.equal(runCase(file.policy, c).passed, true);
  });

  it('the same case with its expected decision flipped fails', () => {
    const { file, c } = firstCase();
    const flipped: DecisionType = c.expect.decision === 'DENY' ? 'ALLOW' : 'DENY';
    const result = runCase(file.policy, { ...c, expect: { ...c.expect, decision: flipped } });
    assert.equal(result.passed, false);
    assert.match(result.failures.join('\n'), /^decision: expected/m);
  });

  it('a validation case expecting a problem at the wrong place fails', () => {
    const c = everyValidationCase()[0];
    assert.ok(c !== undefined, 'no validation cases');
    const moved = c.errors.map((e) => ({ ...e, line: e.line + 1000 }));
    assert.equal(runValidationCase({ ...c, errors: moved }).passed, false);
  });

  it('a validation case whose policy loads fails', () => {
    const result = runValidationCase({
      name: 'valid policy',
      policy: 'version: v1\nrules: []\n',
      errors: [{ code: 'unknown_key', line: 1, col: 1 }],
    });
    assert.equal(result.passed, false);
  });
});
