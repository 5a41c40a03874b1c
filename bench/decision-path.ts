/**
 * Decision-path benchmark (SPEC §18): the gateway's durable decision path over HTTP against a bare
 * Fastify JSON echo on the same machine, with the same load generator, in the same run. Target:
 * gateway throughput ≥ 50% of the echo's.
 *
 * Each server runs in its own child process (so it never shares an event loop with the load
 * generator), one after the other, never at the same time:
 *   1. the echo (bench/echo-server.ts): Fastify, one route answering with the parsed body;
 *   2. the gateway, `warden serve --dev` on a fresh SQLite database (WAL, `synchronous=NORMAL`,
 *      the default) with the seed policy: every request is decided, and the job row, its
 *      approval and its three audit events are committed before the response;
 *   3. the same gateway with `--synchronous FULL` (figure only; the target is on the default).
 * Each gets the same autocannon load from this process: POST /api/v1/jobs with one realistic job,
 * 50 connections, pipelining 1, a warm-up, then the measured run.
 *
 * Not a test: it measures and reports. It aborts when the comparison would mean nothing: a sample
 * response is not what the server should answer, any request fails or gets a non-2xx answer, or,
 * after the gateway stopped, its database does not hold every acknowledged job with its audit
 * events or `warden audit verify` finds the hash chain broken.
 *
 * Run alone with `npx tsx bench/decision-path.ts [--duration 10] [--warmup 3] [--cpu-prof DIR]`,
 * or with every benchmark via `npm run bench` (`npm run bench -- decision-path` for this one).
 */
// Must stay the first import: works around a V8 crash (see v8-flags.ts); autocannon's
// histograms run in Wasm.
import './v8-flags.js';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { isMain } from './entry.js';
import { machine } from './machine.js';

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

const CONNECTIONS = 50;
const PIPELINING = 1;
export const DEFAULT_DURATION_SEC = 10;
export const DEFAULT_WARMUP_SEC = 3;
/** SPEC §18: gateway throughput at least this fraction of the bare echo's. */
const TARGET_RATIO = 0.5;
/** How long a child may take to print its listening line (tsx compiles src/ on first start). */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const POLICY = 'examples/policies/seed.yaml';
const PATH = '/api/v1/jobs';

/**
 * One realistic job: a support agent closing a production ticket through the MCP bridge, with the
 * tool arguments as payload. Under the seed policy it matches `require-approval-prod-write` (a
 * rule hit through the topic index and a risk-tag check, not the default deny), so the gateway
 * evaluates the policy, records the job as APPROVAL_REQUIRED with its decision and its approval
 * record, and seals three audit events (job.decided, job.state_changed, approval.requested) onto
 * the hash chain, all in one committed transaction before it answers 201. No idempotency key: every request is a new job.
 */
export const JOB = {
  topic: 'job.mcp-bridge.write.update_ticket',
  tenant_id: 'acme',
  agent_id: 'support-bot',
  risk_tags: ['prod'],
  labels: { 'mcp.action': 'write', 'mcp.server': 'helpdesk', env: 'production' },
  payload: {
    ticket: 'T-123',
    status: 'resolved',
    assignee: 'support-bot',
    comment:
      'Customer confirmed the export works again after the cache was cleared. ' +
      'Closing; reopen if the nightly sync fails again.',
    tags: ['billing', 'export'],
  },
} as const;
const BODY = JSON.stringify(JOB);
const EXPECTED = {
  status: 201,
  decision: 'REQUIRE_APPROVAL',
  rule: 'require-approval-prod-write',
  state: 'APPROVAL_REQUIRED',
  /** Audit events per submitted job. */
  events: 3,
} as const;

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

export interface Server {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly pid: number;
  /** Stops the child (SIGTERM, SIGKILL after a timeout) and resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `node --import tsx <args>` in the repository root and resolves once it prints a line
 * containing `listening on http://…` on stdout.
 */
export function startServer(name: string, nodeArgs: readonly string[]): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<string>((done) =>
    child.once('exit', (code, signal) => {
      done(String(code ?? signal));
    }),
  );
  return new Promise<Server>((ready, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms:\n${stderr}`));
    }, START_TIMEOUT_MS);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      fail(new Error(`${name} exited (${String(code ?? signal)}) before listening:\n${stderr}`));
    };
    child.once('exit', onExit);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on (http:\/\/[^\s]+)/.exec(stdout);
      const url = match?.[1];
      if (url === undefined || child.pid === undefined) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      stdout = '';
      ready({ url, pid: child.pid, stop: () => stopChild(name, child, exited, () => stderr) });
    });
  });
}

/** SIGTERM, then SIGKILL after a timeout; throws unless the child exited cleanly with 0. */
async function stopChild(
  name: string,
  child: ChildProcess,
  exited: Promise<string>,
  stderr: () => string,
): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const status = await Promise.race([
    exited,
    new Promise<null>((done) => {
      timer = setTimeout(() => {
        done(null);
      }, STOP_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (status === null) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${name} did not stop within ${STOP_TIMEOUT_MS} ms:\n${stderr()}`);
  }
  if (status !== '0') throw new Error(`${name} exited with ${status}:\n${stderr()}`);
}

