/**
 * Policy test cases (§4): `cases:` files that pin what a policy decides. One parser and one
 * runner serve `warden policy test`, `warden policy diff` and the golden test suite.
 *
 * A case file may name its policy with a top-level `policy:` path (relative to the case file),
 * so a corpus can be run without `--policy`.
 */
import { isMap } from 'yaml';
import { canonicalJson } from '../hash/jcs.js';
import type { Constraints, Decision, DecisionType } from '../model/decision.js';
import { DECISION_TYPES } from '../model/decision.js';
import type { AgentProfile, EvaluationFacts, JobRequest } from '../model/request.js';
import type { CompiledPolicy } from './compile.js';
import { normalizeConstraints } from './constraints.js';
import { PolicyLoadError } from './problems.js';
import { MATCH_RISK_LEVELS } from './spec.js';
import { parseYaml } from './yaml-source.js';
import type { SourceReader, YamlNode } from './yaml-source.js';

export interface CaseExpectation {
  readonly decision: DecisionType;
  /** When present, must equal the decision's rule_id (null: no rule matched). */
  readonly rule_id?: string | null;
  /** When present, must equal the decision's constraints. */
  readonly constraints?: Constraints;
}

export interface PolicyCase {
  readonly name: string;
  readonly request: JobRequest;
  readonly agent?: AgentProfile;
  readonly now?: string;
  readonly counters?: Readonly<Record<string, number>>;
  readonly expect: CaseExpectation;
}

export interface CaseFile {
  /** Path of the policy, relative to the case file, when the file names one. */
  readonly policy?: string;
  readonly cases: readonly PolicyCase[];
}

export interface CaseResult {
  readonly name: string;
  readonly passed: boolean;
  /** What differed, one entry per mismatching field. */
  readonly failures: readonly string[];
  readonly decision: Decision;
}

const REQUEST_KEYS = [
  'topic',
  'tenant_id',
  'agent_id',
  'risk_tags',
  'labels',
  'payload',
  'idempotency_key',
  'dispatch',
  'trace_id',
  'principal',
] as const;
const AGENT_KEYS = [
  'name',
  'risk_level',
  'capabilities',
  'max_transaction_amount',
  'requires_human_approval',
  'owner',
] as const;

/** Parses a case file. Throws `PolicyLoadError` (code WARDEN_POLICY_INVALID) with every problem. */
export function parseCases(text: string, file = 'cases.yaml'): CaseFile {
  const { root, reader } = parseYaml(text);
  if (reader.problems.length > 0) throw new PolicyLoadError(file, reader.problems);
  const top = reader.map(root, '', ['policy', 'cases']);
  const cases: PolicyCase[] = [];
  let policy: string | undefined;
  if (top !== null) {
    const policyNode = top.get('policy');
    if (policyNode !== undefined) policy = reader.string(policyNode.value, 'policy') ?? undefined;
    const casesNode = top.get('cases');
    if (casesNode === undefined)
      reader.report(root, 'cases', 'missing_key', 'a case file needs a top-level `cases:` list');
    else {
      (reader.sequence(casesNode.value, 'cases') ?? []).forEach((node, i) => {
        const parsed = parseCase(reader, node, `cases[${i}]`);
        if (parsed !== null) cases.push(parsed);
      });
    }
  }
  if (reader.problems.length > 0) throw new PolicyLoadError(file, reader.problems);
  return policy === undefined ? { cases } : { policy, cases };
}

function parseCase(reader: SourceReader, node: YamlNode, path: string): PolicyCase | null {
  const before = reader.problems.length;
  const fields = reader.map(node, path, ['name', 'request', 'agent', 'now', 'counters', 'expect']);
  if (fields === null) return null;
  const nameNode = fields.get('name');
  const name = nameNode === undefined ? path : reader.string(nameNode.value, `${path}.name`);
  const request = parseRequest(reader, fields.get('request')?.value ?? null, `${path}.request`);
  const agentNode = fields.get('agent');
  let agent: AgentProfile | undefined;
  if (agentNode !== undefined) {
    const agentFields = reader.map(agentNode.value, `${path}.agent`, AGENT_KEYS);
    const level = agentFields?.get('risk_level');
    if (level === undefined)
      reader.report(
        agentNode.value,
        `${path}.agent.risk_level`,
        'missing_key',
        'an agent profile needs a risk_level',
      );
    else reader.oneOf(level.value, `${path}.agent.risk_level`, MATCH_RISK_LEVELS);
    agent = reader.toJs(agentNode.value) as AgentProfile;
  }
  const nowNode = fields.get('now');
  const now = nowNode === undefined ? undefined : reader.string(nowNode.value, `${path}.now`);
  if (now !== undefined && now !== null && Number.isNaN(Date.parse(now)))
    reader.report(
      nowNode?.value ?? null,
      `${path}.now`,
      'bad_value',
      `"${now}" is not an ISO-8601 time`,
    );
  const countersNode = fields.get('counters');
  let counters: Record<string, number> | undefined;
  if (countersNode !== undefined) {
    counters = {};
    for (const [key, { value }] of reader.map(countersNode.value, `${path}.counters`, null) ?? []) {
      const count = reader.integer(value, `${path}.counters.${key}`, 0);
      if (count !== null) counters[key] = count;
    }
  }
  const expect = parseExpect(reader, fields.get('expect')?.value ?? null, `${path}.expect`);
  if (reader.problems.length > before || name === null || request === null || expect === null)
    return null;
  return {
    name,
    request,
    expect,
    ...(agent === undefined ? {} : { agent }),
    ...(now === undefined || now === null ? {} : { now }),
    ...(counters === undefined ? {} : { counters }),
  };
}

