/**
 * Policy-evaluation benchmark: Warden's compiled policy against Cedar (`@cedar-policy/cedar-wasm`,
 * preparsed policy set, `statefulIsAuthorized`) on equivalent policies of 10, 100, 500 and 1,000
 * rules (SPEC §18). Not a test: it measures and reports; it aborts only when the two engines
 * disagree on a decision or Cedar answers with an error, because then the comparison means nothing.
 *
 * Run alone with `npx tsx bench/policy-eval.ts`, or with every benchmark via `npm run bench`.
 */
// Must stay the first import: works around a V8 crash (see v8-flags.ts).
import './v8-flags.js';
import {
  getCedarVersion,
  preparsePolicySet,
  statefulIsAuthorized,
} from '@cedar-policy/cedar-wasm/nodejs';
import type { EntityJson, StatefulAuthorizationCall } from '@cedar-policy/cedar-wasm/nodejs';
import { stringify } from 'yaml';
import type { JobRequest } from '../src/core/model/request.js';
import { isMain } from './entry.js';
import { machine } from './machine.js';
import { compilePolicy } from '../src/core/policy/index.js';
import type { CompiledPolicy } from '../src/core/policy/index.js';
import { mulberry32 } from '../test/support/prng.js';

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

export const RULE_COUNTS = [10, 100, 500, 1000] as const;
/** Distinct requests per policy size; every timed block walks them all, in order. */
const REQUEST_COUNT = 1024;
/** Timed rounds per size; the engine that goes first alternates from round to round. */
const ROUNDS = 8;
/** Passes over the request set per round and per block (Warden is cheap, so it gets more). */
const WARDEN_PASSES = 16;
const CEDAR_PASSES = 1;
/** Warm-up passes over the request set before any timing. */
const WARDEN_WARMUP_PASSES = 30;
const CEDAR_WARMUP_PASSES = 3;

const TARGET_RATIO_10 = 30;
const TARGET_RATIO_500 = 300;
const TARGET_P99_1000_US = 10;

// ---------------------------------------------------------------------------------------------
// One engine-neutral rule model, rendered to both languages
// ---------------------------------------------------------------------------------------------

export type Effect = 'allow' | 'allow_with_constraints' | 'require_approval' | 'deny';

export interface Conditions {
  /**
   * Warden topic globs. Shape rule, so that Cedar `like` (whose `*` also crosses dots) decides the
   * same: a single `*` appears only in the last dot-segment, and every request topic has exactly
   * four segments; `**` (any run, dots included) maps to Cedar `*` exactly. `cedarLike` enforces it.
   */
  readonly topics?: readonly string[];
  readonly tenants?: readonly string[];
  readonly agents?: readonly string[];
  /** Any-of. */
  readonly riskTags?: readonly string[];
  /** All-of. */
  readonly riskTagsAll?: readonly string[];
  /** Every key must be present with one of the listed values. */
  readonly labels?: Readonly<Record<string, readonly string[]>>;
}

export interface RuleDef {
  readonly id: string;
  readonly effect: Effect;
  readonly match: Conditions;
  readonly unless?: Conditions;
  readonly constraints?: Readonly<Record<string, number>>;
  readonly reason: string;
}

/**
 * The rule mix. Two global rules come first (no topic, so Warden indexes them by risk tag), then
 * blocks of ten rules per service `svc<k>`, the last block cut short to make exactly `count`.
 */