/** User + system CPU time of a process in ms, from /proc (Linux); null elsewhere. */
const CLOCK_TICKS = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3; utime and stime
    // are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

interface Load {
  /** 2xx responses. */
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly seconds: number;
  /** Per-response latency of the 2xx responses, ms, ascending. */
  readonly latencies: Float64Array;
  /** CPU used meanwhile, ms: by the server child (null if unknown) and by this process. */
  readonly serverCpuMs: number | null;
  readonly loadgenCpuMs: number;
}

/**
 * One autocannon run against `url`. Latencies are taken from autocannon's per-response event
 * (hrtime, sub-ms) rather than its histogram, which keeps whole milliseconds only.
 */
function drive(url: string, seconds: number, serverPid: number): Promise<Load> {
  return new Promise<Load>((done, fail) => {
    const latencies: number[] = [];
    let ok = 0;
    const cpu0 = processCpuMs(serverPid);
    const own0 = process.cpuUsage();
    const instance = autocannon(
      {
        url: `${url}${PATH}`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: BODY,
        connections: CONNECTIONS,
        pipelining: PIPELINING,
        duration: seconds,
      },
      (error: unknown, result: autocannon.Result) => {
        if (error !== null && error !== undefined) {
          fail(error instanceof Error ? error : new Error(JSON.stringify(error)));
          return;
        }
        const cpu1 = processCpuMs(serverPid);
        const own = process.cpuUsage(own0);
        done({
          ok,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          seconds: result.duration,
          latencies: Float64Array.from(latencies).sort(),
          serverCpuMs: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0,
          loadgenCpuMs: (own.user + own.system) / 1000,
        });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) {
        ok++;
        latencies.push(ms);
      }
    });
  });
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

async function post(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}${PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
  });
  const body: unknown = await response.json();
  return { status: response.status, body };
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------

export type Synchronous = 'NORMAL' | 'FULL';

/** The baseline, the reference point (the echo plus one durable row) and the gateway. */
export type ServerKind = 'echo' | 'durable-echo' | 'gateway';

export interface DecisionPathRow {
  readonly server: ServerKind;
  /** The gateway's SQLite `synchronous`; null for the echoes. */
  readonly synchronous: Synchronous | null;
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** 2xx responses in the measured run. */
  readonly responses: number;
  /** Server CPU time per response (µs) and as a share of one core; null if unknown. */
  readonly serverCpuUsPerReq: number | null;
  readonly serverCpuPercent: number | null;
  /** The load generator's (this process's) CPU as a share of one core. */
  readonly loadgenCpuPercent: number;
  /** 1-minute load average just before the warm-up. */
  readonly loadAverage: number;
}

export interface DecisionPathResult {
  readonly rows: readonly DecisionPathRow[];
  readonly durationSec: number;
  readonly warmupSec: number;
}

export interface RunOptions {
  /** Measured seconds per server (default 10). */
  readonly durationSec?: number;
  /** Warm-up seconds per server, same load, not measured (default 3). */
  readonly warmupSec?: number;
  /** Write a V8 CPU profile of each gateway child into this directory (`--cpu-prof`). */
  readonly cpuProfileDir?: string;
  /** Progress lines; defaults to stderr. */
  readonly log?: (line: string) => void;
}

interface Target {
  readonly name: string;
  readonly kind: ServerKind;
  readonly synchronous: Synchronous | null;
  readonly args: (dir: string) => readonly string[];
  /** Checks the answer to one request before timing; throws if it is not the expected one. */
  readonly check: (answer: { status: number; body: unknown }) => void;
}

function checkEcho({ status, body }: { status: number; body: unknown }): void {
  if (status !== 200 || JSON.stringify(body) !== BODY) {
    throw new Error(`echo answered ${status} ${JSON.stringify(body)}`);
  }
}

