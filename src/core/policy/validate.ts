/**
 * Schema validation of a policy document: YAML tree in, normalised `PolicySpec` out, or problems.
 * Unknown keys are errors everywhere, because a misspelt key silently ignored is a rule that
 * silently does not apply.
 */
import { isMap } from 'yaml';
import type { Constraints } from '../model/decision.js';
import { CONSTRAINT_KEYS } from './constraints.js';
import { parseDurationSeconds } from './duration.js';
import { globProblem } from './glob.js';
import {
  BUILTIN_SCANNERS,
  DEFAULT_APPROVAL,
  DEFAULT_DECISIONS,
  MATCH_FIELDS,
  MATCH_RISK_LEVELS,
  OUTPUT_ACTIONS,
  RULE_DECISIONS,
  SEVERITIES,
  THROTTLE_KEY_FIELDS,
} from './spec.js';
import type {
  ApprovalSpec,
  MatchSpec,
  OutputRuleSpec,
  PolicySpec,
  RuleSpec,
  ScannerSpec,
  ThrottleSpec,
} from './spec.js';
import { join } from './yaml-source.js';
import type { SourceReader, YamlNode } from './yaml-source.js';

/** Checks that need the condition and regex engines; injected so this module stays about shape. */
export interface ExpressionChecks {
  /** A message when the CEL text does not compile, else null. */
  readonly condition: (expression: string) => string | null;
  /** A message when the pattern is not a valid linear-time regex, else null. */
  readonly regex: (pattern: string) => string | null;
}

const TOP_KEYS = ['version', 'description', 'default_decision', 'rules', 'output'] as const;
const RULE_KEYS = [
  'id',
  'description',
  'match',
  'unless',
  'decision',
  'reason',
  'severity',
  'constraints',
  'approval',
  'throttle',
] as const;
const APPROVAL_KEYS = ['timeout', 'quorum', 'approver_roles', 'allow_self_approval'] as const;
const THROTTLE_KEYS = ['limit', 'window', 'key', 'retry_after_sec'] as const;
const OUTPUT_KEYS = ['id', 'description', 'match', 'scanners', 'action'] as const;
const RULE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const TOPIC_GLOB = /^[A-Za-z0-9_.:*-]+$/;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Validates the whole document. Returns null when any problem was reported. */
export function validatePolicy(
  root: YamlNode,
  reader: SourceReader,
  checks: ExpressionChecks,
): PolicySpec | null {
  const before = reader.problems.length;
  const top = reader.map(root, '', TOP_KEYS);
  if (top === null) return null;

  const versionNode = top.get('version');
  if (versionNode === undefined)
    reader.report(root, 'version', 'missing_key', 'the policy must declare `version: v1`');
  else if (reader.scalar(versionNode.value) !== 'v1')
    reader.report(versionNode.value, 'version', 'bad_value', 'only `version: v1` is supported');

  const description = optionalString(reader, top.get('description')?.value, 'description');
  const defaultNode = top.get('default_decision');
  const defaultDecision =
    defaultNode === undefined
      ? 'deny'
      : reader.oneOf(defaultNode.value, 'default_decision', DEFAULT_DECISIONS);

  const rules: RuleSpec[] = [];
  const rulesNode = top.get('rules');
  if (rulesNode === undefined) {
    reader.report(
      root,
      'rules',
      'missing_key',
      'the policy must have a `rules:` list (it may be empty: `rules: []`)',
    );
  } else {
    const items = reader.sequence(rulesNode.value, 'rules') ?? [];
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      // Duplicates are checked on the declared id, so they are reported even in broken rules.
      const id = declaredId(reader, item);
      const first = id === undefined ? undefined : seen.get(id);
      if (id !== undefined && first !== undefined) {
        reader.report(
          item,
          `rules[${i}].id`,
          'duplicate_rule_id',
          `rule id "${id}" is already used by rules[${first}]`,
        );
      } else if (id !== undefined) {
        seen.set(id, i);
      }
      const rule = validateRule(reader, checks, item, `rules[${i}]`);
      if (rule !== null && first === undefined) rules.push(rule);
    });
  }

  const output: OutputRuleSpec[] = [];
  const outputNode = top.get('output');
  if (outputNode !== undefined) {
    const items = reader.sequence(outputNode.value, 'output') ?? [];
    const seen = new Set<string>();
    items.forEach((item, i) => {
      const rule = validateOutputRule(reader, checks, item, `output[${i}]`);
      if (rule === null) return;
      if (seen.has(rule.id)) {
        reader.report(
          item,
          `output[${i}].id`,
          'duplicate_rule_id',
          `output rule id "${rule.id}" is used twice`,
        );
        return;
      }
      seen.add(rule.id);
      output.push(rule);
    });
  }

  if (reader.problems.length > before || defaultDecision === null) return null;
  return {
    version: 'v1',
    ...(description === undefined ? {} : { description }),
    default_decision: defaultDecision,
    rules,
    output,
  };
}

