/**
 * `warden policy lint|test|eval|explain|diff`: the policy engine from the terminal. Every verb
 * loads policies through `compilePolicy`, exactly as the server does.
 */
import { dirname, resolve } from 'node:path';
import { compilePolicy, formatProblem, PolicyLoadError } from '../core/policy/index.js';
import type { CompiledPolicy } from '../core/policy/index.js';
import { caseFacts, parseCases, runCase } from '../core/policy/cases.js';
import type { PolicyCase } from '../core/policy/cases.js';
import type { Decision } from '../core/model/decision.js';
import type { AgentProfile, EvaluationFacts, JobRequest } from '../core/model/request.js';
import { CliError, EXIT_FAILED, EXIT_OK, readJson, readText } from './io.js';
import type { CliIo } from './io.js';

function loadPolicy(path: string): CompiledPolicy {
  try {
    return compilePolicy(readText(path, 'policy'), { file: path });
  } catch (error) {
    if (error instanceof PolicyLoadError) throw new CliError(error.message, EXIT_FAILED);
    throw error;
  }
}

function loadCases(path: string): { policyPath: string | undefined; cases: readonly PolicyCase[] } {
  try {
    const file = parseCases(readText(path, 'case file'), path);
    return {
      policyPath: file.policy === undefined ? undefined : resolve(dirname(path), file.policy),
      cases: file.cases,
    };
  } catch (error) {
    if (error instanceof PolicyLoadError)
      throw new CliError(error.message.replace(/^policy /, 'case file '));
    throw error;
  }
}

/** `policy lint FILE...`: exit 0 only when every file loads. */
export function lintCommand(io: CliIo, files: readonly string[]): number {
  let failed = 0;
  for (const file of files) {
    try {
      const policy = compilePolicy(readText(file, 'policy'), { file });
      io.out(
        `${file}: ok (${policy.spec.rules.length} rules, ${policy.spec.output.length} output rules, snapshot ${policy.snapshot.slice(0, 12)})`,
      );
    } catch (error) {
      if (!(error instanceof PolicyLoadError)) throw error;
      failed++;
      for (const problem of error.problems) io.err(formatProblem(file, problem));
    }
  }
  return failed === 0 ? EXIT_OK : EXIT_FAILED;
}

export interface TestOptions {
  readonly policy?: string;
  readonly verbose?: boolean;
}

/** `policy test [--policy FILE] CASES...`: one line per failing case, then `N passed, N failed`. */
export function testCommand(io: CliIo, caseFiles: readonly string[], options: TestOptions): number {
  let passed = 0;
  let failed = 0;
  for (const caseFile of caseFiles) {
    const { policyPath, cases } = loadCases(caseFile);
    const path = options.policy ?? policyPath;
    if (path === undefined)
      throw new CliError(
        `${caseFile} names no policy: pass --policy FILE or add a top-level "policy:" path`,
      );
    const policy = loadPolicy(path);
    for (const c of cases) {
      const result = runCase(policy, c);
      if (result.passed) {
        passed++;
        if (options.verbose === true) io.out(`ok   ${c.name}: ${summarize(result.decision)}`);
      } else {
        failed++;
        io.out(`FAIL ${c.name} (${caseFile}): ${result.failures.join('; ')}`);
      }
    }
  }
  io.out(`${passed} passed, ${failed} failed`);
  return failed === 0 ? EXIT_OK : EXIT_FAILED;
}

export interface EvalOptions {
  readonly policy: string;
  readonly request: string;
  readonly agent?: string;
  readonly now?: string;
  readonly counters?: string;
}

function loadEvaluation(options: EvalOptions): {
  policy: CompiledPolicy;
  request: JobRequest;
  facts: EvaluationFacts;
} {
  const policy = loadPolicy(options.policy);
  const request = readJson(options.request, 'request');
  if (
    typeof request !== 'object' ||
    request === null ||
    typeof (request as { topic?: unknown }).topic !== 'string'
  )
    throw new CliError(`request ${options.request} must be a JSON object with a string "topic"`);
  const agent = options.agent === undefined ? undefined : readJson(options.agent, 'agent profile');
  if (
    agent !== undefined &&
    (typeof agent !== 'object' || agent === null || !('risk_level' in agent))
  )
    throw new CliError(
      `agent profile ${options.agent ?? ''} must be a JSON object with a "risk_level"`,
    );
  if (options.now !== undefined && Number.isNaN(Date.parse(options.now)))
    throw new CliError(`--now "${options.now}" is not an ISO-8601 time`);
  let counters: Record<string, number> | undefined;
  if (options.counters !== undefined) {
    try {
      counters = JSON.parse(options.counters) as Record<string, number>;
    } catch {
      throw new CliError('--counters must be a JSON object such as {"rule-id": 3}');
    }
  }
  return {
    policy,
    request: request as JobRequest,
    facts: { agent: agent as AgentProfile | undefined, now: options.now, counters },
  };
}

/** `policy eval`: prints the decision as JSON. */
export function evalCommand(io: CliIo, options: EvalOptions): number {
  const { policy, request, facts } = loadEvaluation(options);
  io.out(JSON.stringify(policy.evaluate(request, facts), null, 2));
  return EXIT_OK;
}

/** `policy explain`: every rule, whether it matched and why not, then the decision. */
export function explainCommand(io: CliIo, options: EvalOptions): number {
  const { policy, request, facts } = loadEvaluation(options);
  const explanation = policy.explain(request, facts);
  const rows = explanation.rules.map((r) => [
    r.rule_id,
    r.decision,
    r.matched ? 'yes' : 'no',
    r.detail,
  ]);
  for (const line of table(['RULE', 'DECISION', 'MATCHED', 'DETAIL'], rows)) io.out(line);
  io.out('');
  io.out(`decision: ${summarize(explanation.decision)}`);
  io.out(`reason:   ${explanation.decision.reason}`);
  for (const d of explanation.decision.diagnostics) io.out(`note:     ${d.message}`);
  return EXIT_OK;
}

export interface DiffOptions {
  readonly cases: string;
  readonly exitCode?: boolean;
}

/** `policy diff OLD NEW --cases FILE`: the cases whose decision changes between two policies. */
export function diffCommand(
  io: CliIo,
  oldPath: string,
  newPath: string,
  options: DiffOptions,
): number {
  const before = loadPolicy(oldPath);
  const after = loadPolicy(newPath);
  const { cases } = loadCases(options.cases);
  let changed = 0;
  for (const c of cases) {
    const a = before.evaluate(c.request, caseFacts(c));
    const b = after.evaluate(c.request, caseFacts(c));
    if (a.type === b.type && a.rule_id === b.rule_id) continue;
    changed++;
    io.out(`CHANGED ${c.name}: ${summarize(a)} -> ${summarize(b)}`);
  }
  io.out(`${cases.length} cases, ${changed} changed`);
  return options.exitCode === true && changed > 0 ? EXIT_FAILED : EXIT_OK;
}

function summarize(decision: Decision): string {
  const constraints =
    Object.keys(decision.constraints).length > 0 ? ` ${JSON.stringify(decision.constraints)}` : '';
  return `${decision.type} (${decision.rule_id ?? 'default'})${constraints}`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
