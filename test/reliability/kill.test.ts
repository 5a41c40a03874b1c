/**
 * Reliability (§18): kill -9 under load loses no acknowledged job and the audit chain verifies
 * after restart.
 *
 * A real `warden serve` process takes concurrent submits (allowed, denied, approval-requiring,
 * with and without idempotency keys, some cancelled right after) and is SIGKILLed mid-load,
 * several times, on the same database file. Only a 2xx response is an acknowledgement; requests in
 * flight at the kill may fail. After every restart, every job acknowledged in any earlier round is
 * read back with its state (or a later legal one), job hash and decision, its trace holds its
 * `job.decided` event, idempotent replays return the same job, and the audit chain verifies; after
 * the last kill `warden audit verify` passes on the file with no server running.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nextStates } from '../../src/core/jobs/states.js';
import type { JobState } from '../../src/core/jobs/states.js';
import { warden } from '../support/cli.js';
import { killLeftoverGateways, startGateway, stopGateway } from './gateway-process.js';
import type { GatewayProcess } from './gateway-process.js';
import { mulberry32 } from '../support/prng.js';

const ROUNDS = 5;
const LOOPS = 32;
const VERIFY_CONCURRENCY = 32;
/** Acknowledgements to wait for before the kill timer starts, so every kill lands under load. */
const WARMUP_ACKS = 40;
/** Fewer acknowledged jobs than this in a round means the load did not really run. */
const MIN_ACKS_PER_ROUND = WARMUP_ACKS;
const MAX_ACKS_PER_ROUND = 400;
const REQUEST_TIMEOUT_MS = 10_000;
/** Idempotency keys shared by all loops and rounds: replays race each other and the kills. */
const POOL_KEYS = 24;

interface Decision {
  readonly type: string;
  readonly rule_id: string | null;
  readonly policy_snapshot: string;
}

interface SubmitResponse {
  readonly job_id: string;
  readonly trace_id: string;
  readonly state: JobState;
  readonly job_hash: string;
  readonly decision: Decision;
}

interface JobView extends SubmitResponse {
  readonly idempotency_key: string | null;
}

interface TimelineEvent {
  readonly type: string;
  readonly job_id: string | null;
  readonly data: unknown;
}

interface Verification {
  readonly ok: boolean;
  readonly count: number;
  readonly first_bad_seq: number | null;
  readonly reason: string;
}

/** What a 2xx told us about one job. */
interface Acked {
  readonly job_id: string;
  readonly trace_id: string;
  readonly job_hash: string;
  readonly decision: Decision;
  readonly idempotency_key: string | null;
  readonly round: number;
  /** The furthest state any acknowledgement reported (a cancel, a replay). */
  state: JobState;
}

interface JobBody {
  topic: string;
  agent_id?: string;
  risk_tags?: string[];
  labels?: Record<string, string>;
  payload?: unknown;
  idempotency_key?: string;
  trace_id?: string;
}

function hex(random: () => number, length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(random() * 16).toString(16);
  return out;
}

/**
 * A realistic job for the seed policy. `variant` picks the kind: read (allow), production write
 * (require approval), medium-risk exec (allow with constraints), destructive (deny), or a topic
 * no rule matches (default decision).
 */