function declaredId(reader: SourceReader, node: YamlNode): string | undefined {
  const target = reader.deref(node);
  if (!isMap(target)) return undefined;
  const id = reader.scalar(target.get('id', true) as YamlNode);
  return typeof id === 'string' ? id : undefined;
}

function optionalString(
  reader: SourceReader,
  node: YamlNode | undefined,
  path: string,
): string | undefined {
  if (node === undefined) return undefined;
  return reader.string(node, path) ?? undefined;
}

function ruleId(
  reader: SourceReader,
  node: YamlNode | undefined,
  parent: YamlNode,
  path: string,
): string | null {
  if (node === undefined) {
    reader.report(parent, `${path}.id`, 'missing_key', `${path} needs an \`id\``);
    return null;
  }
  const id = reader.string(node, `${path}.id`);
  if (id !== null && !RULE_ID.test(id)) {
    reader.report(
      node,
      `${path}.id`,
      'bad_value',
      'a rule id is 1–128 characters of letters, digits, _ . : -',
    );
    return null;
  }
  return id;
}

function validateRule(
  reader: SourceReader,
  checks: ExpressionChecks,
  node: YamlNode,
  path: string,
): RuleSpec | null {
  const before = reader.problems.length;
  const fields = reader.map(node, path, RULE_KEYS);
  if (fields === null) return null;
  const id = ruleId(reader, fields.get('id')?.value, node, path);
  const description = optionalString(
    reader,
    fields.get('description')?.value,
    `${path}.description`,
  );

  const decisionNode = fields.get('decision');
  let decision = null;
  if (decisionNode === undefined)
    reader.report(
      node,
      `${path}.decision`,
      'missing_key',
      `${path} needs a \`decision\` (${RULE_DECISIONS.join(', ')})`,
    );
  else decision = reader.oneOf(decisionNode.value, `${path}.decision`, RULE_DECISIONS);

  const matchNode = fields.get('match');
  const match =
    matchNode === undefined ? {} : validateMatch(reader, checks, matchNode.value, `${path}.match`);
  const unlessNode = fields.get('unless');
  const unless =
    unlessNode === undefined
      ? undefined
      : validateMatch(reader, checks, unlessNode.value, `${path}.unless`);
  const reason = optionalString(reader, fields.get('reason')?.value, `${path}.reason`);
  const severityNode = fields.get('severity');
  const severity =
    severityNode === undefined
      ? 'medium'
      : reader.oneOf(severityNode.value, `${path}.severity`, SEVERITIES);

  const constraintsNode = fields.get('constraints');
  const constraints =
    constraintsNode === undefined
      ? undefined
      : validateConstraints(reader, constraintsNode.value, `${path}.constraints`);
  if (decision === 'allow_with_constraints' && constraintsNode === undefined)
    reader.report(
      node,
      `${path}.constraints`,
      'missing_key',
      'decision allow_with_constraints needs a `constraints:` block',
    );

  const approvalNode = fields.get('approval');
  let approval: ApprovalSpec | null | undefined;
  if (approvalNode !== undefined) {
    if (decision !== null && decision !== 'require_approval')
      reader.report(
        approvalNode.key,
        `${path}.approval`,
        'bad_value',
        '`approval:` applies only to decision require_approval',
      );
    approval = validateApproval(reader, approvalNode.value, `${path}.approval`);
  } else if (decision === 'require_approval') {
    approval = DEFAULT_APPROVAL;
  }

  const throttleNode = fields.get('throttle');
  let throttle: ThrottleSpec | null | undefined;
  if (throttleNode !== undefined) {
    if (decision !== null && decision !== 'throttle')
      reader.report(
        throttleNode.key,
        `${path}.throttle`,
        'bad_value',
        '`throttle:` applies only to decision throttle',
      );
    throttle = validateThrottle(reader, throttleNode.value, `${path}.throttle`);
  }

  if (reader.problems.length > before || id === null || decision === null || severity === null)
    return null;
  if (
    match === null ||
    unless === null ||
    constraints === null ||
    approval === null ||
    throttle === null
  )
    return null;
  const rule: Mutable<RuleSpec> = {
    id,
    match,
    decision,
    reason: reason ?? `matched rule "${id}"`,
    severity,
  };
  if (description !== undefined) rule.description = description;
  if (unless !== undefined) rule.unless = unless;
  if (constraints !== undefined) rule.constraints = constraints;
  if (approval !== undefined) rule.approval = approval;
  if (throttle !== undefined) rule.throttle = throttle;
  return rule;
}

