/**
 * compilePolicy: YAML text → an immutable, indexed policy whose `evaluate` is pure and synchronous.
 * The CLI, the server and the tests all load policies through this one function.
 */
import { canonicalJson } from '../hash/jcs.js';
import { sha256Hex } from '../hash/sha256.js';
import type { Constraints, Decision, Diagnostic } from '../model/decision.js';
import type { EvaluationFacts, JobRequest } from '../model/request.js';
import { UNKNOWN_AGENT } from '../model/request.js';
import { restrictiveness, wireDecision } from './combining.js';
import { ConditionCompiler, regexProblem } from './conditions.js';
import { isEmptyConstraints, mergeAll, normalizeConstraints } from './constraints.js';
import { compileMatch, describeMismatch, runCondition, staticMismatch, Subject } from './match.js';
import type { CompiledMatch } from './match.js';
import { OutputRules } from './output-rules.js';
import type { CheckOutputOptions, OutputVerdict } from './output-rules.js';
import { PolicyLoadError } from './problems.js';
import { RuleIndex } from './rule-index.js';
import { MATCH_FIELDS } from './spec.js';
import type { MatchField, PolicySpec, RuleSpec } from './spec.js';
import { validatePolicy } from './validate.js';
import { throttleKey } from '../throttle/windows.js';
import type { ThrottleWindow } from '../throttle/windows.js';
import { parseYaml } from './yaml-source.js';

/** One rule's verdict in an explanation. */
export interface RuleExplanation {
  readonly rule_id: string;
  readonly decision: RuleSpec['decision'];
  readonly matched: boolean;
  /** "matched", or the first condition that did not hold. */
  readonly detail: string;
}

export interface Explanation {
  readonly decision: Decision;
  readonly rules: readonly RuleExplanation[];
}

export interface CompiledPolicy {
  /** Snapshot id: SHA-256 of the canonical JSON of the normalised policy. */
  readonly snapshot: string;
  readonly spec: PolicySpec;
  /**
   * Whether a condition's cost can grow beyond linear in the request: a comprehension (`all`,
   * `exists`, `map`, ...) or a scanning function (`re_matches`, `contains_pii`, ...). Such a
   * policy is evaluated under a hard deadline; one without needs no watchdog.
   */
  readonly unboundedCost: boolean;
  /** Pure and synchronous: the same request and facts always give the same decision. */
  evaluate(request: JobRequest, facts?: EvaluationFacts): Decision;
  /** Every rule, in file order, with whether it matched and why not. */
  explain(request: JobRequest, facts?: EvaluationFacts): Explanation;
  rule(id: string): RuleSpec | undefined;
  /**
   * The throttle windows a request falls into: every rule with a `throttle:` block whose match
   * holds for the request, whatever its counter. The caller counts these requests.
   */
  throttleWindows(request: JobRequest, facts?: EvaluationFacts): readonly ThrottleWindow[];
  /**
   * Runs the output rules whose `match` holds for the request over a job's output (SPEC §8):
   * the most restrictive fired action, the fired rules, the findings (never the matched text)
   * and the output with `redact` findings replaced. Pure and synchronous, linear in the output.
   */
  checkOutput(
    request: JobRequest,
    output: unknown,
    facts?: EvaluationFacts,
    options?: CheckOutputOptions,
  ): OutputVerdict;
}

export interface CompileOptions {
  /** Shown in problem locations; defaults to `policy.yaml`. */
  readonly file?: string;
}

interface CompiledRule {
  readonly spec: RuleSpec;
  readonly rank: number;
  /** Whether errors in this rule's conditions resolve to "applies" (fail closed). */
  readonly restrictive: boolean;
  readonly match: CompiledMatch;
  readonly unless: CompiledMatch | null;
  readonly constraints: Constraints | null;
}

/**
 * Why a rule did not apply, as data: the hot path allocates no text, `explain` turns it into words.
 */
type Miss =
  | { readonly kind: 'field'; readonly field: MatchField }
  | { readonly kind: 'condition_error'; readonly error: string }
  | { readonly kind: 'unless' }
  | { readonly kind: 'throttle'; readonly count: number; readonly limit: number };

const FIELD_MISSES = new Map<MatchField, Miss>(
  MATCH_FIELDS.map((field) => [field, { kind: 'field', field }]),
);
const UNLESS_MISS: Miss = { kind: 'unless' };

function fieldMiss(field: MatchField): Miss {
  return FIELD_MISSES.get(field) ?? { kind: 'field', field };
}

