/**
 * Prometheus metrics (§14) with prom-client, on a registry of their own so several gateways (and
 * tests) in one process never share counters.
 *
 * Agent names and topics come from requests, so each is capped at a number of distinct values;
 * later values are reported as `other`, which keeps every label bounded whatever agents send.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DecisionReport, Metrics } from '../../ports/metrics.js';
import { FAIL_OPEN_COMPONENTS } from '../../ports/metrics.js';

const DISTINCT_LABEL_VALUES = 1000;
const OVERFLOW = 'other';

/** Passes label values through until `limit` distinct ones were seen, then maps new ones to `other`. */
class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly limit: number) {}

  value(raw: string): string {
    if (this.seen.has(raw)) return raw;
    if (this.seen.size >= this.limit) return OVERFLOW;
    this.seen.add(raw);
    return raw;
  }
}

export interface PrometheusMetrics extends Metrics {
  readonly registry: Registry;
  /** The exposition text for `/metrics`. */
  text(): Promise<string>;
  readonly contentType: string;
}

export function createPrometheusMetrics(
  options: { defaultMetrics?: boolean } = {},
): PrometheusMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const agents = new BoundedLabel(DISTINCT_LABEL_VALUES);
  const actions = new BoundedLabel(DISTINCT_LABEL_VALUES);
  const decisions = new Counter({
    name: 'warden_decisions_total',
    help: 'Policy decisions made, by decision type',
    labelNames: ['decision'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'warden_decision_duration_seconds',
    help: 'Time to reach a decision (profile lookup, throttle counters, policy evaluation)',
    buckets: [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    registers: [registry],
  });
  const agentActions = new Counter({
    name: 'ai_agent_actions_total',
    help: 'Actions requested by agents, by agent, action (topic) and whether they were allowed',
    labelNames: ['agent_name', 'action', 'allowed'] as const,
    registers: [registry],
  });
  const violations = new Counter({
    name: 'ai_agent_policy_violations_total',
    help: 'Denied actions, by agent, the rule that denied them and its severity',
    labelNames: ['agent_name', 'policy_name', 'severity'] as const,
    registers: [registry],
  });
  const auditFailures = new Counter({
    name: 'warden_audit_append_failures_total',
    help: 'Writes whose audit events could not be appended (the action was not released)',
    registers: [registry],
  });

  const approvalRequests = new Counter({
    name: 'ai_agent_approval_requests_total',
    help: 'Approval requests and their outcomes, by agent and status (requested, approved, rejected, timeout)',
    labelNames: ['agent_name', 'status'] as const,
    registers: [registry],
  });
  const approvalsPending = new Gauge({
    name: 'warden_approvals_pending',
    help: 'Approvals waiting for a human, across tenants',
    registers: [registry],
  });
  const oldestPending = new Gauge({
    name: 'warden_approval_oldest_pending_seconds',
    help: 'Age of the oldest pending approval (0 when none is pending)',
    registers: [registry],
  });
  const notificationFailures = new Counter({
    name: 'warden_notification_failures_total',
    help: 'Failed notification deliveries, by channel (each retry that fails counts)',
    labelNames: ['channel'] as const,
    registers: [registry],
  });
  const dispatches = new Counter({
    name: 'warden_dispatch_total',
    help: 'Dispatch and execution steps, by outcome (published, leased, succeeded, failed, retried, quarantined, timed_out, lease_expired, publish_failed)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const failOpens = new Counter({
    name: 'warden_fail_open_total',
    help: 'Component failures that let an action through because the component fails open',
    labelNames: ['component'] as const,
    registers: [registry],
  });
  const forwarded = new Counter({
    name: 'warden_audit_forward_events_total',
    help: 'Audit events the SIEM forwarder delivered, or found pruned before it could send them (gap)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const forwardFailures = new Counter({
    name: 'warden_audit_forward_failures_total',
    help: 'Failed SIEM forwarding attempts (the same events are tried again)',
    registers: [registry],
  });
  const forwardLag = new Gauge({
    name: 'warden_audit_forward_lag_events',
    help: 'Audit events appended but not yet accepted by the SIEM',
    registers: [registry],
  });
  // Every component is exported from the start, so an alert on the rate sees a zero first.
  for (const component of FAIL_OPEN_COMPONENTS) {
    failOpens.inc({ component }, 0);
  }
  return {
    registry,
    contentType: registry.contentType,
    text: () => registry.metrics(),
    decisionStarted() {
      const stop = duration.startTimer();
      return (report: DecisionReport) => {
        stop();
        const { decision } = report;
        const agent = agents.value(report.agent_id ?? 'unknown');
        decisions.inc({ decision: decision.type });
        const allowed = decision.type === 'ALLOW' || decision.type === 'ALLOW_WITH_CONSTRAINTS';
        agentActions.inc({
          agent_name: agent,
          action: actions.value(report.topic),
          allowed: String(allowed),
        });
        if (decision.type === 'DENY') {
          violations.inc({
            agent_name: agent,
            policy_name: decision.rule_id ?? 'default_decision',
            severity: report.severity ?? 'none',
          });
        }
      };
    },
    auditAppendFailed: () => {
      auditFailures.inc();
    },
    approval: (agentId, status) => {
      approvalRequests.inc({ agent_name: agents.value(agentId ?? 'unknown'), status });
    },
    approvalQueue: (pending, oldestAgeSec) => {
      approvalsPending.set(pending);
      oldestPending.set(oldestAgeSec);
    },
    notificationFailed: (channel) => {
      notificationFailures.inc({ channel });
    },
    dispatch: (outcome) => {
      dispatches.inc({ outcome });
    },
    failOpen: (component) => {
      failOpens.inc({ component });
    },
    auditForwarded: (outcome, events) => {
      forwarded.inc({ outcome }, events);
    },
    auditForwardFailed: () => {
      forwardFailures.inc();
    },
    auditForwardLag: (events) => {
      forwardLag.set(events);
    },
  };
}