/** The durable echo's database file, in the run's temporary directory. */
const DURABLE_ECHO_DB = 'durable-echo.db';

function checkDurableEcho({ status, body }: { status: number; body: unknown }): void {
  if (status !== 201 || typeof field(body, 'id') !== 'number') {
    throw new Error(`durable echo answered ${status} ${JSON.stringify(body)}`);
  }
}

/** The durable echo's table holds at least one row per acknowledged request. */
function checkDurableRows(dir: string, acknowledged: number): number {
  const db = new Database(join(dir, DURABLE_ECHO_DB), { readonly: true });
  try {
    const rows = (db.prepare('SELECT count(*) AS n FROM bodies').get() as { n: number }).n;
    if (rows < acknowledged) {
      throw new Error(
        `durable echo stored ${rows} rows after ${acknowledged} acknowledged requests`,
      );
    }
    return rows;
  } finally {
    db.close();
  }
}

function checkGateway({ status, body }: { status: number; body: unknown }): void {
  const decision = field(body, 'decision');
  if (
    status !== EXPECTED.status ||
    field(decision, 'type') !== EXPECTED.decision ||
    field(decision, 'rule_id') !== EXPECTED.rule ||
    field(body, 'state') !== EXPECTED.state
  ) {
    throw new Error(
      `gateway answered ${status} ${JSON.stringify(body)}; expected ${EXPECTED.status} with ` +
        `${EXPECTED.decision} by ${EXPECTED.rule}`,
    );
  }
}

/**
 * The gateway's config file: the per-tenant approval queue bound (10,000 by default) lifted above
 * what a run can submit, so every measured request takes the same path (an approval is queued)
 * instead of turning into a cheaper `approval queue full` denial once the bound is reached.
 */
// The load generator is one client, the dev key: no per-key rate limit.
const GATEWAY_CONFIG = 'approvals:\n  max_pending_per_tenant: 100000000\nrate_limit: off\n';

function gatewayArgs(synchronous: Synchronous | null, profileDir: string | undefined) {
  return (dir: string): readonly string[] => [
    ...(profileDir === undefined
      ? []
      : [
          '--cpu-prof',
          '--cpu-prof-dir',
          profileDir,
          `--cpu-prof-name=gateway-${synchronous ?? 'NORMAL'}.cpuprofile`,
        ]),
    'src/cli/main.ts',
    'serve',
    '--dev',
    '--policy',
    POLICY,
    '--port',
    '0',
    '--db',
    `sqlite:${join(dir, 'warden.db')}`,
    '--config',
    writeConfig(dir),
    // Request logs (info) off, as the echo server has none; warnings and errors stay on.
    '--log-level',
    'warn',
    ...(synchronous === null ? [] : ['--synchronous', synchronous]),
  ];
}

function writeConfig(dir: string): string {
  const path = join(dir, 'warden.yaml');
  writeFileSync(path, GATEWAY_CONFIG);
  return path;
}

/** The gateway's database after it stopped: every acknowledged job and its events are there. */
function checkDatabase(dir: string, acknowledged: number): { jobs: number; events: number } {
  const db = new Database(join(dir, 'warden.db'), { readonly: true });
  try {
    const count = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
    const jobs = count('SELECT count(*) AS n FROM jobs');
    // Job events only: the gateway also records events of its own (e.g. policy.activated at start).
    const events = count('SELECT count(*) AS n FROM audit WHERE job_id IS NOT NULL');
    // Requests cut off when the load stopped may have committed without their answer arriving.
    if (jobs < acknowledged || events !== jobs * EXPECTED.events) {
      // Name a few jobs that break the rule, with their events, so the failure can be traced.
      const odd = db
        .prepare(
          `SELECT j.job_id, j.state, group_concat(a.type) AS types FROM jobs j
            LEFT JOIN audit a USING (job_id) GROUP BY j.job_id HAVING count(a.seq) != ? LIMIT 5`,
        )
        .all(EXPECTED.events);
      throw new Error(
        `gateway database holds ${jobs} jobs and ${events} audit events after ${acknowledged} ` +
          `acknowledged submissions (expected at least that many jobs, ${EXPECTED.events} events ` +
          `each); jobs with another count: ${JSON.stringify(odd)}`,
      );
    }
    return { jobs, events };
  } finally {
    db.close();
  }
}