export function generateRules(count: number): RuleDef[] {
  if (count < 2) throw new Error('a benchmark policy has at least the two global rules');
  const rules: RuleDef[] = [
    {
      id: 'global-deny-destructive',
      effect: 'deny',
      match: { riskTags: ['destructive'] },
      unless: { labels: { break_glass: ['true'] } },
      reason: 'Destructive actions are denied unless break-glass is declared',
    },
    {
      id: 'global-approve-public-pii',
      effect: 'require_approval',
      match: { riskTags: ['pii'], tenants: ['public-*'] },
      reason: 'PII from public tenants needs review',
    },
  ];
  for (let k = 0; rules.length < count; k++) {
    const svc = `job.svc${k}`;
    const id = (name: string): string => `svc${k}-${name}`;
    const kinds: RuleDef[] = [
      {
        id: id('allow-read'),
        effect: 'allow',
        match: { topics: [`${svc}.read.*`] },
        reason: 'Reads are allowed',
      },
      {
        id: id('constrain-write'),
        effect: 'allow_with_constraints',
        match: { topics: [`${svc}.write.*`] },
        constraints: { max_runtime_sec: 60, max_retries: 2 },
        reason: 'Writes run under limits',
      },
      {
        id: id('approve-prod-write'),
        effect: 'require_approval',
        match: { topics: [`${svc}.write.*`], riskTags: ['prod'] },
        reason: 'Production writes require human review',
      },
      {
        id: id('deny-drop'),
        effect: 'deny',
        match: { topics: [`${svc}.write.drop_*`] },
        reason: 'Dropping data is never automated',
      },
      {
        id: id('approve-production-env'),
        effect: 'require_approval',
        match: { topics: [`${svc}.**`], labels: { env: ['production'] } },
        unless: { agents: ['ops-*'] },
        reason: 'Anything in the production environment needs review, except by ops agents',
      },
      {
        id: id('allow-admin-ops'),
        effect: 'allow',
        match: { topics: [`${svc}.admin.*`], agents: ['ops-*'] },
        reason: 'Ops agents may administer',
      },
      {
        id: id('approve-admin-prod-pii'),
        effect: 'require_approval',
        match: { topics: [`${svc}.admin.*`], riskTagsAll: ['prod', 'pii'] },
        reason: 'Admin actions touching production PII need review',
      },
      {
        id: id('allow-export-read'),
        effect: 'allow',
        match: { topics: [`${svc}.export.*`], labels: { 'mcp.action': ['read', 'list'] } },
        reason: 'Read-only exports are allowed',
      },
      {
        id: id('deny-public-pii-export'),
        effect: 'deny',
        match: { topics: [`${svc}.export.*`], riskTags: ['pii'], tenants: ['public-*'] },
        reason: 'Public tenants may not export PII',
      },
      {
        id: id('allow-notify'),
        effect: 'allow',
        match: { topics: [`${svc}.notify.send_*`], tenants: ['acme-*', 'globex-*'] },
        reason: 'Customers may send notifications',
      },
    ];
    for (const rule of kinds) {
      if (rules.length === count) break;
      rules.push(rule);
    }
  }
  return rules;
}

/** Number of `svc<k>` blocks a policy of `count` rules touches. */
function serviceCount(count: number): number {
  return Math.ceil((count - 2) / 10);
}

function wardenMatch(c: Conditions): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  if (c.topics !== undefined) m['topics'] = c.topics;
  if (c.tenants !== undefined) m['tenants'] = c.tenants;
  if (c.agents !== undefined) m['agents'] = c.agents;
  if (c.riskTags !== undefined) m['risk_tags'] = c.riskTags;
  if (c.riskTagsAll !== undefined) m['risk_tags_all'] = c.riskTagsAll;
  if (c.labels !== undefined) m['labels'] = c.labels;
  return m;
}

export function wardenYaml(rules: readonly RuleDef[]): string {
  return stringify({
    version: 'v1',
    default_decision: 'deny',
    rules: rules.map((r) => {
      const rule: Record<string, unknown> = { id: r.id, match: wardenMatch(r.match) };
      if (r.unless !== undefined) rule['unless'] = wardenMatch(r.unless);
      rule['decision'] = r.effect;
      rule['reason'] = r.reason;
      if (r.constraints !== undefined) rule['constraints'] = r.constraints;
      return rule;
    }),
  });
}