function jobBody(variant: number, n: number): JobBody {
  const agent = `agent-${String(n % 5)}`;
  switch (variant % 5) {
    case 0:
      return {
        topic: `job.mcp-bridge.read.${['get_ticket', 'search_docs', 'list_files'][n % 3] ?? ''}`,
        agent_id: agent,
        labels: { 'mcp.action': 'read', 'mcp.server': 'mcp-bridge' },
        payload: { ticket_id: `T-${String(1000 + n)}`, fields: ['status', 'owner'] },
      };
    case 1:
      return {
        topic: 'job.mcp-bridge.write.update_ticket',
        agent_id: agent,
        risk_tags: ['prod'],
        labels: { 'mcp.action': 'write', 'mcp.server': 'mcp-bridge' },
        payload: { ticket_id: `T-${String(1000 + n)}`, set: { status: 'closed', note: `n=${n}` } },
      };
    case 2:
      return {
        topic: 'job.agent.exec.run_tests',
        agent_id: agent,
        risk_tags: ['medium'],
        payload: { cmd: ['npm', 'test'], cwd: `/srv/repo-${String(n % 7)}`, seq: n },
      };
    case 3:
      return {
        topic: 'job.agent.exec.drop_table',
        agent_id: agent,
        risk_tags: ['destructive', 'prod'],
        payload: { sql: `DROP TABLE orders_${String(n)}` },
      };
    default:
      return {
        topic: 'job.billing.refund',
        agent_id: agent,
        labels: { currency: 'EUR' },
        payload: { order: `O-${String(n)}`, amount_cents: 100 + n },
      };
  }
}

class Ledger {
  readonly jobs = new Map<string, Acked>();
  /** Idempotency key → the job it names, once any response told us. */
  readonly keys = new Map<string, string>();
  readonly problems: string[] = [];

  /** Records one 2xx submit; replays must name the same job with the same hash. */
  ack(body: SubmitResponse, key: string | null, status: number, round: number): Acked {
    if (key !== null) {
      const known = this.keys.get(key);
      if (known === undefined) this.keys.set(key, body.job_id);
      else if (known !== body.job_id)
        this.problems.push(`key ${key} named ${known}, now ${body.job_id} (status ${status})`);
      else if (status !== 200)
        this.problems.push(`replay of key ${key} answered ${status}, expected 200`);
    }
    const existing = this.jobs.get(body.job_id);
    if (existing === undefined) {
      const acked: Acked = {
        job_id: body.job_id,
        trace_id: body.trace_id,
        job_hash: body.job_hash,
        decision: body.decision,
        idempotency_key: key,
        round,
        state: body.state,
      };
      this.jobs.set(body.job_id, acked);
      return acked;
    }
    if (existing.job_hash !== body.job_hash || existing.trace_id !== body.trace_id)
      this.problems.push(`job ${body.job_id} answered with a different hash or trace`);
    this.advance(existing, body.state);
    return existing;
  }

  /** Moves the acknowledged state forward; an acknowledgement may arrive out of order. */
  advance(acked: Acked, state: JobState): void {
    if (reachable(acked.state, state)) acked.state = state;
    else if (!reachable(state, acked.state))
      this.problems.push(`job ${acked.job_id}: ${acked.state} and ${state} are both acknowledged`);
  }
}

/** True when `to` is `from` or can follow it through legal transitions. */
function reachable(from: JobState, to: JobState): boolean {
  const seen = new Set<JobState>([from]);
  const queue: JobState[] = [from];
  for (let state = queue.shift(); state !== undefined; state = queue.shift()) {
    if (state === to) return true;
    for (const next of nextStates(state)) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return false;
}

async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: res.status, body: await res.json() };
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function eachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) {
      const item = items[i];
      if (item !== undefined) await work(item);
    }
  });
  await Promise.all(runners);
}

interface RoundLoad {
  acked: number;
  cancelled: number;
  /** Requests sent and not yet answered when the kill was sent. */
  inFlightAtKill: number;
  /** Requests that failed because the process died under them. */
  cutOff: number;
  loadMs: number;
}