function globList(
  reader: SourceReader,
  node: YamlNode,
  path: string,
  topic: boolean,
): string[] | null {
  const list = reader.strings(node, path);
  if (list === null) return null;
  const items = reader.sequence(node, path) ?? [];
  const problems = list.map((pattern, i) => {
    const problem =
      globProblem(pattern) ??
      (topic && !TOPIC_GLOB.test(pattern)
        ? 'a topic glob uses only letters, digits, _ . : - and *'
        : null);
    if (problem !== null) {
      reader.report(items[i] ?? node, `${path}[${i}]`, 'bad_glob', `${problem} (got "${pattern}")`);
    }
    return problem;
  });
  return problems.every((p) => p === null) ? list : null;
}

/** A match list of globs; empty is refused because it reads as "any" but would mean "none". */
function matchGlobs(
  reader: SourceReader,
  node: YamlNode,
  path: string,
  topic: boolean,
): string[] | null {
  const list = globList(reader, node, path, topic);
  if (list?.length === 0) {
    reader.report(
      node,
      path,
      'bad_value',
      `${path} is empty and would match nothing; remove it to match any`,
    );
    return null;
  }
  return list;
}

function validateMatch(
  reader: SourceReader,
  checks: ExpressionChecks,
  node: YamlNode,
  path: string,
): MatchSpec | null {
  const before = reader.problems.length;
  const fields = reader.map(node, path, MATCH_FIELDS);
  if (fields === null) return null;
  const match: Mutable<MatchSpec> = {};
  const topics = fields.get('topics');
  if (topics !== undefined) {
    const list = matchGlobs(reader, topics.value, `${path}.topics`, true);
    if (list !== null && list.length > 0) match.topics = list;
  }
  const tenants = fields.get('tenants');
  if (tenants !== undefined) {
    const list = matchGlobs(reader, tenants.value, `${path}.tenants`, false);
    if (list !== null && list.length > 0) match.tenants = list;
  }
  const agents = fields.get('agents');
  if (agents !== undefined) {
    const list = matchGlobs(reader, agents.value, `${path}.agents`, false);
    if (list !== null && list.length > 0) match.agents = list;
  }
  // An empty tag list means "no condition" (the seed policy's `risk_tags: []`).
  const anyTags = fields.get('risk_tags');
  if (anyTags !== undefined) {
    const list = reader.strings(anyTags.value, `${path}.risk_tags`);
    if (list !== null && list.length > 0) match.risk_tags = [...new Set(list)];
  }
  const allTags = fields.get('risk_tags_all');
  if (allTags !== undefined) {
    const list = reader.strings(allTags.value, `${path}.risk_tags_all`);
    if (list !== null && list.length > 0) match.risk_tags_all = [...new Set(list)];
  }
  const levels = fields.get('risk_levels');
  if (levels !== undefined) {
    const items = reader.sequence(levels.value, `${path}.risk_levels`) ?? [];
    const list = items.map((item, i) =>
      reader.oneOf(item, `${path}.risk_levels[${i}]`, MATCH_RISK_LEVELS),
    );
    const valid = list.filter((l) => l !== null);
    if (valid.length > 0 && valid.length === list.length) match.risk_levels = [...new Set(valid)];
  }
  const labels = fields.get('labels');
  if (labels !== undefined)
    match.labels = validateLabels(reader, labels.value, `${path}.labels`) ?? {};
  const when = fields.get('when');
  if (when !== undefined) {
    const expression = reader.string(when.value, `${path}.when`);
    if (expression !== null) {
      const problem = checks.condition(expression);
      if (problem === null) match.when = expression;
      else
        reader.report(
          when.value,
          `${path}.when`,
          'bad_condition',
          `condition does not compile: ${problem}`,
        );
    }
  }
  return reader.problems.length > before ? null : match;
}

