/**
 * `warden/policy`: the policy engine as a library. Pure and synchronous; no I/O.
 *
 * @example
 * const policy = compilePolicy(yamlText);
 * const decision = policy.evaluate({ topic: 'job.mcp-bridge.write.update_ticket', risk_tags: ['prod'] });
 */
export {
  compilePolicy,
  formatProblem,
  PolicyLoadError,
  PROBLEM_CODES,
} from './core/policy/index.js';
export type {
  CompiledPolicy,
  CompileOptions,
  Explanation,
  MatchSpec,
  OutputRuleSpec,
  PolicySpec,
  Problem,
  ProblemCode,
  RuleDecision,
  RuleExplanation,
  RuleSpec,
} from './core/policy/index.js';
export { parseCases, runCase, runCases } from './core/policy/cases.js';
export type { CaseExpectation, CaseFile, CaseResult, PolicyCase } from './core/policy/cases.js';
export type { Constraints, Decision, DecisionType, Diagnostic } from './core/model/decision.js';
export type { AgentProfile, EvaluationFacts, JobRequest, RiskLevel } from './core/model/request.js';
