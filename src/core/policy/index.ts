/** The policy engine's public surface inside the codebase. */
export { compilePolicy } from './compile.js';
export type { CompiledPolicy, CompileOptions, Explanation, RuleExplanation } from './compile.js';
export { outputRestrictiveness, REDACT_OUTPUT_RULE_ID } from './output-rules.js';
export type {
  CheckOutputOptions,
  OutputFinding,
  OutputScannerKind,
  OutputVerdict,
} from './output-rules.js';
export { formatProblem, PolicyLoadError, PROBLEM_CODES } from './problems.js';
export type { Problem, ProblemCode } from './problems.js';
export type {
  PolicySpec,
  RuleSpec,
  RuleDecision,
  MatchSpec,
  OutputAction,
  OutputRuleSpec,
  ScannerSpec,
} from './spec.js';