/** Label values may be one value or a list of values; numbers and booleans are read as their text. */
function validateLabels(
  reader: SourceReader,
  node: YamlNode,
  path: string,
): Record<string, string[]> | null {
  const fields = reader.map(node, path, null);
  if (fields === null) return null;
  const labels: Record<string, string[]> = {};
  for (const [key, { value }] of fields) {
    const items =
      reader.scalar(value) === undefined ? reader.sequence(value, join(path, key)) : [value];
    if (items === null) continue;
    const texts = items.map((item, i) => {
      const scalar = reader.scalar(item);
      if (typeof scalar === 'string' || typeof scalar === 'number' || typeof scalar === 'boolean') {
        return String(scalar);
      }
      reader.report(
        item,
        `${join(path, key)}[${i}]`,
        'wrong_type',
        'a label value must be a string, number or boolean',
      );
      return null;
    });
    if (texts.every((t) => t !== null)) labels[key] = texts;
  }
  return labels;
}

function validateConstraints(
  reader: SourceReader,
  node: YamlNode,
  path: string,
): Constraints | null {
  const before = reader.problems.length;
  const fields = reader.map(node, path, null);
  if (fields === null) return null;
  const out: Record<string, unknown> = {};
  for (const [key, { key: keyNode, value }] of fields) {
    const at = join(path, key);
    switch (key as (typeof CONSTRAINT_KEYS)[number]) {
      case 'max_runtime_sec':
      case 'max_output_bytes':
        out[key] = reader.integer(value, at, 1);
        break;
      case 'max_retries':
        out[key] = reader.integer(value, at, 0, 100);
        break;
      case 'allowed_paths':
      case 'denied_paths':
      case 'allowed_hosts':
      case 'denied_hosts':
        out[key] = globList(reader, value, at, false);
        break;
      case 'redact_output':
        out[key] = reader.boolean(value, at);
        break;
      default:
        reader.report(
          keyNode,
          at,
          'unknown_constraint',
          `unknown constraint "${key}"; known constraints: ${CONSTRAINT_KEYS.join(', ')}`,
        );
    }
  }
  return reader.problems.length > before ? null : out;
}

function validateApproval(reader: SourceReader, node: YamlNode, path: string): ApprovalSpec | null {
  const before = reader.problems.length;
  const fields = reader.map(node, path, APPROVAL_KEYS);
  if (fields === null) return null;
  const approval: Mutable<ApprovalSpec> = { ...DEFAULT_APPROVAL };
  const timeout = fields.get('timeout');
  if (timeout !== undefined) {
    const seconds = duration(reader, timeout.value, `${path}.timeout`);
    if (seconds !== null) approval.timeout_sec = seconds;
  }
  const quorum = fields.get('quorum');
  if (quorum !== undefined)
    approval.quorum = reader.integer(quorum.value, `${path}.quorum`, 1, 100) ?? 1;
  const roles = fields.get('approver_roles');
  if (roles !== undefined) {
    const list = reader.strings(roles.value, `${path}.approver_roles`);
    if (list !== null && list.length === 0)
      reader.report(
        roles.value,
        `${path}.approver_roles`,
        'bad_value',
        'approver_roles must name at least one role',
      );
    if (list !== null) approval.approver_roles = [...new Set(list)].sort();
  }
  const self = fields.get('allow_self_approval');
  if (self !== undefined)
    approval.allow_self_approval =
      reader.boolean(self.value, `${path}.allow_self_approval`) ?? false;
  return reader.problems.length > before ? null : approval;
}

