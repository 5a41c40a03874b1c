/**
 * Load-time problems: every mistake in a policy file, each with its location, collected in one
 * pass so an author fixes them all at once instead of one per attempt.
 */

export const PROBLEM_CODES = [
  'yaml_syntax',
  'unknown_key',
  'missing_key',
  'wrong_type',
  'bad_value',
  'duplicate_rule_id',
  'bad_glob',
  'bad_condition',
  'bad_regex',
  'bad_duration',
  'unknown_constraint',
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

export interface Problem {
  readonly code: ProblemCode;
  /** Where in the document, e.g. `rules[2].match.topics[0]`. */
  readonly path: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

/** Thrown by `compilePolicy` when the policy cannot load; lists every problem found. */
export class PolicyLoadError extends Error {
  readonly code = 'WARDEN_POLICY_INVALID';
  readonly problems: readonly Problem[];
  readonly file: string;

  constructor(file: string, problems: readonly Problem[]) {
    super(
      `policy ${file} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        [...problems]
          .sort((a, b) => a.line - b.line || a.col - b.col)
          .map((p) => `  ${formatProblem(file, p)}`)
          .join('\n'),
    );
    this.name = 'PolicyLoadError';
    this.file = file;
    this.problems = [...problems].sort((a, b) => a.line - b.line || a.col - b.col);
  }
}

/** `file:line:col: message (code at path)` — the form editors and CI logs link to. */
export function formatProblem(file: string, problem: Problem): string {
  const where = problem.path === '' ? '' : ` at ${problem.path}`;
  return `${file}:${problem.line}:${problem.col}: ${problem.message} [${problem.code}${where}]`;
}