/** Parses, validates and compiles a v1 policy. Throws `PolicyLoadError` listing every problem. */
export function compilePolicy(yamlText: string, options: CompileOptions = {}): CompiledPolicy {
  const file = options.file ?? 'policy.yaml';
  const conditions = new ConditionCompiler();
  try {
    const { root, reader } = parseYaml(yamlText);
    const spec =
      reader.problems.length > 0
        ? null
        : validatePolicy(root, reader, {
            condition: (e) => conditions.problem(e),
            regex: regexProblem,
          });
    if (spec === null) throw new PolicyLoadError(file, reader.problems);
    return new Policy(spec, conditions);
  } catch (error) {
    // A document nested deep enough to exhaust the stack is refused like any other bad input.
    if (!(error instanceof RangeError)) throw error;
    throw new PolicyLoadError(file, [
      {
        code: 'yaml_syntax',
        path: '',
        line: 1,
        col: 1,
        message: 'the document nests too deeply to load',
      },
    ]);
  }
}

class Policy implements CompiledPolicy {
  readonly snapshot: string;
  private readonly rules: readonly CompiledRule[];
  private readonly index: RuleIndex;
  private readonly byId: ReadonlyMap<string, RuleSpec>;
  private readonly defaultDecision: Decision;
  private readonly throttled: readonly CompiledRule[];
  private readonly outputRules: OutputRules;
  readonly unboundedCost: boolean;

  constructor(
    readonly spec: PolicySpec,
    conditions: ConditionCompiler,
  ) {
    this.snapshot = sha256Hex(canonicalJson(spec));
    this.rules = spec.rules.map((rule) => ({
      spec: rule,
      rank: restrictiveness(rule.decision),
      restrictive:
        rule.decision === 'deny' ||
        rule.decision === 'require_approval' ||
        rule.decision === 'throttle',
      match: compileMatch(rule.match, conditions),
      unless: rule.unless === undefined ? null : compileMatch(rule.unless, conditions),
      constraints: rule.constraints === undefined ? null : normalizeConstraints(rule.constraints),
    }));
    this.throttled = this.rules.filter((rule) => rule.spec.throttle !== undefined);
    this.outputRules = new OutputRules(spec.output, conditions);
    this.unboundedCost = conditions.compiledUnbounded;
    this.index = new RuleIndex(spec.rules.map((rule) => rule.match));
    this.byId = new Map(spec.rules.map((rule) => [rule.id, rule]));
    this.defaultDecision = Object.freeze({
      type: wireDecision(spec.default_decision, false),
      rule_id: null,
      reason: `no rule matched; the default decision is ${spec.default_decision}`,
      policy_snapshot: this.snapshot,
      constraints: Object.freeze({}),
      matched_rules: Object.freeze([]),
      retry_after_sec: null,
      diagnostics: Object.freeze([]),
    });
    Object.freeze(this);
  }

  rule(id: string): RuleSpec | undefined {
    return this.byId.get(id);
  }

  evaluate(request: JobRequest, facts: EvaluationFacts = {}): Decision {
    const subject = subjectOf(request, facts);
    const diagnostics: Diagnostic[] = [];
    const candidates = this.index.candidates(subject.topic, subject.tags);
    let winner: CompiledRule | null = null;
    let matched: string[] | null = null;
    let constraintSets: Constraints[] | null = null;
    for (const i of candidates) {
      const rule = this.rules[i];
      if (rule === undefined || this.miss(rule, subject, facts, diagnostics) !== null) continue;
      (matched ??= []).push(rule.spec.id);
      if (rule.constraints !== null) (constraintSets ??= []).push(rule.constraints);
      if (winner === null || rule.rank > winner.rank) winner = rule;
    }
    if (winner === null || matched === null) {
      return diagnostics.length === 0
        ? this.defaultDecision
        : { ...this.defaultDecision, diagnostics };
    }
    // Rule constraints are normalised at compile time, so a single set needs no merge.
    const constraints =
      constraintSets === null
        ? {}
        : constraintSets.length === 1
          ? (constraintSets[0] ?? {})
          : mergeAll(constraintSets);
    return {
      type: wireDecision(winner.spec.decision, !isEmptyConstraints(constraints)),
      rule_id: winner.spec.id,
      reason: winner.spec.reason,
      policy_snapshot: this.snapshot,
      constraints,
      matched_rules: matched,
      retry_after_sec:
        winner.spec.decision === 'throttle'
          ? (winner.spec.throttle?.retry_after_sec ?? null)
          : null,
      diagnostics,
    };
  }