/** `warden audit verify` on the gateway's database: the hash chain over every event is intact. */
function verifyAuditChain(dir: string): string {
  try {
    return execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'audit',
        'verify',
        '--db',
        `sqlite:${join(dir, 'warden.db')}`,
      ],
      { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    ).trim();
  } catch (error) {
    const out = (error as { stdout?: unknown }).stdout;
    throw new Error(
      `audit verify failed after the run: ${typeof out === 'string' ? out : String(error)}`,
    );
  }
}

async function measure(
  target: Target,
  options: Required<Omit<RunOptions, 'cpuProfileDir'>>,
): Promise<DecisionPathRow> {
  const { log } = options;
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  try {
    const server = await startServer(target.name, target.args(dir));
    let warm: Load;
    let load: Load;
    try {
      target.check(await post(server.url));
      const loadAverage = loadavg()[0] ?? Number.NaN;
      warm = await drive(server.url, options.warmupSec, server.pid);
      failOnErrors(target.name, 'warm-up', warm);
      load = await drive(server.url, options.durationSec, server.pid);
      failOnErrors(target.name, 'measured run', load);
      if (load.ok === 0) throw new Error(`${target.name}: no responses in the measured run`);
      await server.stop();
      let stored = '';
      if (target.kind === 'durable-echo') {
        stored = `; table holds ${checkDurableRows(dir, 1 + warm.ok + load.ok)} rows`;
      }
      if (target.kind === 'gateway') {
        const { jobs, events } = checkDatabase(dir, 1 + warm.ok + load.ok);
        stored = `; store holds ${jobs} jobs, ${events} job audit events; audit verify: ${verifyAuditChain(dir)}`;
      }
      const row: DecisionPathRow = {
        server: target.kind,
        synchronous: target.synchronous,
        reqPerSec: load.ok / load.seconds,
        p50Ms: percentile(load.latencies, 50),
        p99Ms: percentile(load.latencies, 99),
        responses: load.ok,
        serverCpuUsPerReq: load.serverCpuMs === null ? null : (load.serverCpuMs * 1000) / load.ok,
        serverCpuPercent:
          load.serverCpuMs === null ? null : (load.serverCpuMs / (load.seconds * 1000)) * 100,
        loadgenCpuPercent: (load.loadgenCpuMs / (load.seconds * 1000)) * 100,
        loadAverage,
      };
      log(
        `decision-path: ${target.name} done (${load.ok} responses in ${load.seconds} s after ` +
          `${warm.ok} warm-up; load average ${loadAverage.toFixed(2)}${stored})`,
      );
      return row;
    } finally {
      // A no-op after the clean stop above; after a failure, best effort without hiding it.
      await server.stop().catch(() => undefined);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function failOnErrors(name: string, phase: string, load: Load): void {
  if (load.non2xx > 0 || load.errors > 0 || load.timeouts > 0) {
    throw new Error(
      `${name}, ${phase}: ${load.non2xx} non-2xx answers, ${load.errors} errors, ` +
        `${load.timeouts} timeouts: a benchmark with failed requests measures nothing`,
    );
  }
}

/** Runs echo, durable echo, gateway (NORMAL), gateway (FULL), one after the other. */
export async function run(options: RunOptions = {}): Promise<DecisionPathResult> {
  const resolved = {
    durationSec: options.durationSec ?? DEFAULT_DURATION_SEC,
    warmupSec: options.warmupSec ?? DEFAULT_WARMUP_SEC,
    log: options.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
  };
  const profileDir =
    options.cpuProfileDir === undefined ? undefined : resolve(options.cpuProfileDir);
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  const targets: Target[] = [
    {
      name: 'echo',
      kind: 'echo',
      synchronous: null,
      args: () => ['bench/echo-server.ts'],
      check: checkEcho,
    },
    {
      name: 'durable echo',
      kind: 'durable-echo',
      synchronous: 'NORMAL',
      args: (dir) => ['bench/durable-echo-server.ts', join(dir, DURABLE_ECHO_DB)],
      check: checkDurableEcho,
    },
    {
      name: 'gateway (synchronous=NORMAL)',
      kind: 'gateway',
      synchronous: 'NORMAL',
      // NORMAL is the default: started without --synchronous, as `warden serve` runs by default.
      args: gatewayArgs(null, profileDir),
      check: checkGateway,
    },
    {
      name: 'gateway (synchronous=FULL)',
      kind: 'gateway',
      synchronous: 'FULL',
      args: gatewayArgs('FULL', profileDir),
      check: checkGateway,
    },
  ];
  const rows: DecisionPathRow[] = [];
  for (const target of targets) rows.push(await measure(target, resolved));
  return { rows, durationSec: resolved.durationSec, warmupSec: resolved.warmupSec };
}

export interface TargetCheck {
  readonly name: string;
  readonly measured: string;
  /** null: reported, no target. */
  readonly pass: boolean | null;
}

function ratio(result: DecisionPathResult, server: ServerKind, synchronous: Synchronous): number {
  const echo = result.rows.find((r) => r.server === 'echo');
  const other = result.rows.find((r) => r.server === server && r.synchronous === synchronous);
  return echo === undefined || other === undefined ? Number.NaN : other.reqPerSec / echo.reqPerSec;
}

export function targets(result: DecisionPathResult): TargetCheck[] {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const normal = ratio(result, 'gateway', 'NORMAL');
  const full = ratio(result, 'gateway', 'FULL');
  const durable = ratio(result, 'durable-echo', 'NORMAL');
  return [
    {
      name: `gateway (synchronous=NORMAL) req/s >= ${TARGET_RATIO * 100}% of bare Fastify echo`,
      measured: pct(normal),
      pass: normal >= TARGET_RATIO,
    },
    {
      name: 'gateway (synchronous=FULL) req/s / bare Fastify echo',
      measured: pct(full),
      pass: null,
    },
    {
      name: 'durable echo (one SQLite row per request, group commit) req/s / bare Fastify echo',
      measured: pct(durable),
      pass: null,
    },
  ];
}

function table(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

function autocannonVersion(): string {
  try {
    const file = join(ROOT, 'node_modules', 'autocannon', 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function serverLabel(row: DecisionPathRow): string {
  if (row.server === 'echo') return 'fastify echo';
  if (row.server === 'durable-echo') return 'fastify echo + 1 SQLite row';
  return `gateway, synchronous=${row.synchronous ?? ''}`;
}

/** The report as Markdown-compatible text. */
export function report(result: DecisionPathResult): string {
  const echo = result.rows.find((r) => r.server === 'echo');
  const f = (n: number | null, digits: number): string => (n === null ? 'n/a' : n.toFixed(digits));
  const main = table(
    [
      'server',
      'req/s',
      'p50 ms',
      'p99 ms',
      'vs echo',
      'responses',
      'server CPU %',
      'server CPU µs/req',
      'loadgen CPU %',
    ],
    result.rows.map((r) => [
      serverLabel(r),
      f(r.reqPerSec, 0),
      f(r.p50Ms, 2),
      f(r.p99Ms, 2),
      echo === undefined ? 'n/a' : `${((r.reqPerSec / echo.reqPerSec) * 100).toFixed(1)}%`,
      String(r.responses),
      f(r.serverCpuPercent, 0),
      f(r.serverCpuUsPerReq, 1),
      f(r.loadgenCpuPercent, 0),
    ]),
  );
  const checks = targets(result).map(
    (t) =>
      `  ${t.pass === null ? 'INFO' : t.pass ? 'PASS' : 'FAIL'}  ${t.name}: measured ${t.measured}`,
  );
  return [
    `autocannon ${autocannonVersion()} in the bench process: POST ${PATH}, ${Buffer.byteLength(BODY)}-byte ` +
      `JSON job, ${CONNECTIONS} connections, pipelining ${PIPELINING}; per server ${result.warmupSec} s ` +
      `warm-up, then ${result.durationSec} s measured`,
    `Servers in child processes, one after the other: fastify echo (bench/echo-server.ts); the echo ` +
      `storing each body as one row of one SQLite table, group-committed (bench/durable-echo-server.ts); gateway ` +
      `(warden serve --dev, ${POLICY}, fresh SQLite WAL database per run, audit on; every answer ` +
      `${EXPECTED.status} ${EXPECTED.decision} by ${EXPECTED.rule})`,
    '',
    'Decision path over HTTP (req/s = 2xx answers / measured seconds; latency per request, nearest rank):',
    main,
    '',
    'Targets (SPEC §18):',
    ...checks,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

/** A positive number of seconds from a command-line value, or the default. */
export function seconds(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag} ${text}: not a duration`);
  return value;
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
  });
  process.stdout.write(`${machine()}\n\n`);
  const result = await run({
    durationSec: seconds(values.duration, '--duration', DEFAULT_DURATION_SEC),
    warmupSec: seconds(values.warmup, '--warmup', DEFAULT_WARMUP_SEC),
    ...(values['cpu-prof'] === undefined ? {} : { cpuProfileDir: values['cpu-prof'] }),
  });
  process.stdout.write(`${report(result)}\n`);
}
