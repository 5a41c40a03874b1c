/**
 * A job as the gateway stores it: the request, who asked, the decision that was made for it,
 * and where it is in its life (§3).
 */
import type { Constraints, Decision } from '../model/decision.js';
import type { DispatchMode } from '../model/request.js';
import type { JobState } from './states.js';

export interface JobRecord {
  readonly job_id: string;
  readonly tenant_id: string;
  readonly topic: string;
  readonly agent_id: string | null;
  /** From authentication, never from the request body. */
  readonly principal: string;
  readonly trace_id: string;
  readonly idempotency_key: string | null;
  readonly dispatch: DispatchMode;
  readonly risk_tags: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Absent when the request carried no payload (the job hash then omits it). */
  readonly payload?: unknown;
  readonly job_hash: string;
  readonly state: JobState;
  /** The durable decision record: rule, reason, policy snapshot, constraints. */
  readonly decision: Decision;
  /** Fixed at decision time (re-fixed on approval); what workers must honour. */
  readonly constraints: Constraints;
  readonly attempt: number;
  readonly created_at: string;
  readonly updated_at: string;
}

/** The fields a state change may rewrite. */
export interface JobPatch {
  readonly state: JobState;
  readonly updated_at: string;
  readonly decision?: Decision;
  readonly constraints?: Constraints;
  readonly attempt?: number;
}