/** Submits until the gateway is killed; returns once every loop has stopped. */
async function loadAndKill(
  gateway: GatewayProcess,
  ledger: Ledger,
  round: number,
  random: () => number,
): Promise<RoundLoad> {
  const base = `${gateway.address}/api/v1`;
  const load: RoundLoad = { acked: 0, cancelled: 0, inFlightAtKill: 0, cutOff: 0, loadMs: 0 };
  let pending = 0;
  const send = async (
    url: string,
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<Response> => {
    pending += 1;
    try {
      return await postJson(url, body, headers);
    } finally {
      pending -= 1;
    }
  };
  let killing = false;
  const failed = (what: string, error: unknown): void => {
    if (killing) load.cutOff += 1;
    else ledger.problems.push(`round ${round}: ${what} failed before the kill: ${String(error)}`);
  };
  const refused = async (what: string, res: Response): Promise<void> => {
    ledger.problems.push(`round ${round}: ${what} answered ${res.status}: ${await res.text()}`);
  };

  const loop = async (worker: number, loopSeed: number): Promise<void> => {
    const rand = mulberry32(loopSeed);
    const sessionTrace = `r${String(round)}w${String(worker)}-${hex(rand, 12)}`;
    for (let i = 0; !killing; i++) {
      const n = round * 100_000 + worker * 1000 + i;
      const roll = rand();
      let body: JobBody;
      let key: string | null = null;
      if (roll < 0.1) {
        // A shared key: content is a function of the key alone, so every replay is legitimate.
        const k = Math.floor(rand() * POOL_KEYS);
        key = `pool-${String(k)}`;
        body = { ...jobBody(k, k), idempotency_key: key };
      } else {
        body = jobBody(Math.floor(rand() * 5), n);
        if (roll < 0.3) {
          key = `once-r${String(round)}-w${String(worker)}-${String(i)}`;
          body.idempotency_key = key;
        }
      }
      const headers: Record<string, string> = {};
      const traceRoll = rand();
      // Most jobs belong to the loop's session trace; the rest bring a traceparent or get one.
      if (traceRoll < 0.6) body.trace_id = sessionTrace;
      else if (traceRoll < 0.8) headers['traceparent'] = `00-${hex(rand, 32)}-${hex(rand, 16)}-01`;

      let acked: Acked;
      try {
        const res = await send(`${base}/jobs`, body, headers);
        if (res.status !== 200 && res.status !== 201) {
          await refused('submit', res);
          return;
        }
        const before = ledger.jobs.size;
        acked = ledger.ack((await res.json()) as SubmitResponse, key, res.status, round);
        if (ledger.jobs.size > before) load.acked += 1;
      } catch (error) {
        failed('submit', error);
        return;
      }

      // Cancel some fresh jobs right away: their CANCELLED state must survive the kill too.
      const cancellable = acked.state === 'APPROVAL_REQUIRED' || acked.state === 'QUEUED';
      if (cancellable && !key?.startsWith('pool-') && rand() < 0.15) {
        try {
          const res = await send(`${base}/jobs/${acked.job_id}/cancel`, {});
          if (res.status !== 200) {
            await refused('cancel', res);
            return;
          }
          const view = (await res.json()) as JobView;
          if (view.state !== 'CANCELLED') ledger.problems.push(`cancel left ${view.state}`);
          ledger.advance(acked, view.state);
          load.cancelled += 1;
        } catch (error) {
          failed('cancel', error);
          return;
        }
      }
    }
  };

  const started = Date.now();
  const loops = Promise.all(
    Array.from({ length: LOOPS }, (_, w) => loop(w, Math.floor(random() * 2 ** 32))),
  );
  const warmupDeadline = Date.now() + 10_000;
  while (load.acked < WARMUP_ACKS && Date.now() < warmupDeadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  // Kill after a random 150–600 ms of load, earlier if the round already has its fill of jobs
  // (every restart re-reads every job acknowledged so far, so this bounds the runtime).
  const killAt = Date.now() + 150 + Math.floor(random() * 450);
  while (Date.now() < killAt && load.acked < MAX_ACKS_PER_ROUND) {
    await new Promise((r) => setTimeout(r, 2));
  }
  killing = true;
  load.inFlightAtKill = pending;
  const exit = await stopGateway(gateway, 'SIGKILL');
  load.loadMs = Date.now() - started;
  await loops;
  assert.equal(exit.signal, 'SIGKILL', 'the gateway died of the kill, not of something else');
  return load;
}

interface Check {
  jobs: number;
  traces: number;
  replays: number;
  auditCount: number;
}

/** After a restart: every acknowledged job, its trace, its key, and the whole chain. */
async function verifyAcknowledged(
  gateway: GatewayProcess,
  ledger: Ledger,
  previousAuditCount: number,
): Promise<Check> {
  const base = `${gateway.address}/api/v1`;
  const jobs = [...ledger.jobs.values()];

  await eachConcurrently(jobs, VERIFY_CONCURRENCY, async (acked) => {
    const read = await getJson(`${base}/jobs/${acked.job_id}`);
    const { status } = read;
    const body = read.body as JobView;
    assert.equal(status, 200, `acknowledged job ${acked.job_id} (round ${acked.round}) is missing`);
    assert.equal(body.job_hash, acked.job_hash, `job_hash of ${acked.job_id}`);
    assert.equal(body.trace_id, acked.trace_id, `trace_id of ${acked.job_id}`);
    assert.equal(body.idempotency_key, acked.idempotency_key, `key of ${acked.job_id}`);
    assert.deepEqual(body.decision, acked.decision, `decision of ${acked.job_id}`);
    assert.ok(
      reachable(acked.state, body.state),
      `job ${acked.job_id} was acknowledged ${acked.state} but is now ${body.state}`,
    );
  });

  const byTrace = new Map<string, Acked[]>();
  for (const acked of jobs) {
    const members = byTrace.get(acked.trace_id);
    if (members === undefined) byTrace.set(acked.trace_id, [acked]);
    else members.push(acked);
  }
  await eachConcurrently([...byTrace], VERIFY_CONCURRENCY, async ([traceId, members]) => {
    const read = await getJson(`${base}/traces/${encodeURIComponent(traceId)}`);
    assert.equal(read.status, 200, `trace ${traceId} is missing`);
    const body = read.body as { events: TimelineEvent[] };
    const decided = new Map(
      body.events.filter((e) => e.type === 'job.decided').map((e) => [e.job_id, e.data]),
    );
    for (const acked of members) {
      const data = decided.get(acked.job_id);
      assert.ok(data !== undefined, `trace ${traceId} lacks job.decided for ${acked.job_id}`);
      assert.deepEqual(
        (data as { decision?: unknown }).decision,
        acked.decision,
        `decision event of ${acked.job_id}`,
      );
      assert.equal((data as { job_hash?: unknown }).job_hash, acked.job_hash);
    }
  });

  // Every shared key replays to the job it named before the restart.
  const pooled = jobs.filter((j) => j.idempotency_key?.startsWith('pool-') === true);
  await eachConcurrently(pooled, VERIFY_CONCURRENCY, async (acked) => {
    const key = acked.idempotency_key ?? '';
    const k = Number(key.slice('pool-'.length));
    const res = await postJson(`${base}/jobs`, { ...jobBody(k, k), idempotency_key: key });
    assert.equal(res.status, 200, `replay of ${key}`);
    const body = (await res.json()) as SubmitResponse;
    assert.equal(body.job_id, acked.job_id, `replay of ${key} names another job`);
    assert.equal(body.job_hash, acked.job_hash, `replay of ${key}`);
  });
  // A sample of one-off keys: reusing one for other content is refused, so the key survived.
  const unique = jobs.filter((j) => j.idempotency_key?.startsWith('once-') === true);
  const sample = unique.filter((_, i) => i % 5 === 0);
  await eachConcurrently(sample, VERIFY_CONCURRENCY, async (acked) => {
    const res = await postJson(`${base}/jobs`, {
      topic: 'job.mcp-bridge.read.conflict_probe',
      idempotency_key: acked.idempotency_key,
    });
    assert.equal(res.status, 409, `key ${String(acked.idempotency_key)} was forgotten`);
  });

  const { status, body } = await getJson(`${base}/audit/verify`);
  const verification = body as Verification;
  assert.equal(status, 200);
  assert.deepEqual(
    { ok: verification.ok, first_bad_seq: verification.first_bad_seq },
    { ok: true, first_bad_seq: null },
    `audit chain: ${verification.reason}`,
  );
  assert.ok(
    verification.count >= previousAuditCount,
    `audit chain shrank from ${previousAuditCount} to ${verification.count}`,
  );
  // submitted + decided + state_changed per job, one more per acknowledged cancel.
  const cancels = jobs.filter((j) => j.state === 'CANCELLED').length;
  assert.ok(verification.count >= jobs.length * 2 + cancels, 'audit events are missing');
  return {
    jobs: jobs.length,
    traces: byTrace.size,
    replays: pooled.length + sample.length,
    auditCount: verification.count,
  };
}

describe('reliability: SIGKILL under load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-kill-'));
  after(() => {
    killLeftoverGateways();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'loses no acknowledged job and keeps the audit chain verifiable',
    { timeout: 90_000 },
    async (t) => {
      const seed = Number(process.env['WARDEN_KILL_SEED'] ?? Date.now() % 1_000_000);
      t.diagnostic(`seed ${seed} (rerun with WARDEN_KILL_SEED=${seed})`);
      const random = mulberry32(seed);
      const dbPath = join(dir, 'warden.db');
      const ledger = new Ledger();
      let auditCount = 0;

      for (let round = 1; round <= ROUNDS; round++) {
        const startedAt = Date.now();
        const gateway = await startGateway(dbPath);
        const listeningAt = Date.now();
        if (ledger.jobs.size > 0) {
          const check = await verifyAcknowledged(gateway, ledger, auditCount);
          auditCount = check.auditCount;
          t.diagnostic(
            `restart ${round - 1}: listening after ${listeningAt - startedAt} ms; verified ${check.jobs} jobs in ${check.traces} traces, ${check.replays} key probes, ${check.auditCount} audit events in ${Date.now() - listeningAt} ms`,
          );
        }
        const load = await loadAndKill(gateway, ledger, round, random);
        t.diagnostic(
          `round ${round}: ${load.acked} jobs acknowledged (${load.cancelled} cancelled) in ${load.loadMs} ms; SIGKILL with ${load.inFlightAtKill} requests in flight, ${load.cutOff} cut off`,
        );
        assert.deepEqual(ledger.problems, [], gateway.stderr());
        assert.ok(
          load.acked >= MIN_ACKS_PER_ROUND,
          `round ${round}: only ${load.acked} jobs acknowledged; the load did not run`,
        );
        assert.ok(load.inFlightAtKill > 0, `round ${round}: no request was in flight at the kill`);
      }

      // With no server running, the CLI reads the file (and its un-checkpointed WAL) directly.
      const cli = warden('audit', 'verify', '--db', `sqlite:${dbPath}`);
      assert.equal(cli.code, 0, cli.stdout + cli.stderr);
      const cliCount = Number(
        /^OK: (\d+) events, \d+ signed checkpoints, chain intact$/m.exec(cli.stdout)?.[1],
      );
      assert.ok(cliCount >= auditCount, cli.stdout);

      // The final restart: everything acknowledged in every round is still there.
      const gateway = await startGateway(dbPath);
      const check = await verifyAcknowledged(gateway, ledger, cliCount);
      // The chain the CLI verified, intact (checked in verifyAcknowledged), and possibly longer:
      // at start the gateway dispatches cleared jobs the kill left in the outbox.
      assert.ok(
        check.auditCount >= cliCount,
        `the restarted gateway sees ${check.auditCount} events, fewer than the CLI verified (${cliCount})`,
      );
      t.diagnostic(
        `final restart: verified ${check.jobs} jobs in ${check.traces} traces, ${check.auditCount} audit events`,
      );
      const rounds = new Set([...ledger.jobs.values()].map((j) => j.round));
      assert.equal(rounds.size, ROUNDS);
      const types = new Set([...ledger.jobs.values()].map((j) => j.decision.type));
      for (const type of ['ALLOW', 'ALLOW_WITH_CONSTRAINTS', 'DENY', 'REQUIRE_APPROVAL'])
        assert.ok(types.has(type), `no ${type} decision was acknowledged`);
      const stopped = await stopGateway(gateway, 'SIGTERM');
      assert.equal(stopped.code, 0, gateway.stderr());
    },
  );
});
