/**
 * The golden case corpus (`test/cases/**`): finding its files and loading them. Shared by every
 * runner of the corpus (library, CLI, HTTP), so they all see exactly the same cases.
 *
 * Two kinds of file live there:
 * - decision cases, `*.cases.yaml`, in the format of `parseCases` (§4 policy tests); each names
 *   its policy with a top-level `policy:` path relative to the case file;
 * - validation cases, `validation/*.yaml`: `{cases: [{name, policy: <text>, errors: [{code, line,
 *   col}]}]}`, policies that must fail to load with the listed problems (line and col 1-based,
 *   inside the policy text).
 *
 * This module reads files and parses them; it never evaluates a case.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { compilePolicy, parseCases, PolicyLoadError, PROBLEM_CODES } from '../../src/policy.js';
import type { CompiledPolicy, PolicyCase, Problem, ProblemCode } from '../../src/policy.js';

/** Absolute path of `test/cases`. */
export const CASES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'cases');

/** Where the validation cases live, under the corpus root. */
export const VALIDATION_SUBDIR = 'validation';

const CASE_SUFFIX = '.cases.yaml';

/** A decision case file with its policy compiled. */
export interface LoadedCaseFile {
  /** Absolute path of the case file. */
  readonly file: string;
  /** The case file's path relative to the corpus root, for display. */
  readonly name: string;
  /** Absolute path of the policy the file names. */
  readonly policyFile: string;
  readonly policy: CompiledPolicy;
  readonly cases: readonly PolicyCase[];
}

/** One problem a validation case expects the loader to report. */
export interface ExpectedProblem {
  readonly code: ProblemCode;
  readonly line: number;
  readonly col: number;
}

/** A policy text that must fail to load, and the problems it must produce. */
export interface ValidationCase {
  readonly name: string;
  readonly policy: string;
  readonly errors: readonly ExpectedProblem[];
}

/** Outcome of running one validation case. */
export interface ValidationResult {
  readonly name: string;
  readonly passed: boolean;
  /** Why the case failed, one entry per missing problem (empty when it passed). */
  readonly failures: readonly string[];
  /** What the loader reported (empty when the policy loaded). */
  readonly problems: readonly Problem[];
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

/** Every `*.cases.yaml` under `root` (recursively), sorted, as absolute paths. */
export function findCaseFiles(root: string = CASES_DIR): string[] {
  return walk(resolve(root))
    .filter((path) => path.endsWith(CASE_SUFFIX))
    .sort();
}

/** Every `*.yaml` directly in `<root>/validation`, sorted, as absolute paths. */
export function findValidationFiles(root: string = CASES_DIR): string[] {
  const dir = join(resolve(root), VALIDATION_SUBDIR);
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.yaml'))
    .map((entry) => join(dir, entry.name))
    .sort();
}

/** A corpus path relative to the corpus root, e.g. `seed/seed.cases.yaml`. */
export function displayName(path: string, root: string = CASES_DIR): string {
  return relative(resolve(root), path).split('\\').join('/');
}

/**
 * Reads a case file and compiles the policy it names (relative to the case file).
 * Throws `PolicyLoadError` when either does not load, and an `Error` when no policy is named.
 */
export function loadCaseFile(path: string, root: string = CASES_DIR): LoadedCaseFile {
  const file = resolve(path);
  const name = displayName(file, root);
  const parsed = parseCases(readFileSync(file, 'utf8'), name);
  if (parsed.policy === undefined) {
    throw new Error(
      `${name}: a corpus case file must name its policy with a top-level \`policy:\``,
    );
  }
  const policyFile = resolve(dirname(file), parsed.policy);
  const policy = compilePolicy(readFileSync(policyFile, 'utf8'), {
    file: relative(process.cwd(), policyFile),
  });
  return { file, name, policyFile, policy, cases: parsed.cases };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isProblemCode(value: unknown): value is ProblemCode {
  return typeof value === 'string' && (PROBLEM_CODES as readonly string[]).includes(value);
}

function isPosition(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1;
}

function expectedProblem(value: unknown, where: string): ExpectedProblem {
  if (!isRecord(value)) throw new Error(`${where} must be a mapping {code, line, col}`);
  const { code, line, col } = value;
  const extra = Object.keys(value).filter((key) => !['code', 'line', 'col'].includes(key));
  if (extra.length > 0) throw new Error(`${where}: unknown keys ${extra.join(', ')}`);
  if (!isProblemCode(code)) {
    throw new Error(`${where}.code must be one of ${PROBLEM_CODES.join(', ')}`);
  }
  if (!isPosition(line) || !isPosition(col)) {
    throw new Error(`${where}: line and col must be whole numbers ≥ 1 (1-based)`);
  }
  return { code, line, col };
}

function validationCase(value: unknown, where: string): ValidationCase {
  if (!isRecord(value)) throw new Error(`${where} must be a mapping {name, policy, errors}`);
  const { name, policy, errors } = value;
  const extra = Object.keys(value).filter((key) => !['name', 'policy', 'errors'].includes(key));
  if (extra.length > 0) throw new Error(`${where}: unknown keys ${extra.join(', ')}`);
  if (typeof name !== 'string' || name === '') throw new Error(`${where}.name must be a string`);
  if (typeof policy !== 'string') throw new Error(`${where}.policy must be the policy text`);
  if (!Array.isArray(errors) || errors.length === 0) {
    throw new Error(`${where}.errors must list at least one expected problem`);
  }
  return {
    name,
    policy,
    errors: errors.map((error: unknown, i) => expectedProblem(error, `${where}.errors[${i}]`)),
  };
}

/** Reads a validation case file. Throws an `Error` naming the first malformed entry. */
export function loadValidationFile(path: string, root: string = CASES_DIR): ValidationCase[] {
  const name = displayName(resolve(path), root);
  const document: unknown = parse(readFileSync(path, 'utf8'));
  if (!isRecord(document) || !Array.isArray(document['cases'])) {
    throw new Error(`${name}: a validation file has a top-level \`cases:\` list`);
  }
  const extra = Object.keys(document).filter((key) => key !== 'cases');
  if (extra.length > 0) throw new Error(`${name}: unknown top-level keys ${extra.join(', ')}`);
  return document['cases'].map((item: unknown, i) => validationCase(item, `${name}: cases[${i}]`));
}

/** `code@line:col`, the form expected and reported problems are compared and shown in. */
export function problemKey(problem: ExpectedProblem | Problem): string {
  return `${problem.code}@${problem.line}:${problem.col}`;
}

/**
 * Compiles the case's policy and checks that loading fails with (at least) every expected
 * problem at its exact line and column.
 */
export function runValidationCase(c: ValidationCase): ValidationResult {
  let problems: readonly Problem[];
  try {
    compilePolicy(c.policy, { file: `${c.name}.yaml` });
    return {
      name: c.name,
      passed: false,
      failures: ['the policy loaded without error'],
      problems: [],
    };
  } catch (error) {
    if (!(error instanceof PolicyLoadError)) {
      const message = error instanceof Error ? error.message : String(error);
      return {
        name: c.name,
        passed: false,
        failures: [`compilePolicy threw something other than PolicyLoadError: ${message}`],
        problems: [],
      };
    }
    problems = error.problems;
  }
  const reported = new Set(problems.map(problemKey));
  const failures = c.errors
    .filter((expected) => !reported.has(problemKey(expected)))
    .map(
      (expected) =>
        `expected ${problemKey(expected)}, got ${problems.map(problemKey).join(', ') || 'nothing'}`,
    );
  return { name: c.name, passed: failures.length === 0, failures, problems };
}
