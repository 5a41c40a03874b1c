/**
 * The decision (§4) and the constraint set (§6): what the engine returns and the gateway stores.
 */

export const DECISION_TYPES = [
  'ALLOW',
  'DENY',
  'REQUIRE_APPROVAL',
  'ALLOW_WITH_CONSTRAINTS',
  'THROTTLE',
] as const;
export type DecisionType = (typeof DECISION_TYPES)[number];

/** Constraints fixed at decision time. Absent keys impose nothing. */
export interface Constraints {
  readonly max_runtime_sec?: number;
  readonly max_retries?: number;
  readonly allowed_paths?: readonly string[];
  readonly denied_paths?: readonly string[];
  readonly allowed_hosts?: readonly string[];
  readonly denied_hosts?: readonly string[];
  readonly max_output_bytes?: number;
  readonly redact_output?: boolean;
}

/** Something the engine noticed while deciding, e.g. a condition that failed at run time. */
export interface Diagnostic {
  readonly rule_id: string;
  readonly code: 'condition_error' | 'condition_not_bool';
  readonly message: string;
}

export interface Decision {
  readonly type: DecisionType;
  /** The rule that decided; null when no rule matched and the default decision applied. */
  readonly rule_id: string | null;
  readonly reason: string;
  readonly policy_snapshot: string;
  readonly constraints: Constraints;
  /** Every rule that matched, in file order. */
  readonly matched_rules: readonly string[];
  readonly retry_after_sec: number | null;
  readonly diagnostics: readonly Diagnostic[];
}
