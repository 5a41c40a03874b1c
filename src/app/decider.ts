/**
 * Reaching a decision: gathers the facts the engine needs (time, the agent's profile, throttle
 * counters), evaluates the active policy and reports the outcome to metrics. Pure evaluation
 * stays in the core; this only fetches and counts.
 */
import { WardenError } from '../core/errors.js';
import type { Decision } from '../core/model/decision.js';
import type { AgentProfile, EvaluationFacts, JobRequest } from '../core/model/request.js';
import { UNKNOWN_AGENT } from '../core/model/request.js';
import type { CompiledPolicy, Explanation } from '../core/policy/index.js';
import type { ThrottleLog, ThrottleWindow } from '../core/throttle/windows.js';
import { DeadlineExceeded } from '../ports/deadline.js';
import type { DeadlineRunner } from '../ports/deadline.js';
import type { Metrics } from '../ports/metrics.js';
import type { FailOpen } from './fail-open.js';

/** Where the decider finds an agent's profile. */
export interface AgentProfiles {
  profile(tenantId: string, agentId: string): Promise<AgentProfile>;
}

export interface DeciderDeps {
  readonly profiles: AgentProfiles;
  /** The active policy at the time of the call. */
  readonly policy: () => CompiledPolicy;
  readonly throttles: ThrottleLog;
  readonly metrics: Metrics;
  /** The evaluation deadline (§11); evaluation is not bounded when absent. */
  readonly deadline?: EvaluationDeadline;
}

export interface EvaluationDeadline {
  readonly ms: number;
  /** Interrupts policies whose conditions can run long (`CompiledPolicy.unboundedCost`). */
  readonly runner: DeadlineRunner;
  /** `closed`: a late evaluation is a DENY; `open`: an ALLOW, counted and audited. */
  readonly failMode: 'closed' | 'open';
  /** Told about each fail-open of a recorded decision. */
  readonly failedOpen: (failOpen: FailOpen) => void;
}

export interface Decided {
  readonly decision: Decision;
  /** The policy that made the decision (the active one may change right after). */
  readonly policy: CompiledPolicy;
  readonly agent: AgentProfile;
  /**
   * Takes the request back out of the throttle windows it was counted in, for a request that
   * ended up storing nothing (an idempotent replay, a failed write).
   */
  readonly uncount: () => void;
}

const NOTHING_COUNTED = (): void => undefined;
const NO_WINDOWS = { windows: [], nowMs: 0 } as const;

export class Decider {
  constructor(private readonly deps: DeciderDeps) {}

  /**
   * Decides a request at `now`. With `record`, a request that is not throttled is counted in
   * every throttle window it falls into; a dry run (policy evaluate) counts nothing.
   */
  async decide(request: JobRequest, now: string, record: boolean): Promise<Decided> {
    // Only recorded decisions are measured: a dry run is not a decision anyone acted on.
    const done = record ? this.deps.metrics.decisionStarted() : null;
    const policy = this.deps.policy();
    const agent = await this.agentProfile(request);
    const evaluated = this.bounded(policy, () => {
      const { facts, windows, nowMs } = this.facts(policy, request, now, agent);
      return { facts, windows, nowMs, decision: policy.evaluate(request, facts) };
    });
    const { windows, nowMs } = evaluated ?? NO_WINDOWS;
    const decision = evaluated?.decision ?? this.lateDecision(policy, request, record);
    let uncount = NOTHING_COUNTED;
    if (done !== null) {
      if (decision.type !== 'THROTTLE' && windows.length > 0) {
        for (const window of windows) this.deps.throttles.record(window, nowMs);
        uncount = () => {
          for (const window of windows) this.deps.throttles.unrecord(window, nowMs);
        };
      }
      done({
        decision,
        agent_id: request.agent_id ?? null,
        topic: request.topic,
        severity:
          decision.rule_id === null ? null : (policy.rule(decision.rule_id)?.severity ?? null),
      });
    }
    return { decision, policy, agent, uncount };
  }

  /** Every rule with why it matched or not, under the same facts a submit would see now. */
  async explain(request: JobRequest, now: string): Promise<Explanation> {
    const policy = this.deps.policy();
    const agent = await this.agentProfile(request);
    const explained = this.bounded(policy, () =>
      policy.explain(request, this.facts(policy, request, now, agent).facts),
    );
    if (explained === null) {
      throw new WardenError(
        'WARDEN_VALIDATION',
        `explaining this request exceeded the ${String(this.deps.deadline?.ms)} ms evaluation deadline`,
      );
    }
    return explained;
  }

  /**
   * Runs the policy's synchronous part within the deadline: under the watchdog when its
   * conditions can run long. Null when the watchdog cut it off.
   *
   * A policy without comprehensions or scanners runs directly, and an evaluation that finished
   * is never thrown away for the time it took: its cost is bounded by the policy's size, so only
   * a pause of the whole process (garbage collection, the scheduler) could make it late, and
   * that pause must not turn a decision into a denial, or, with the fail mode open, into an allow.
   */
  private bounded<T>(policy: CompiledPolicy, work: () => T): T | null {
    const deadline = this.deps.deadline;
    if (deadline === undefined || !policy.unboundedCost) return work();
    try {
      return deadline.runner.within(deadline.ms, work);
    } catch (error) {
      if (error instanceof DeadlineExceeded) return null;
      throw error;
    }
  }

  /** The decision when evaluation ran out of time: the fail mode decides, with the reason. */
  private lateDecision(policy: CompiledPolicy, request: JobRequest, record: boolean): Decision {
    const deadline = this.deps.deadline;
    const ms = String(deadline?.ms);
    const open = deadline?.failMode === 'open';
    if (open && record) {
      deadline.failedOpen({
        component: 'evaluation',
        reason: `policy evaluation exceeded its ${ms} ms deadline for ${request.topic}`,
        ...(request.tenant_id === undefined ? {} : { tenant_id: request.tenant_id }),
      });
    }
    return {
      type: open ? 'ALLOW' : 'DENY',
      rule_id: null,
      reason: open
        ? `policy evaluation exceeded its ${ms} ms deadline; allowed because the evaluation fail mode is open`
        : `policy evaluation exceeded its ${ms} ms deadline; denied because the evaluation fail mode is closed`,
      policy_snapshot: policy.snapshot,
      constraints: {},
      matched_rules: [],
      retry_after_sec: null,
      diagnostics: [],
    };
  }

  private facts(
    policy: CompiledPolicy,
    request: JobRequest,
    now: string,
    agent: AgentProfile,
  ): { facts: EvaluationFacts; windows: readonly ThrottleWindow[]; nowMs: number } {
    const base: EvaluationFacts = { now, agent };
    const windows = policy.throttleWindows(request, base);
    if (windows.length === 0) return { facts: base, windows, nowMs: 0 };
    const nowMs = Date.parse(now);
    const counters: Record<string, number> = {};
    for (const window of windows) {
      counters[window.rule_id] = this.deps.throttles.count(window, nowMs);
    }
    return { facts: { ...base, counters }, windows, nowMs };
  }

  private async agentProfile(request: JobRequest): Promise<AgentProfile> {
    if (request.agent_id === undefined) return UNKNOWN_AGENT;
    return this.deps.profiles.profile(request.tenant_id ?? 'default', request.agent_id);
  }
}
