/** The policy engine's public surface inside the codebase. */
export { compilePolicy } from './compile.js';
export type { CompiledPolicy, CompileOptions, Explanation, RuleExplanation } from './compile.js';
export { formatProblem, PolicyLoadError, PROBLEM_CODES } from './problems.js';
export type { Problem, ProblemCode } from './problems.js';
export type { PolicySpec, RuleSpec, RuleDecision, MatchSpec, OutputRuleSpec } from './spec.js';
