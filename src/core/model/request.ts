/**
 * The action request (§3 of the spec) as the decision core sees it, and the agent profile (§9).
 * Owns only shapes and defaults; validation of untrusted input happens at the edge.
 */

export type DispatchMode = 'bus' | 'inline';

/** An agent's request to perform an action. Field names are the wire names. */
export interface JobRequest {
  readonly topic: string;
  readonly tenant_id?: string | undefined;
  readonly agent_id?: string | undefined;
  readonly risk_tags?: readonly string[] | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly payload?: unknown;
  readonly idempotency_key?: string | undefined;
  readonly dispatch?: DispatchMode | undefined;
  readonly trace_id?: string | undefined;
  /** Server-assigned from authentication; never taken from a request body by the gateway. */
  readonly principal?: string | undefined;
}

export const DEFAULT_TENANT = 'default';

export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

/** A registered agent's risk profile. Unknown agents evaluate with `risk_level: "unknown"`. */
export interface AgentProfile {
  readonly name?: string | undefined;
  readonly risk_level: RiskLevel | 'unknown';
  readonly capabilities?:
    | {
        readonly write_data?: boolean | undefined;
        readonly external_messages?: boolean | undefined;
        readonly execute_code?: boolean | undefined;
        readonly financial_transactions?: boolean | undefined;
      }
    | undefined;
  readonly max_transaction_amount?: number | undefined;
  readonly requires_human_approval?: boolean | undefined;
  readonly owner?: string | undefined;
}

export const UNKNOWN_AGENT: AgentProfile = Object.freeze({ risk_level: 'unknown' });

/**
 * Everything the engine needs besides the request. The engine never fetches these itself:
 * the caller supplies time, the agent's profile and throttle counters, so a decision can be
 * replayed from its record.
 */
export interface EvaluationFacts {
  /** ISO-8601 time of the decision; conditions that read `now` fail without it. */
  readonly now?: string | undefined;
  readonly agent?: AgentProfile | undefined;
  /** rule_id → how many requests the rule's throttle window already holds for this request's key. */
  readonly counters?: Readonly<Record<string, number>> | undefined;
}