/** A Cedar string literal (our strings are plain ASCII, where JSON and Cedar escapes agree). */
const str = (s: string): string => JSON.stringify(s);

/**
 * A Warden glob as a Cedar `like` pattern, refusing shapes where the two would differ: a single
 * `*` followed by a dot (Cedar's `*` would cross it). `**` maps to Cedar `*` exactly.
 */
function cedarLike(glob: string): string {
  const single = glob.replaceAll('**', '');
  if (single.includes('*') && single.indexOf('.', single.indexOf('*')) !== -1) {
    throw new Error(`glob "${glob}": a single * before a dot would cross dots in Cedar`);
  }
  return str(glob.replaceAll('**', '*'));
}

function anyOf(parts: readonly string[]): string {
  return parts.length === 1 ? (parts[0] ?? 'false') : `(${parts.join(' || ')})`;
}

function cedarConditions(c: Conditions): string {
  const parts: string[] = [];
  if (c.topics !== undefined)
    parts.push(anyOf(c.topics.map((t) => `resource.topic like ${cedarLike(t)}`)));
  if (c.tenants !== undefined)
    parts.push(anyOf(c.tenants.map((t) => `resource.tenant_id like ${cedarLike(t)}`)));
  if (c.agents !== undefined)
    parts.push(anyOf(c.agents.map((a) => `principal.name like ${cedarLike(a)}`)));
  if (c.riskTags !== undefined && c.riskTags.length > 0) {
    const [only] = c.riskTags;
    parts.push(
      c.riskTags.length === 1 && only !== undefined
        ? `resource.risk_tags.contains(${str(only)})`
        : `resource.risk_tags.containsAny([${c.riskTags.map(str).join(', ')}])`,
    );
  }
  if (c.riskTagsAll !== undefined)
    parts.push(`resource.risk_tags.containsAll([${c.riskTagsAll.map(str).join(', ')}])`);
  for (const [key, values] of Object.entries(c.labels ?? {})) {
    const equal = anyOf(values.map((v) => `resource.labels[${str(key)}] == ${str(v)}`));
    parts.push(`(resource.labels has ${str(key)} && ${equal})`);
  }
  return parts.length === 0 ? 'true' : parts.join(' && ');
}

/**
 * Cedar policies keyed by rule id. Mapping: Warden `allow`/`allow_with_constraints` → `permit`,
 * `deny`/`require_approval` → `forbid`. Cedar allows iff some permit holds and no forbid holds;
 * Warden's combining (most restrictive wins, default deny) yields ALLOW/ALLOW_WITH_CONSTRAINTS
 * iff some allow-type rule matched and no deny/require_approval rule did (no throttle rules
 * here). REQUIRE_APPROVAL is "not cleared to run now", so on Cedar's two-valued answer it is a
 * deny. Hence the two agree exactly when the per-rule matching agrees, which is checked.
 */