function validateThrottle(reader: SourceReader, node: YamlNode, path: string): ThrottleSpec | null {
  const before = reader.problems.length;
  const fields = reader.map(node, path, THROTTLE_KEYS);
  if (fields === null) return null;
  const limitNode = fields.get('limit');
  const windowNode = fields.get('window');
  if (limitNode === undefined)
    reader.report(node, `${path}.limit`, 'missing_key', 'a throttle needs a `limit`');
  if (windowNode === undefined)
    reader.report(node, `${path}.window`, 'missing_key', 'a throttle needs a `window` (e.g. 1m)');
  const limit =
    limitNode === undefined ? null : reader.integer(limitNode.value, `${path}.limit`, 1);
  const window =
    windowNode === undefined ? null : duration(reader, windowNode.value, `${path}.window`);
  let key: readonly string[] = ['tenant_id', 'agent_id', 'topic'];
  const keyNode = fields.get('key');
  if (keyNode !== undefined) {
    const list = reader.strings(keyNode.value, `${path}.key`);
    if (list !== null) {
      for (const field of list) {
        const known =
          (THROTTLE_KEY_FIELDS as readonly string[]).includes(field) || /^labels\..+$/.test(field);
        if (!known)
          reader.report(
            keyNode.value,
            `${path}.key`,
            'bad_value',
            `unknown throttle key "${field}"; use ${THROTTLE_KEY_FIELDS.join(', ')} or labels.<name>`,
          );
      }
      key = list;
    }
  }
  const retryNode = fields.get('retry_after_sec');
  const retry =
    retryNode === undefined
      ? window
      : reader.integer(retryNode.value, `${path}.retry_after_sec`, 1);
  if (reader.problems.length > before || limit === null || window === null || retry === null)
    return null;
  return { limit, window_sec: window, key, retry_after_sec: retry };
}

function duration(reader: SourceReader, node: YamlNode, path: string): number | null {
  const text = reader.string(node, path);
  if (text === null) return null;
  const seconds = parseDurationSeconds(text);
  if (seconds === null)
    reader.report(
      node,
      path,
      'bad_duration',
      `"${text}" is not a duration; use e.g. 30s, 15m, 1h, 1h30m, 2d`,
    );
  return seconds;
}

function validateOutputRule(
  reader: SourceReader,
  checks: ExpressionChecks,
  node: YamlNode,
  path: string,
): OutputRuleSpec | null {
  const before = reader.problems.length;
  const fields = reader.map(node, path, OUTPUT_KEYS);
  if (fields === null) return null;
  const id = ruleId(reader, fields.get('id')?.value, node, path);
  const description = optionalString(
    reader,
    fields.get('description')?.value,
    `${path}.description`,
  );
  const matchNode = fields.get('match');
  const match =
    matchNode === undefined ? {} : validateMatch(reader, checks, matchNode.value, `${path}.match`);
  const scanners: ScannerSpec[] = [];
  const scannersNode = fields.get('scanners');
  if (scannersNode === undefined)
    reader.report(node, `${path}.scanners`, 'missing_key', 'an output rule needs `scanners:`');
  else {
    (reader.sequence(scannersNode.value, `${path}.scanners`) ?? []).forEach((item, i) => {
      const scanner = validateScanner(reader, checks, item, `${path}.scanners[${i}]`);
      if (scanner !== null) scanners.push(scanner);
    });
  }
  const actionNode = fields.get('action');
  let action = null;
  if (actionNode === undefined)
    reader.report(
      node,
      `${path}.action`,
      'missing_key',
      `an output rule needs an \`action\` (${OUTPUT_ACTIONS.join(', ')})`,
    );
  else action = reader.oneOf(actionNode.value, `${path}.action`, OUTPUT_ACTIONS);
  if (reader.problems.length > before || id === null || match === null || action === null)
    return null;
  return { id, ...(description === undefined ? {} : { description }), match, scanners, action };
}

function validateScanner(
  reader: SourceReader,
  checks: ExpressionChecks,
  node: YamlNode,
  path: string,
): ScannerSpec | null {
  if (typeof reader.scalar(node) === 'string') return reader.oneOf(node, path, BUILTIN_SCANNERS);
  const fields = reader.map(node, path, ['regex', 'name']);
  if (fields === null) return null;
  const regexNode = fields.get('regex');
  if (regexNode === undefined) {
    reader.report(
      node,
      `${path}.regex`,
      'missing_key',
      `a custom scanner is {regex: "...", name?: "..."}; or one of ${BUILTIN_SCANNERS.join(', ')}`,
    );
    return null;
  }
  const regex = reader.string(regexNode.value, `${path}.regex`);
  const name = optionalString(reader, fields.get('name')?.value, `${path}.name`);
  if (regex === null) return null;
  const problem = checks.regex(regex);
  if (problem !== null) {
    reader.report(
      regexNode.value,
      `${path}.regex`,
      'bad_regex',
      `regex does not compile: ${problem}`,
    );
    return null;
  }
  return { regex, name: name ?? 'custom' };
}
