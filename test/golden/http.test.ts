/**
 * The golden corpus through the HTTP API: every decision case in `test/cases/**\/*.cases.yaml` is
 * submitted with `POST /api/v1/jobs` (Fastify `inject()`) to a gateway (over an in-memory store)
 * running the case file's policy, and must decide as the case expects and exactly as the library
 * does. One gateway serves a whole case file unless something an earlier case left behind could
 * reach the decision (see `runOverHttp`); then the case gets a fresh one. A gateway takes ~100 ms
 * to build, so one per case would make this suite take 25–45 s instead of ~5 s.
 *
 * A case's facts become what the gateway really reads:
 * - `now` → a fixed clock (DEFAULT_NOW when the case gives none, see below);
 * - `agent` → `PUT /api/v1/agents/{agent_id}` in the request's tenant before the submit;
 * - `counters` → the same request submitted first, at the same instant, until the throttle
 *   windows hold what the case says (each accepted submit is counted in every window it falls
 *   into, a throttled one in none; a counter above the rule's limit is reached as the limit, the
 *   most a window ever holds, which decides the same);
 * - `request.principal` → the authenticated principal (§3, §11: never taken from the body).
 *
 * Some facts cannot be supplied over HTTP (the gateway always knows the time; it looks a profile up
 * only by agent_id; pre-submits fill every window at once). A case is run over HTTP only when the
 * library decides it identically under the case's facts and under the facts the gateway will
 * have; otherwise it is reported as a visible skip, and their number is pinned below.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { DEV_PRINCIPAL } from '../../src/app/dev-authenticator.js';
import { canonicalJson } from '../../src/core/hash/jcs.js';
import { stateForDecision } from '../../src/core/jobs/outcome.js';
import type { JobState } from '../../src/core/jobs/states.js';
import { ROLES } from '../../src/core/model/principal.js';
import type { Principal } from '../../src/core/model/principal.js';
import { DEFAULT_TENANT, UNKNOWN_AGENT } from '../../src/core/model/request.js';
import { normalizeConstraints } from '../../src/core/policy/constraints.js';
import { caseFacts } from '../../src/core/policy/cases.js';
import type {
  AgentProfile,
  CompiledPolicy,
  Decision,
  EvaluationFacts,
  JobRequest,
  PolicyCase,
} from '../../src/policy.js';
import { testGateway } from '../support/http-server.js';
import { findCaseFiles, loadCaseFile } from './corpus.js';
import type { LoadedCaseFile } from './corpus.js';

/**
 * The time of cases without `now`. The library then evaluates with no time at all (conditions
 * reading `now` error), which the gateway cannot reproduce: its clock always answers. A case that
 * depends on the absence of time is therefore not expressible; every other case decides the same
 * at any instant, so the value is arbitrary. (Fixed, so the test is deterministic.)
 */
const DEFAULT_NOW = '2024-01-03T12:00:00.000Z';

/**
 * Cases the gateway cannot be given the facts of, by name. Pinned exactly, so that a new one
 * (or a broken mapping that makes a case look inexpressible) fails the suite.
 * - business-hours "no now": the case tests evaluation without a time; the gateway always has one.
 */
const EXPECTED_NOT_EXPRESSIBLE = [
  'conditions/business-hours.cases.yaml: no now - the allow rule errors and does not match, the approval rule errors and matches',
];

/**
 * Cases whose `agent` profile is not delivered but whose decision provably does not depend on it
 * (the library decides the same with the profile and with the unknown profile), pinned exactly.
 * - a profile with no agent_id in the request: the gateway looks profiles up by agent_id only;
 * - a profile stating risk_level "unknown": PUT accepts only low..critical, and not registering
 *   the agent gives exactly that profile ({risk_level: "unknown"}).
 */
const EXPECTED_PROFILE_NOT_REGISTERED = [
  'default-decision/deny.cases.yaml: explicit default deny with no rules denies everything',
  'risk/risk.cases.yaml: risk_levels - a profile stating "unknown" matches unknown',
];

interface SubmitResponse {
  readonly job_id: string;
  readonly state: JobState;
  readonly decision: Decision;
}

/** How one case goes over HTTP, worked out (with the library) before any request is sent. */
interface HttpPlan {
  readonly kind: 'http';
  /** The body of `POST /api/v1/jobs`: the case's request without `principal`. */
  readonly body: Omit<JobRequest, 'principal'>;
  readonly principal: string;
  readonly tenant: string;
  readonly now: string;
  /** The profile to register with PUT, or null when none is registered. */
  readonly register: AgentProfile | null;
  /** Why the case's profile was not registered although the case gives one. */
  readonly profileNote: string | null;
  /** Whether the case needs a gateway of its own (see `runOverHttp`). */
  readonly isolated: boolean;
  /** The decision each pre-submit must get, in order (their count fills the windows). */
  readonly preDecisions: readonly Decision[];
  /** What the library decides for the request as the gateway sees it, with the same facts. */
  readonly expected: Decision;
}