function parseRequest(reader: SourceReader, node: YamlNode, path: string): JobRequest | null {
  const fields = reader.map(node, path, REQUEST_KEYS);
  if (fields === null) return null;
  const topic = fields.get('topic');
  if (topic === undefined)
    reader.report(node, `${path}.topic`, 'missing_key', 'a request needs a topic');
  else reader.string(topic.value, `${path}.topic`);
  for (const key of [
    'tenant_id',
    'agent_id',
    'idempotency_key',
    'trace_id',
    'principal',
  ] as const) {
    const field = fields.get(key);
    if (field !== undefined) reader.string(field.value, `${path}.${key}`);
  }
  const tags = fields.get('risk_tags');
  if (tags !== undefined) reader.strings(tags.value, `${path}.risk_tags`);
  const labels = fields.get('labels');
  if (labels !== undefined) {
    for (const [key, { value }] of reader.map(labels.value, `${path}.labels`, null) ?? []) {
      reader.string(value, `${path}.labels.${key}`);
    }
  }
  const dispatch = fields.get('dispatch');
  if (dispatch !== undefined) reader.oneOf(dispatch.value, `${path}.dispatch`, ['bus', 'inline']);
  return reader.toJs(node) as JobRequest;
}

function parseExpect(reader: SourceReader, node: YamlNode, path: string): CaseExpectation | null {
  const fields = reader.map(node, path, ['decision', 'rule_id', 'constraints']);
  if (fields === null) return null;
  const decisionNode = fields.get('decision');
  if (decisionNode === undefined) {
    reader.report(
      node,
      `${path}.decision`,
      'missing_key',
      `expect needs a decision (${DECISION_TYPES.join(', ')})`,
    );
    return null;
  }
  const decision = reader.oneOf(decisionNode.value, `${path}.decision`, DECISION_TYPES);
  const ruleNode = fields.get('rule_id');
  const rule_id =
    ruleNode === undefined ? undefined : (reader.toJs(ruleNode.value) as string | null);
  if (rule_id !== undefined && rule_id !== null && typeof rule_id !== 'string')
    reader.report(
      ruleNode?.value ?? null,
      `${path}.rule_id`,
      'wrong_type',
      'rule_id must be a string or null',
    );
  const constraintsNode = fields.get('constraints');
  if (constraintsNode !== undefined && !isMap(reader.deref(constraintsNode.value)))
    reader.report(
      constraintsNode.value,
      `${path}.constraints`,
      'wrong_type',
      'constraints must be a mapping',
    );
  if (decision === null) return null;
  return {
    decision,
    ...(rule_id === undefined ? {} : { rule_id }),
    ...(constraintsNode === undefined
      ? {}
      : { constraints: reader.toJs(constraintsNode.value) as Constraints }),
  };
}

export function caseFacts(c: PolicyCase): EvaluationFacts {
  return { agent: c.agent, now: c.now, counters: c.counters };
}

/** Evaluates one case and compares the decision with what the case expects. */
export function runCase(policy: CompiledPolicy, c: PolicyCase): CaseResult {
  const decision = policy.evaluate(c.request, caseFacts(c));
  const failures: string[] = [];
  if (decision.type !== c.expect.decision)
    failures.push(`decision: expected ${c.expect.decision}, got ${decision.type}`);
  if (c.expect.rule_id !== undefined && decision.rule_id !== c.expect.rule_id)
    failures.push(`rule_id: expected ${String(c.expect.rule_id)}, got ${String(decision.rule_id)}`);
  if (c.expect.constraints !== undefined) {
    const expected = canonicalJson(normalizeConstraints(c.expect.constraints));
    const actual = canonicalJson(decision.constraints);
    if (expected !== actual) failures.push(`constraints: expected ${expected}, got ${actual}`);
  }
  return { name: c.name, passed: failures.length === 0, failures, decision };
}

export function runCases(policy: CompiledPolicy, cases: readonly PolicyCase[]): CaseResult[] {
  return cases.map((c) => runCase(policy, c));
}
