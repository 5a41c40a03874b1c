/**
 * What the app reports for monitoring (§14). The app says what happened; the adapter decides how
 * it is exported (Prometheus). Labels stay bounded: no job ids, no trace ids.
 */
import type { Decision } from '../core/model/decision.js';

export interface DecisionReport {
  readonly decision: Decision;
  readonly agent_id: string | null;
  readonly topic: string;
  /** Severity of the deciding rule; null when no rule matched. */
  readonly severity: string | null;
}

/** `ai_agent_approval_requests_total` statuses (§14). */
export type ApprovalMetricStatus = 'requested' | 'approved' | 'rejected' | 'timeout';

/** What happened to dispatched work, for `warden_dispatch_total{outcome}`. */
export type DispatchOutcome =
  | 'published'
  | 'publish_failed'
  | 'leased'
  | 'succeeded'
  | 'failed'
  | 'retried'
  | 'quarantined'
  | 'timed_out'
  | 'lease_expired';

export interface Metrics {
  /** Starts timing a decision; the returned function records it when the decision is known. */
  decisionStarted(): (report: DecisionReport) => void;
  /** A write carrying audit events failed, so its action was not released. */
  auditAppendFailed(): void;
  /** An approval was requested or reached an outcome. */
  approval(agentId: string | null, status: ApprovalMetricStatus): void;
  /** The pending queue as last measured: depth, and the age of its oldest entry in seconds. */
  approvalQueue(pending: number, oldestAgeSec: number): void;
  /** A notification delivery attempt failed (it may still be retried). */
  notificationFailed(channel: string): void;
  /** A step of dispatch and execution. */
  dispatch(outcome: DispatchOutcome): void;
  /** A component failed and its fail mode (`open`) let the action through anyway (§11). */
  failOpen(component: FailOpenComponent): void;
  /** Audit events the SIEM forwarder delivered, or found pruned before it could send them. */
  auditForwarded(outcome: 'delivered' | 'gap', events: number): void;
  /** A SIEM forwarding attempt failed; the same events are tried again. */
  auditForwardFailed(): void;
  /** Audit events appended but not yet accepted by the SIEM, as last measured. */
  auditForwardLag(events: number): void;
}

/** The components with a fail mode (§11), for `warden_fail_open_total{component}`. */
export const FAIL_OPEN_COMPONENTS = ['store', 'audit', 'notifier', 'evaluation'] as const;
export type FailOpenComponent = (typeof FAIL_OPEN_COMPONENTS)[number];

/** For tests and library use where nothing is exported. */
export const NO_METRICS: Metrics = {
  decisionStarted: () => () => undefined,
  auditAppendFailed: () => undefined,
  approval: () => undefined,
  approvalQueue: () => undefined,
  notificationFailed: () => undefined,
  dispatch: () => undefined,
  failOpen: () => undefined,
  auditForwarded: () => undefined,
  auditForwardFailed: () => undefined,
  auditForwardLag: () => undefined,
};