interface SkipPlan {
  readonly kind: 'skip';
  readonly reason: string;
}

type Plan = HttpPlan | SkipPlan;

function isUnknownProfile(agent: AgentProfile): boolean {
  return isDeepStrictEqual(agent, UNKNOWN_AGENT);
}

function describeDecision(d: Decision): string {
  return JSON.stringify({ type: d.type, rule_id: d.rule_id, diagnostics: d.diagnostics });
}

function plan(policy: CompiledPolicy, c: PolicyCase): Plan {
  // `principal` is not a §3 request field: the server assigns it from authentication and the
  // submit schema rejects it in a body. It is the only field stripped; it becomes the principal of
  // the authenticator instead.
  const { principal: requested, ...body } = c.request;
  const principal = requested ?? DEV_PRINCIPAL.id;
  // As JobService does for a principal of every tenant ('*'): an absent tenant is "default".
  const tenant = body.tenant_id ?? DEFAULT_TENANT;
  const request: JobRequest = { ...body, tenant_id: tenant, principal };
  const now = c.now ?? DEFAULT_NOW;

  // The profile the gateway will read: only by agent_id, and only one that PUT accepts.
  let agent: AgentProfile = UNKNOWN_AGENT;
  let register: AgentProfile | null = null;
  let profileNote: string | null = null;
  if (c.agent !== undefined) {
    if (body.agent_id === undefined) {
      profileNote = 'the request has no agent_id, so the gateway uses the unknown profile';
    } else if (isUnknownProfile(c.agent)) {
      profileNote = 'risk_level "unknown" is what an unregistered agent gets';
    } else if (c.agent.risk_level === 'unknown') {
      return { kind: 'skip', reason: 'PUT /agents does not accept risk_level "unknown"' };
    } else {
      agent = c.agent;
      register = c.agent;
    }
  }
  const base: EvaluationFacts = { now, agent };
  const expected = policy.evaluate(request, { ...base, counters: c.counters });

  // The case's own decision (what the library runner checks) must not depend on what the gateway
  // cannot be told; else running it over HTTP would test something else.
  const asWritten = policy.evaluate(c.request, caseFacts(c));
  if (!isDeepStrictEqual(asWritten, expected)) {
    return {
      kind: 'skip',
      reason:
        `not expressible over HTTP: with the case's facts the library decides ` +
        `${describeDecision(asWritten)}, with the facts the gateway has ${describeDecision(expected)}`,
    };
  }

  // Pre-submits. Every accepted (non-THROTTLE) submit adds one entry to every window the request
  // falls into (a log never holds more than its limit); a throttled one adds none. Only windows
  // of this request matter: the engine ignores counters of rules whose match fails. Simulate it
  // with the library to know how many submits to send and what each must decide.
  const windows = policy.throttleWindows(request, base);
  const target = Math.max(
    0,
    ...windows.map((w) => Math.min(c.counters?.[w.rule_id] ?? 0, w.limit)),
  );
  const held: Record<string, number> = Object.fromEntries(windows.map((w) => [w.rule_id, 0]));
  const preDecisions: Decision[] = [];
  for (let i = 0; i < target; i += 1) {
    const decision = policy.evaluate(request, { ...base, counters: { ...held } });
    preDecisions.push(decision);
    if (decision.type === 'THROTTLE') continue;
    for (const w of windows) held[w.rule_id] = Math.min((held[w.rule_id] ?? 0) + 1, w.limit);
  }
  const filled = policy.evaluate(request, { ...base, counters: held });
  if (!isDeepStrictEqual(filled, expected)) {
    return {
      kind: 'skip',
      reason:
        `not expressible over HTTP: submitting the request ${target} times fills the windows to ` +
        `${JSON.stringify(held)}, which decides ${describeDecision(filled)}, not ` +
        `${describeDecision(expected)} as the counters ${JSON.stringify(c.counters)} do`,
    };
  }
  return {
    kind: 'http',
    body,
    principal,
    tenant,
    now,
    register,
    profileNote,
    isolated: windows.length > 0 || body.idempotency_key !== undefined,
    preDecisions,
    expected,
  };
}

/** A gateway whose clock and caller are set per case (both are read only while handling a call). */
interface Rig {
  readonly app: FastifyInstance;
  readonly state: { now: string; principal: Principal };
  /** `tenant\0agent_id` of every profile registered in this gateway's store. */
  readonly registered: Set<string>;
}

async function newRig(source: string): Promise<Rig> {
  const state = { now: DEFAULT_NOW, principal: DEV_PRINCIPAL };
  const { app } = await testGateway({
    policySource: source,
    clock: { now: () => state.now },
    // The dev principal (`dev`, tenant '*', every role) unless the case names the principal.
    authenticator: { authenticate: () => Promise.resolve(state.principal) },
  });
  return { app, state, registered: new Set() };
}

function principalNamed(id: string): Principal {
  return id === DEV_PRINCIPAL.id ? DEV_PRINCIPAL : { id, tenant: '*', roles: ROLES };
}