  throttleWindows(request: JobRequest, facts: EvaluationFacts = {}): readonly ThrottleWindow[] {
    if (this.throttled.length === 0) return [];
    const subject = subjectOf(request, facts);
    const windows: ThrottleWindow[] = [];
    for (const rule of this.throttled) {
      const throttle = rule.spec.throttle;
      if (throttle === undefined || this.matchMiss(rule, subject, []) !== null) continue;
      windows.push({
        rule_id: rule.spec.id,
        key: throttleKey(throttle.key, request),
        limit: throttle.limit,
        window_sec: throttle.window_sec,
      });
    }
    return windows;
  }

  checkOutput(
    request: JobRequest,
    output: unknown,
    facts: EvaluationFacts = {},
    options: CheckOutputOptions = {},
  ): OutputVerdict {
    return this.outputRules.check(subjectOf(request, facts), output, options);
  }

  explain(request: JobRequest, facts: EvaluationFacts = {}): Explanation {
    const subject = subjectOf(request, facts);
    const rules = this.rules.map((rule): RuleExplanation => {
      const miss = this.miss(rule, subject, facts, []);
      return {
        rule_id: rule.spec.id,
        decision: rule.spec.decision,
        matched: miss === null,
        detail: miss === null ? 'matched' : describeMiss(miss, rule, subject),
      };
    });
    return { decision: this.evaluate(request, facts), rules };
  }

  /**
   * Null when the rule applies, else why not. Condition errors resolve toward the more
   * restrictive outcome: a deny/approval/throttle rule applies, any other rule does not (§4).
   */
  private miss(
    rule: CompiledRule,
    subject: Subject,
    facts: EvaluationFacts,
    diagnostics: Diagnostic[],
  ): Miss | null {
    const miss = this.matchMiss(rule, subject, diagnostics);
    if (miss !== null) return miss;
    const throttle = rule.spec.throttle;
    if (throttle !== undefined) {
      const count = facts.counters?.[rule.spec.id] ?? 0;
      if (count < throttle.limit) return { kind: 'throttle', count, limit: throttle.limit };
    }
    return null;
  }

  /** Whether the rule's match holds and its exception does not, counters aside. */
  private matchMiss(rule: CompiledRule, subject: Subject, diagnostics: Diagnostic[]): Miss | null {
    const mismatch = staticMismatch(rule.match, subject);
    if (mismatch !== null) return fieldMiss(mismatch);
    if (rule.match.when !== null) {
      const outcome = runCondition(rule.match.when, subject);
      if (!outcome.ok) {
        diagnostics.push(conditionDiagnostic(rule, 'match', outcome.error));
        if (!rule.restrictive) return { kind: 'condition_error', error: outcome.error };
      } else if (!outcome.value) {
        return fieldMiss('when');
      }
    }
    if (rule.unless !== null && this.unlessHolds(rule, rule.unless, subject, diagnostics)) {
      return UNLESS_MISS;
    }
    return null;
  }

  private unlessHolds(
    rule: CompiledRule,
    unless: CompiledMatch,
    subject: Subject,
    diagnostics: Diagnostic[],
  ): boolean {
    if (staticMismatch(unless, subject) !== null) return false;
    if (unless.when === null) return true;
    const outcome = runCondition(unless.when, subject);
    if (outcome.ok) return outcome.value;
    diagnostics.push(conditionDiagnostic(rule, 'unless', outcome.error));
    // A broken exception must not switch off a restrictive rule.
    return !rule.restrictive;
  }
}

function describeMiss(miss: Miss, rule: CompiledRule, subject: Subject): string {
  switch (miss.kind) {
    case 'field':
      return describeMismatch(miss.field, rule.match, subject, 'match');
    case 'condition_error':
      return `match.when failed: ${miss.error}`;
    case 'unless':
      return 'the `unless` exception holds';
    case 'throttle':
      return `throttle window holds ${miss.count} of ${miss.limit} requests`;
  }
}

function conditionDiagnostic(
  rule: CompiledRule,
  block: 'match' | 'unless',
  error: string,
): Diagnostic {
  const resolution =
    (block === 'match') === rule.restrictive ? 'treated as matching' : 'treated as not matching';
  return {
    rule_id: rule.spec.id,
    code: 'condition_error',
    message: `${block}.when of rule "${rule.spec.id}" failed (${resolution}, fail closed): ${error}`,
  };
}

function subjectOf(request: JobRequest, facts: EvaluationFacts): Subject {
  let now: Date | null = null;
  if (facts.now !== undefined) {
    const parsed = new Date(facts.now);
    if (!Number.isNaN(parsed.getTime())) now = parsed;
  }
  return new Subject(request, facts.agent ?? UNKNOWN_AGENT, now);
}
