/**
 * The validated, normalised policy document. Everything here has passed validation and carries
 * its defaults, so the snapshot id (a hash of this form) changes exactly when behaviour can.
 */
import type { Constraints } from '../model/decision.js';
import type { RiskLevel } from '../model/request.js';

export const RULE_DECISIONS = [
  'allow',
  'allow_with_constraints',
  'require_approval',
  'throttle',
  'deny',
] as const;
export type RuleDecision = (typeof RULE_DECISIONS)[number];

export const DEFAULT_DECISIONS = ['allow', 'deny', 'require_approval'] as const;
export type DefaultDecision = (typeof DEFAULT_DECISIONS)[number];

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const MATCH_RISK_LEVELS = ['low', 'medium', 'high', 'critical', 'unknown'] as const;
export type MatchRiskLevel = RiskLevel | 'unknown';

/** Request fields a throttle window can be keyed by; `labels.<name>` is also accepted. */
export const THROTTLE_KEY_FIELDS = ['tenant_id', 'agent_id', 'topic', 'principal'] as const;

/** The fields of a `match:` or `unless:` block, in the order the reference documents them. */
export const MATCH_FIELDS = [
  'topics',
  'tenants',
  'agents',
  'risk_tags',
  'risk_tags_all',
  'risk_levels',
  'labels',
  'when',
] as const;
export type MatchField = (typeof MATCH_FIELDS)[number];

export interface MatchSpec {
  readonly topics?: readonly string[];
  readonly tenants?: readonly string[];
  readonly agents?: readonly string[];
  readonly risk_tags?: readonly string[];
  readonly risk_tags_all?: readonly string[];
  readonly risk_levels?: readonly MatchRiskLevel[];
  readonly labels?: Readonly<Record<string, readonly string[]>>;
  readonly when?: string;
}

export interface ApprovalSpec {
  readonly timeout_sec: number;
  readonly quorum: number;
  readonly approver_roles: readonly string[];
  readonly allow_self_approval: boolean;
}

export interface ThrottleSpec {
  readonly limit: number;
  readonly window_sec: number;
  readonly key: readonly string[];
  readonly retry_after_sec: number;
}

export interface RuleSpec {
  readonly id: string;
  readonly description?: string;
  readonly match: MatchSpec;
  readonly unless?: MatchSpec;
  readonly decision: RuleDecision;
  readonly reason: string;
  readonly severity: Severity;
  readonly constraints?: Constraints;
  readonly approval?: ApprovalSpec;
  readonly throttle?: ThrottleSpec;
}

export const BUILTIN_SCANNERS = ['pii', 'secrets', 'prompt_injection'] as const;
export type BuiltinScanner = (typeof BUILTIN_SCANNERS)[number];
export type ScannerSpec = BuiltinScanner | { readonly regex: string; readonly name: string };

export const OUTPUT_ACTIONS = ['allow', 'redact', 'quarantine', 'block'] as const;
export type OutputAction = (typeof OUTPUT_ACTIONS)[number];

export interface OutputRuleSpec {
  readonly id: string;
  readonly description?: string;
  readonly match: MatchSpec;
  readonly scanners: readonly ScannerSpec[];
  readonly action: OutputAction;
}

export interface PolicySpec {
  readonly version: 'v1';
  readonly description?: string;
  readonly default_decision: DefaultDecision;
  readonly rules: readonly RuleSpec[];
  readonly output: readonly OutputRuleSpec[];
}

export const DEFAULT_APPROVAL: ApprovalSpec = Object.freeze({
  timeout_sec: 3600,
  quorum: 1,
  approver_roles: Object.freeze(['admin', 'approver']),
  allow_self_approval: false,
});
