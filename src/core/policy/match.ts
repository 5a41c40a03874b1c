/**
 * Compiled `match:` / `unless:` blocks and the test of one block against one request.
 * The hot path returns a field name on failure instead of building messages; `explain`
 * turns that name into words.
 */
import type { AgentProfile, JobRequest } from '../model/request.js';
import { DEFAULT_TENANT } from '../model/request.js';
import type { Condition, ConditionCompiler, ConditionContext } from './conditions.js';
import { compileGlob } from './glob.js';
import type { Glob } from './glob.js';
import type { MatchField, MatchSpec } from './spec.js';

export interface CompiledMatch {
  readonly spec: MatchSpec;
  readonly topics: readonly Glob[] | null;
  readonly tenants: readonly Glob[] | null;
  readonly agents: readonly Glob[] | null;
  readonly riskLevels: readonly string[] | null;
  readonly riskTags: readonly string[] | null;
  readonly riskTagsAll: readonly string[] | null;
  readonly labels: readonly (readonly [string, readonly string[]])[] | null;
  readonly when: Condition | null;
}

export function compileMatch(spec: MatchSpec, conditions: ConditionCompiler): CompiledMatch {
  const globs = (patterns: readonly string[] | undefined, separators: string): Glob[] | null =>
    patterns === undefined ? null : patterns.map((p) => compileGlob(p, separators));
  return {
    spec,
    topics: globs(spec.topics, '.'),
    tenants: globs(spec.tenants, '.'),
    agents: globs(spec.agents, '.'),
    riskLevels: spec.risk_levels ?? null,
    riskTags: spec.risk_tags ?? null,
    riskTagsAll: spec.risk_tags_all ?? null,
    labels: spec.labels === undefined ? null : Object.entries(spec.labels),
    when: spec.when === undefined ? null : conditions.compile(spec.when),
  };
}

/** The request as matching sees it: defaults applied, the CEL context built only if needed. */
export class Subject {
  readonly topic: string;
  readonly tenant: string;
  readonly agentId: string;
  readonly tags: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  private context: ConditionContext | null = null;

  constructor(
    readonly request: JobRequest,
    readonly agent: AgentProfile,
    private readonly now: Date | null,
  ) {
    this.topic = request.topic;
    this.tenant = request.tenant_id ?? DEFAULT_TENANT;
    this.agentId = request.agent_id ?? '';
    this.tags = request.risk_tags ?? [];
    this.labels = request.labels ?? {};
  }

  conditionContext(): ConditionContext {
    if (this.context === null) {
      const job = {
        ...this.request,
        tenant_id: this.tenant,
        risk_tags: this.tags,
        labels: this.labels,
      };
      const context: Record<string, unknown> = {
        job,
        payload: this.request.payload ?? null,
        agent: this.agent,
        principal: this.request.principal ?? '',
      };
      if (this.now !== null) context['now'] = this.now;
      this.context = context;
    }
    return this.context;
  }
}

export type ConditionOutcome =
  { readonly ok: true; readonly value: boolean } | { readonly ok: false; readonly error: string };

/** Runs a condition; anything but a boolean result is an error for the caller to resolve. */
export function runCondition(condition: Condition, subject: Subject): ConditionOutcome {
  try {
    const value = condition(subject.conditionContext());
    if (typeof value === 'boolean') return { ok: true, value };
    return { ok: false, error: `condition returned ${typeof value}, not a bool` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, error: (message.split('\n')[0] ?? message).trim() };
  }
}

function anyGlob(globs: readonly Glob[], value: string): boolean {
  for (const glob of globs) if (glob.test(value)) return true;
  return false;
}

/**
 * The first static field of `m` that `subject` fails, or null when all hold. `when` is left to
 * the caller, because what a failing condition means depends on the rule's decision.
 */
export function staticMismatch(m: CompiledMatch, subject: Subject): MatchField | null {
  if (m.topics !== null && !anyGlob(m.topics, subject.topic)) return 'topics';
  if (m.tenants !== null && !anyGlob(m.tenants, subject.tenant)) return 'tenants';
  // A request without an agent_id names no agent, so no `agents` pattern (not even `*`) matches it.
  if (m.agents !== null && (subject.agentId === '' || !anyGlob(m.agents, subject.agentId)))
    return 'agents';
  if (m.riskLevels !== null && !m.riskLevels.includes(subject.agent.risk_level))
    return 'risk_levels';
  if (m.riskTags !== null && !m.riskTags.some((tag) => subject.tags.includes(tag)))
    return 'risk_tags';
  if (m.riskTagsAll !== null && !m.riskTagsAll.every((tag) => subject.tags.includes(tag)))
    return 'risk_tags_all';
  if (m.labels !== null) {
    for (const [key, values] of m.labels) {
      const actual = subject.labels[key];
      if (actual === undefined || !values.includes(actual)) return 'labels';
    }
  }
  return null;
}

/** Human words for why `field` did not hold; used by explain, never on the hot path. */
export function describeMismatch(
  field: MatchField,
  m: CompiledMatch,
  subject: Subject,
  block: string,
): string {
  const list = (items: readonly string[] | undefined): string => `[${(items ?? []).join(', ')}]`;
  switch (field) {
    case 'topics':
      return `${block}.topics: "${subject.topic}" matches none of ${list(m.spec.topics)}`;
    case 'tenants':
      return `${block}.tenants: "${subject.tenant}" matches none of ${list(m.spec.tenants)}`;
    case 'agents':
      return subject.agentId === ''
        ? `${block}.agents: the request names no agent_id`
        : `${block}.agents: "${subject.agentId}" matches none of ${list(m.spec.agents)}`;
    case 'risk_levels':
      return `${block}.risk_levels: agent risk level "${subject.agent.risk_level}" is not in ${list(m.spec.risk_levels)}`;
    case 'risk_tags':
      return `${block}.risk_tags: request tags ${list(subject.tags)} include none of ${list(m.spec.risk_tags)}`;
    case 'risk_tags_all':
      return `${block}.risk_tags_all: request tags ${list(subject.tags)} lack some of ${list(m.spec.risk_tags_all)}`;
    case 'labels': {
      const failing = (m.labels ?? []).find(
        ([key, values]) => !values.includes(subject.labels[key] ?? '\u0000'),
      );
      const [key = '', values = []] = failing ?? [];
      const actual = subject.labels[key];
      return `${block}.labels: ${key} is ${actual === undefined ? 'absent' : `"${actual}"`}, expected one of ${list(values)}`;
    }
    case 'when':
      return `${block}.when: "${m.spec.when ?? ''}" is false`;
  }
}
