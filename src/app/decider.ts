/**
 * Reaching a decision: gathers the facts the engine needs (time, the agent's profile, throttle
 * counters), evaluates the active policy and reports the outcome to metrics. Pure evaluation
 * stays in the core; this only fetches and counts.
 */
import type { Decision } from '../core/model/decision.js';
import type { AgentProfile, EvaluationFacts, JobRequest } from '../core/model/request.js';
import { UNKNOWN_AGENT } from '../core/model/request.js';
import type { CompiledPolicy, Explanation } from '../core/policy/index.js';
import type { ThrottleLog, ThrottleWindow } from '../core/throttle/windows.js';
import type { Metrics } from '../ports/metrics.js';

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
    const { facts, windows, nowMs } = await this.facts(policy, request, now);
    const decision = policy.evaluate(request, facts);
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
    return { decision, policy, agent: facts.agent ?? UNKNOWN_AGENT, uncount };
  }

  /** Every rule with why it matched or not, under the same facts a submit would see now. */
  async explain(request: JobRequest, now: string): Promise<Explanation> {
    const policy = this.deps.policy();
    const { facts } = await this.facts(policy, request, now);
    return policy.explain(request, facts);
  }

  private async facts(
    policy: CompiledPolicy,
    request: JobRequest,
    now: string,
  ): Promise<{ facts: EvaluationFacts; windows: readonly ThrottleWindow[]; nowMs: number }> {
    const base: EvaluationFacts = { now, agent: await this.agentProfile(request) };
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