/**
 * Runs a case on the file's shared gateway when nothing earlier can leak into its decision, else
 * on a fresh one. What a gateway carries from one case to the next is the agents registered in its
 * store and its throttle logs; jobs and the audit trail never feed a decision. So a fresh gateway
 * is needed when the request falls into a throttle window (its windows must start empty and it
 * fills them), when it carries an idempotency key (a repeat would replay an earlier job), and when
 * it names an agent that must have no profile but an earlier case registered one.
 */
async function runOverHttp(
  file: LoadedCaseFile,
  c: PolicyCase,
  p: HttpPlan,
  shared: () => Promise<Rig>,
  fresh: () => Promise<Rig>,
): Promise<void> {
  const agentKey = p.body.agent_id === undefined ? null : `${p.tenant}\0${p.body.agent_id}`;
  const { registered } = await shared();
  const leftover = agentKey !== null && p.register === null && registered.has(agentKey);
  const { app, state, registered: store } = p.isolated || leftover ? await fresh() : await shared();
  state.now = p.now;
  state.principal = principalNamed(p.principal);
  if (p.register !== null && p.body.agent_id !== undefined && agentKey !== null) {
    const put = await app.inject({
      method: 'PUT',
      url: `/api/v1/agents/${encodeURIComponent(p.body.agent_id)}`,
      payload: { ...p.register, tenant_id: p.tenant },
    });
    assert.equal(put.statusCode, 200, `registering the agent: ${put.body}`);
    store.add(agentKey);
  }
  for (const [i, predicted] of p.preDecisions.entries()) {
    // A repeated idempotency key would replay the first job; the key is in no throttle key.
    const key = p.body.idempotency_key;
    const body = key === undefined ? p.body : { ...p.body, idempotency_key: `${key}-pre-${i}` };
    const pre = await app.inject({ method: 'POST', url: '/api/v1/jobs', payload: body });
    assert.equal(pre.statusCode, 201, `pre-submit ${i + 1}: ${pre.body}`);
    assert.deepEqual(pre.json<SubmitResponse>().decision, predicted, `pre-submit ${i + 1}`);
  }

  const response = await app.inject({ method: 'POST', url: '/api/v1/jobs', payload: p.body });
  const where = `${file.name}: "${c.name}"`;
  assert.equal(response.statusCode, 201, `${where}: ${response.body}`);
  const { state: jobState, decision } = response.json<SubmitResponse>();
  const shown = `${where}: decision ${JSON.stringify(decision)}`;
  assert.equal(decision.type, c.expect.decision, shown);
  if (c.expect.rule_id !== undefined) assert.equal(decision.rule_id, c.expect.rule_id, shown);
  if (c.expect.constraints !== undefined) {
    assert.equal(
      canonicalJson(decision.constraints),
      canonicalJson(normalizeConstraints(c.expect.constraints)),
      shown,
    );
  }
  assert.equal(jobState, stateForDecision(c.expect.decision), shown);
  // Any drift between the gateway and the library, down to reason, snapshot and diagnostics.
  assert.deepEqual(decision, p.expected, `${where}: HTTP and library decisions differ`);
}

const files = findCaseFiles().map((path) => {
  const file = loadCaseFile(path);
  const source = readFileSync(file.policyFile, 'utf8');
  const cases = file.cases.map((c) => ({ c, plan: plan(file.policy, c) }));
  return { file, source, cases };
});
const plans = files.flatMap(({ file, cases }) =>
  cases.map(({ c, plan: p }) => ({ id: `${file.name}: ${c.name}`, plan: p })),
);

describe('golden corpus through POST /api/v1/jobs', () => {
  it('runs every decision case over HTTP except the pinned inexpressible ones', () => {
    const skipped = plans.filter((p) => p.plan.kind === 'skip').map((p) => p.id);
    assert.deepEqual(skipped, EXPECTED_NOT_EXPRESSIBLE);
    const ran = plans.filter((p) => p.plan.kind === 'http').length;
    const total = files.reduce((n, { file }) => n + file.cases.length, 0);
    assert.equal(ran + skipped.length, total);
    assert.ok(ran > 0);
  });

  it('delivers every case profile except the pinned, provably irrelevant ones', () => {
    const notRegistered = plans
      .filter((p) => p.plan.kind === 'http' && p.plan.profileNote !== null)
      .map((p) => p.id);
    assert.deepEqual(notRegistered, EXPECTED_PROFILE_NOT_REGISTERED);
  });

  for (const { file, source, cases } of files) {
    describe(file.name, () => {
      let shared: Promise<Rig> | undefined;
      const sharedRig = () => (shared ??= newRig(source));
      const freshRig = () => newRig(source);
      for (const { c, plan: p } of cases) {
        if (p.kind === 'skip') {
          it(c.name, { skip: p.reason }, () => undefined);
        } else {
          it(c.name, () => runOverHttp(file, c, p, sharedRig, freshRig));
        }
      }
    });
  }
});
