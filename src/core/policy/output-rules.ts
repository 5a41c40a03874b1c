/**
 * Output rules (SPEC §8), compiled: which rules apply to a job, what their scanners find in the
 * job's output, the resulting action, and the output with `redact` findings replaced.
 *
 * Pure like `evaluate`: the caller passes the request, the facts and the output; nothing is read
 * or remembered between calls. What to do with a quarantined or blocked result is the caller's.
 */
import { builtinScanner, OutputDocument, regexScanner } from '../scan/output.js';
import type { OutputFinding, OutputScanner } from '../scan/output.js';
import type { ConditionCompiler } from './conditions.js';
import { compileMatch, runCondition, staticMismatch } from './match.js';
import type { CompiledMatch, Subject } from './match.js';
import type { OutputAction, OutputRuleSpec, ScannerSpec } from './spec.js';

export type { OutputFinding, OutputScannerKind } from '../scan/output.js';

/** The result of checking one output against the policy's output rules. */
export interface OutputVerdict {
  /** The most restrictive action among the rules that fired; `allow` when none did. */
  readonly action: OutputAction;
  /** Rules with at least one finding, in file order; then `constraint:redact_output` if it found any. */
  readonly rule_ids: readonly string[];
  /** Every finding of every fired rule: rule, scanner, kind, JSON path and offsets, never the text. */
  readonly findings: readonly OutputFinding[];
  /**
   * The output with the findings of fired `redact` rules (and of `redact_output`) redacted; the
   * input itself when nothing was. For `quarantine` and `block` too: the caller decides what to keep.
   */
  readonly output: unknown;
}

export interface CheckOutputOptions {
  /** The job constraint `redact_output: true`: redact every pii and secrets finding as well. */
  readonly redactAll?: boolean;
}

/** The rule id that findings of the `redact_output` constraint are reported under. */
export const REDACT_OUTPUT_RULE_ID = 'constraint:redact_output';

/** Higher is more restrictive: `block > quarantine > redact > allow`. */
export function outputRestrictiveness(action: OutputAction): number {
  switch (action) {
    case 'allow':
      return 0;
    case 'redact':
      return 1;
    case 'quarantine':
      return 2;
    case 'block':
      return 3;
    default: {
      const unreachable: never = action;
      return unreachable;
    }
  }
}

interface CompiledOutputRule {
  readonly spec: OutputRuleSpec;
  readonly match: CompiledMatch;
  readonly scanners: readonly OutputScanner[];
  /** Whether a failing `when` makes the rule apply (fail closed): it does unless it only allows. */
  readonly restrictive: boolean;
}

const REDACT_OUTPUT_SCANNERS: readonly OutputScanner[] = [
  builtinScanner('pii'),
  builtinScanner('secrets'),
];

/** The compiled `output:` block of a policy. */
export class OutputRules {
  private readonly rules: readonly CompiledOutputRule[];

  constructor(specs: readonly OutputRuleSpec[], conditions: ConditionCompiler) {
    // One compiled scanner per distinct scanner, so that a document scans each only once.
    const shared = new Map<string, OutputScanner>();
    const compileScanner = (spec: ScannerSpec): OutputScanner => {
      const key = typeof spec === 'string' ? spec : JSON.stringify([spec.name, spec.regex]);
      let scanner = shared.get(key);
      if (scanner === undefined) {
        scanner =
          typeof spec === 'string' ? builtinScanner(spec) : regexScanner(spec.regex, spec.name);
        shared.set(key, scanner);
      }
      return scanner;
    };
    this.rules = specs.map((spec) => ({
      spec,
      match: compileMatch(spec.match, conditions),
      scanners: [...new Set(spec.scanners.map(compileScanner))],
      restrictive: spec.action !== 'allow',
    }));
  }

  check(subject: Subject, output: unknown, options: CheckOutputOptions): OutputVerdict {
    const applicable = this.rules.filter((rule) => applies(rule, subject));
    const redactAll = options.redactAll === true;
    if (applicable.length === 0 && !redactAll)
      return { action: 'allow', rule_ids: [], findings: [], output };

    const document = OutputDocument.of(output);
    let action: OutputAction = 'allow';
    const ruleIds: string[] = [];
    const findings: OutputFinding[] = [];
    const toRedact: OutputFinding[] = [];
    const fire = (ruleId: string, ruleAction: OutputAction, found: OutputFinding[]): void => {
      if (found.length === 0) return;
      ruleIds.push(ruleId);
      for (const finding of found) findings.push(finding);
      if (ruleAction === 'redact') for (const finding of found) toRedact.push(finding);
      if (outputRestrictiveness(ruleAction) > outputRestrictiveness(action)) action = ruleAction;
    };
    for (const rule of applicable)
      fire(rule.spec.id, rule.spec.action, document.findings(rule.spec.id, rule.scanners));
    if (redactAll)
      fire(
        REDACT_OUTPUT_RULE_ID,
        'redact',
        document.findings(REDACT_OUTPUT_RULE_ID, REDACT_OUTPUT_SCANNERS),
      );

    return { action, rule_ids: ruleIds, findings, output: document.redact(toRedact) };
  }
}

/** Whether the rule applies to the request; a failing condition resolves fail closed. */
function applies(rule: CompiledOutputRule, subject: Subject): boolean {
  if (staticMismatch(rule.match, subject) !== null) return false;
  if (rule.match.when === null) return true;
  const outcome = runCondition(rule.match.when, subject);
  return outcome.ok ? outcome.value : rule.restrictive;
}