export function cedarPolicies(rules: readonly RuleDef[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rules) {
    const effect =
      r.effect === 'allow' || r.effect === 'allow_with_constraints' ? 'permit' : 'forbid';
    const unless = r.unless === undefined ? '' : ` unless { ${cedarConditions(r.unless)} }`;
    out[r.id] =
      `${effect} (principal, action == Action::"invoke", resource) ` +
      `when { ${cedarConditions(r.match)} }${unless};`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Seeded requests
// ---------------------------------------------------------------------------------------------

const VERBS: Readonly<Record<string, readonly string[]>> = {
  read: ['get', 'list', 'search'],
  write: ['update_ticket', 'create_issue', 'drop_table', 'drop_index'],
  admin: ['rotate_keys', 'reset_password'],
  export: ['csv', 'parquet'],
  notify: ['send_email', 'send_sms', 'page_oncall'],
  delete: ['purge'],
};
const ACTIONS = Object.keys(VERBS);
const TENANTS = ['acme-corp', 'globex-eu', 'public-web', 'default'];
const AGENTS = ['ops-alice', 'ops-bob', 'support-bot', 'etl-runner'];

export interface BenchRequest {
  readonly warden: JobRequest;
  readonly cedar: StatefulAuthorizationCall;
}

/**
 * Requests for a policy of `ruleCount` rules. Mostly known services (so they reach rule blocks),
 * some unknown services and some other topic roots (so only the global rules, or none, apply).
 * Every topic has exactly four dot-segments (see `Conditions.topics`).
 */
export function generateRequests(ruleCount: number, psetId: string): BenchRequest[] {
  const rand = mulberry32(0x5eed ^ ruleCount);
  const pick = <T>(items: readonly T[]): T => {
    const item = items[Math.floor(rand() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  };
  const services = serviceCount(ruleCount);
  const requests: BenchRequest[] = [];
  for (let n = 0; n < REQUEST_COUNT; n++) {
    const roll = rand();
    const root = roll < 0.05 ? 'tool' : 'job';
    const service =
      roll < 0.85 ? Math.floor(rand() * services) : services + Math.floor(rand() * 50);
    const action = pick(ACTIONS);
    const topic = `${root}.svc${service}.${action}.${pick(VERBS[action] ?? ['x'])}`;
    const tags: string[] = [];
    if (rand() < 0.4) tags.push('prod');
    if (rand() < 0.2) tags.push('pii');
    if (rand() < 0.08) tags.push('destructive');
    if (rand() < 0.2) tags.push('staging');
    const labels: Record<string, string> = {};
    const env = rand();
    if (env < 0.3) labels['env'] = 'production';
    else if (env < 0.6) labels['env'] = 'staging';
    const mcp = rand();
    if (mcp < 0.6) labels['mcp.action'] = pick(['read', 'list', 'write']);
    if (rand() < 0.03) labels['break_glass'] = 'true';
    const tenant = pick(TENANTS);
    const agent = pick(AGENTS);

    const warden: JobRequest = {
      topic,
      tenant_id: tenant,
      agent_id: agent,
      risk_tags: tags,
      labels,
    };
    const entities: EntityJson[] = [
      { uid: { type: 'Agent', id: agent }, attrs: { name: agent }, parents: [] },
      {
        uid: { type: 'Job', id: `job-${n}` },
        attrs: { topic, tenant_id: tenant, risk_tags: tags, labels },
        parents: [],
      },
    ];
    const cedar: StatefulAuthorizationCall = {
      principal: { type: 'Agent', id: agent },
      action: { type: 'Action', id: 'invoke' },
      resource: { type: 'Job', id: `job-${n}` },
      context: {},
      preparsedPolicySetId: psetId,
      entities,
    };
    requests.push({ warden, cedar });
  }
  return requests;
}

// ---------------------------------------------------------------------------------------------
// Engines
// ---------------------------------------------------------------------------------------------

function cedarAllows(call: StatefulAuthorizationCall): boolean {
  const answer = statefulIsAuthorized(call);
  if (answer.type !== 'success') {
    throw new Error(`Cedar failed: ${answer.errors.map((e) => e.message).join('; ')}`);
  }
  if (answer.response.diagnostics.errors.length > 0) {
    const errors = answer.response.diagnostics.errors;
    throw new Error(
      `Cedar policy errors: ${errors.map((e) => `${e.policyId}: ${e.error.message}`).join('; ')}`,
    );
  }
  return answer.response.decision === 'allow';
}

/**
 * Every request must get the same allow/deny from both engines, and Cedar must answer with a
 * decision, not an error. Returns Warden's decision-type counts and the number of allows.
 */
function verifyEquivalence(
  policy: CompiledPolicy,
  requests: readonly BenchRequest[],
  ruleCount: number,
): { outcomes: Record<string, number>; allows: number } {
  const outcomes: Record<string, number> = {};
  let allows = 0;
  for (const request of requests) {
    const decision = policy.evaluate(request.warden);
    const key = decision.rule_id === null ? `${decision.type} (default)` : decision.type;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    const warden = decision.type === 'ALLOW' || decision.type === 'ALLOW_WITH_CONSTRAINTS';
    const cedar = cedarAllows(request.cedar);
    if (warden !== cedar) {
      throw new Error(
        `engines disagree at ${ruleCount} rules on ${JSON.stringify(request.warden)}: ` +
          `Warden ${decision.type} (${decision.rule_id ?? 'default'}), Cedar ${cedar ? 'allow' : 'deny'}`,
      );
    }
    if (warden) allows++;
  }
  return { outcomes, allows };
}

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

const hrtime = (): bigint => process.hrtime.bigint();

interface Sink {
  allows: number;
}

/** Per-call samples (ns) for `passes` walks over the requests; appends to `out`. */
function sampleWarden(
  policy: CompiledPolicy,
  requests: readonly JobRequest[],
  passes: number,
  out: number[],
  sink: Sink,
): void {
  for (let p = 0; p < passes; p++) {
    for (const request of requests) {
      const t0 = hrtime();
      const type = policy.evaluate(request).type;
      const t1 = hrtime();
      out.push(Number(t1 - t0));
      if (type === 'ALLOW' || type === 'ALLOW_WITH_CONSTRAINTS') sink.allows++;
    }
  }
}

function sampleCedar(
  calls: readonly StatefulAuthorizationCall[],
  passes: number,
  out: number[],
  sink: Sink,
): void {
  for (let p = 0; p < passes; p++) {
    for (const call of calls) {
      const t0 = hrtime();
      const answer = statefulIsAuthorized(call);
      const t1 = hrtime();
      out.push(Number(t1 - t0));
      if (answer.type === 'success' && answer.response.decision === 'allow') sink.allows++;
    }
  }
}

/** One timer pair around `passes` walks; returns total ns. */
function batchWarden(
  policy: CompiledPolicy,
  requests: readonly JobRequest[],
  passes: number,
  sink: Sink,
): number {
  const t0 = hrtime();
  for (let p = 0; p < passes; p++) {
    for (const request of requests) {
      const type = policy.evaluate(request).type;
      if (type === 'ALLOW' || type === 'ALLOW_WITH_CONSTRAINTS') sink.allows++;
    }
  }
  return Number(hrtime() - t0);
}

function batchCedar(
  calls: readonly StatefulAuthorizationCall[],
  passes: number,
  sink: Sink,
): number {
  const t0 = hrtime();
  for (let p = 0; p < passes; p++) {
    for (const call of calls) {
      const answer = statefulIsAuthorized(call);
      if (answer.type === 'success' && answer.response.decision === 'allow') sink.allows++;
    }
  }
  return Number(hrtime() - t0);
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

/** p50 of back-to-back `hrtime.bigint()` pairs: the per-call timing floor, in ns. */
export function timerOverheadNs(): number {
  const samples = new Float64Array(200_000);
  for (let i = 0; i < samples.length; i++) {
    const t0 = hrtime();
    const t1 = hrtime();
    samples[i] = Number(t1 - t0);
  }
  return percentile(samples.sort(), 50);
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------

export interface PolicyEvalRow {
  readonly rules: number;
  readonly wardenP50Us: number;
  readonly wardenP99Us: number;
  readonly cedarP50Us: number;
  readonly cedarP99Us: number;
  /** cedar p50 / warden p50, from per-call samples. */
  readonly ratio: number;
  /** Mean per call from batch timing (one timer pair around a whole pass). */
  readonly wardenMeanUs: number;
  readonly cedarMeanUs: number;
  readonly meanRatio: number;
  readonly wardenSamples: number;
  readonly cedarSamples: number;
  /** Warden decision types over the request set (identical allow/deny split in Cedar). */
  readonly outcomes: Readonly<Record<string, number>>;
}

export interface Target {
  readonly name: string;
  readonly measured: string;
  readonly pass: boolean;
}

export interface RunOptions {
  readonly ruleCounts?: readonly number[];
  /** Progress lines; defaults to stderr. */
  readonly log?: (line: string) => void;
}

function benchOne(ruleCount: number, log: (line: string) => void): PolicyEvalRow {
  const rules = generateRules(ruleCount);
  const policy = compilePolicy(wardenYaml(rules), { file: `bench-${ruleCount}.yaml` });
  if (policy.spec.rules.length !== ruleCount) throw new Error('Warden policy has the wrong size');
  const psetId = `bench-${ruleCount}`;
  const parsed = preparsePolicySet(psetId, { staticPolicies: cedarPolicies(rules) });
  if (parsed.type !== 'success') {
    throw new Error(
      `Cedar rejected the policy set: ${parsed.errors.map((e) => e.message).join('; ')}`,
    );
  }

  const requests = generateRequests(ruleCount, psetId);
  const { outcomes, allows } = verifyEquivalence(policy, requests, ruleCount);
  const wardenRequests = requests.map((r) => r.warden);
  const cedarCalls = requests.map((r) => r.cedar);

  const sink: Sink = { allows: 0 };
  batchWarden(policy, wardenRequests, WARDEN_WARMUP_PASSES, sink);
  batchCedar(cedarCalls, CEDAR_WARMUP_PASSES, sink);
  const wardenSink: Sink = { allows: 0 };
  const cedarSink: Sink = { allows: 0 };
  const wardenSamples: number[] = [];
  const cedarSamples: number[] = [];
  let wardenBatchNs = 0;
  let cedarBatchNs = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which engine goes first, so neither always runs in the other's wake.
    const wardenFirst = round % 2 === 0;
    const warden = (): void => {
      sampleWarden(policy, wardenRequests, WARDEN_PASSES, wardenSamples, wardenSink);
      wardenBatchNs += batchWarden(policy, wardenRequests, WARDEN_PASSES, wardenSink);
    };
    const cedar = (): void => {
      sampleCedar(cedarCalls, CEDAR_PASSES, cedarSamples, cedarSink);
      cedarBatchNs += batchCedar(cedarCalls, CEDAR_PASSES, cedarSink);
    };
    if (wardenFirst) {
      warden();
      cedar();
    } else {
      cedar();
      warden();
    }
  }
  // The timed calls must have produced the verified decisions (and were not optimised away).
  if (wardenSink.allows !== allows * WARDEN_PASSES * 2 * ROUNDS)
    throw new Error('Warden decisions changed while timing');
  if (cedarSink.allows !== allows * CEDAR_PASSES * 2 * ROUNDS)
    throw new Error('Cedar decisions changed (or failed) while timing');

  const w = Float64Array.from(wardenSamples).sort();
  const c = Float64Array.from(cedarSamples).sort();
  const wardenMeanUs = wardenBatchNs / (ROUNDS * WARDEN_PASSES * requests.length) / 1000;
  const cedarMeanUs = cedarBatchNs / (ROUNDS * CEDAR_PASSES * requests.length) / 1000;
  const row: PolicyEvalRow = {
    rules: ruleCount,
    wardenP50Us: percentile(w, 50) / 1000,
    wardenP99Us: percentile(w, 99) / 1000,
    cedarP50Us: percentile(c, 50) / 1000,
    cedarP99Us: percentile(c, 99) / 1000,
    ratio: percentile(c, 50) / percentile(w, 50),
    wardenMeanUs,
    cedarMeanUs,
    meanRatio: cedarMeanUs / wardenMeanUs,
    wardenSamples: w.length,
    cedarSamples: c.length,
    outcomes,
  };
  log(
    `policy-eval: ${ruleCount} rules done (${requests.length} requests agree; ` +
      `${w.length} Warden and ${c.length} Cedar samples)`,
  );
  return row;
}

/** Runs every size and returns one row per size. Throws if the engines ever disagree. */
export function run(options: RunOptions = {}): PolicyEvalRow[] {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  return (options.ruleCounts ?? RULE_COUNTS).map((count) => benchOne(count, log));
}

/** The §18 targets as data: which row, what is measured, how it is shown, when it passes. */
const TARGETS: readonly {
  readonly rules: number;
  readonly name: string;
  readonly measure: (row: PolicyEvalRow) => number;
  readonly format: (value: number) => string;
  readonly pass: (value: number) => boolean;
}[] = [
  {
    rules: 10,
    name: `Cedar/Warden p50 ratio >= ${TARGET_RATIO_10}x at 10 rules`,
    measure: (row) => row.ratio,
    format: (x) => `${x.toFixed(1)}x`,
    pass: (x) => x >= TARGET_RATIO_10,
  },
  {
    rules: 500,
    name: `Cedar/Warden p50 ratio >= ${TARGET_RATIO_500}x at 500 rules`,
    measure: (row) => row.ratio,
    format: (x) => `${x.toFixed(1)}x`,
    pass: (x) => x >= TARGET_RATIO_500,
  },
  {
    rules: 1000,
    name: `Warden p99 < ${TARGET_P99_1000_US} us at 1,000 rules`,
    measure: (row) => row.wardenP99Us,
    format: (x) => `${x.toFixed(2)} us`,
    pass: (x) => x < TARGET_P99_1000_US,
  },
];

export function targets(rows: readonly PolicyEvalRow[]): Target[] {
  return TARGETS.flatMap((target) => {
    const row = rows.find((r) => r.rules === target.rules);
    if (row === undefined) return [];
    const value = target.measure(row);
    return [{ name: target.name, measured: target.format(value), pass: target.pass(value) }];
  });
}

function table(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => cell.padStart(widths[i] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((w) => `${'-'.repeat(w + 1)}:`).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

/** The report as Markdown-compatible text. */
export function report(rows: readonly PolicyEvalRow[]): string {
  const f = (n: number, digits = 2): string => n.toFixed(digits);
  const main = table(
    ['rules', 'warden p50 µs', 'warden p99 µs', 'cedar p50 µs', 'cedar p99 µs', 'ratio'],
    rows.map((r) => [
      String(r.rules),
      f(r.wardenP50Us, 3),
      f(r.wardenP99Us, 3),
      f(r.cedarP50Us, 1),
      f(r.cedarP99Us, 1),
      `${f(r.ratio, 1)}x`,
    ]),
  );
  const means = table(
    ['rules', 'warden mean µs', 'cedar mean µs', 'mean ratio', 'warden samples', 'cedar samples'],
    rows.map((r) => [
      String(r.rules),
      f(r.wardenMeanUs, 3),
      f(r.cedarMeanUs, 1),
      `${f(r.meanRatio, 1)}x`,
      String(r.wardenSamples),
      String(r.cedarSamples),
    ]),
  );
  const mix = rows.map(
    (r) =>
      `  ${r.rules} rules: ` +
      Object.entries(r.outcomes)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
  );
  const checks = targets(rows).map(
    (t) => `  ${t.pass ? 'PASS' : 'FAIL'}  ${t.name}: measured ${t.measured}`,
  );
  return [
    `Cedar ${getCedarVersion()} (cedar-wasm, nodejs build); per-call timer floor ` +
      `(back-to-back hrtime.bigint pair, p50): ${timerOverheadNs()} ns`,
    '',
    'Policy evaluation, per-call samples (ratio = cedar p50 / warden p50):',
    main,
    '',
    'Batch timing (one timer around each pass of 1,024 requests):',
    means,
    '',
    `Decision mix over the ${REQUEST_COUNT} requests (Warden; Cedar agrees on allow/deny for every one):`,
    ...mix,
    '',
    'Targets (SPEC §18):',
    ...checks,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  process.stdout.write(`${machine()}\n\n`);
  process.stdout.write(`${report(run())}\n`);
}
