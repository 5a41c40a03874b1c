/**
 * End-to-end benchmark (§7): jobs per second from submit to SUCCEEDED, through the real gateway
 * (`warden serve --dev`, SQLite, audit on) and a real worker (the `warden/worker` SDK in this
 * process, leasing over HTTP), once with the in-process dispatcher and once with NATS JetStream
 * (the local server, a stream of the run's own, deleted afterwards).
 *
 * Closed loop: SUBMITTERS concurrent clients each submit a job the seed policy allows
 * (`job.mcp-bridge.read.list_tickets`), and the worker (WORKER_CONCURRENCY lease loops) runs a
 * trivial handler and reports a small output, which passes output safety. A job counts when its
 * result was accepted with the job SUCCEEDED. The run aborts when a submit is not cleared, a
 * report fails, or nothing completes.
 *
 * Run alone with `npx tsx bench/end-to-end.ts [--duration 8] [--warmup 2]`, or as
 * `npm run bench -- end-to-end`.
 */
import './v8-flags.js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { createWorker } from '../src/sdk/worker.js';
import { seconds, startServer } from './decision-path.js';
import { isMain } from './entry.js';
import { machine } from './machine.js';

const SUBMITTERS = 16;
const WORKER_CONCURRENCY = 16;
const TOPIC = 'job.mcp-bridge.read.list_tickets';
const NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_DURATION_SEC = 8;
export const DEFAULT_WARMUP_SEC = 2;

export interface EndToEndRow {
  readonly bus: 'memory' | 'nats';
  readonly jobsPerSec: number;
  readonly completed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface EndToEndResult {
  readonly rows: readonly EndToEndRow[];
  readonly durationSec: number;
  readonly warmupSec: number;
}

function writeBenchConfig(dir: string): string {
  const path = join(dir, 'warden.yaml');
  writeFileSync(path, 'rate_limit: off\n');
  return path;
}

async function measureBus(
  bus: 'memory' | 'nats',
  durationSec: number,
  warmupSec: number,
): Promise<EndToEndRow> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-e2e-'));
  const stream = `WARDEN_BENCH_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const busArg =
    bus === 'memory' ? 'memory' : `${NATS_URL}?stream=${stream}&prefix=bench.${stream}`;
  const server = await startServer(`gateway (${bus})`, [
    'src/cli/main.ts',
    'serve',
    '--dev',
    '--policy',
    'examples/policies/seed.yaml',
    '--port',
    '0',
    '--db',
    `sqlite:${join(dir, 'warden.db')}`,
    '--bus',
    busArg,
    // One client drives hundreds of jobs a second as the one dev key: no per-key rate limit.
    '--config',
    writeBenchConfig(dir),
    '--log-level',
    'warn',
  ]);
  const submittedAt = new Map<string, number>();
  const latencies: number[] = [];
  let measuring = false;
  let completed = 0;
  // Set from callbacks; read through the object so the checks below see the latest value.
  const state = { failure: null as Error | null, running: true };
  const live = (): boolean => state.running && state.failure === null;
  const worker = createWorker({
    url: server.url,
    topics: ['job.mcp-bridge.read.**'],
    concurrency: WORKER_CONCURRENCY,
    waitSec: 1,
    handler: ({ payload }) => Promise.resolve({ ok: true, echo: payload }),
    onJobEnd: (end) => {
      if (end.outcome !== 'succeeded') {
        state.failure ??= new Error(`a job ended ${end.outcome}`);
        return;
      }
      const at = submittedAt.get(end.job.job_id);
      submittedAt.delete(end.job.job_id);
      if (!measuring) return;
      completed++;
      if (at !== undefined) latencies.push(performance.now() - at);
    },
  });
  worker.start();
  const submitter = async (): Promise<void> => {
    while (live()) {
      const started = performance.now();
      const response = await fetch(`${server.url}/api/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ topic: TOPIC, payload: { page: 1 } }),
      });
      const body = (await response.json()) as { job_id?: string; state?: string };
      if (response.status !== 201 || body.state !== 'QUEUED' || body.job_id === undefined) {
        state.failure ??= new Error(
          `submit answered ${String(response.status)} ${JSON.stringify(body)}`,
        );
        return;
      }
      submittedAt.set(body.job_id, started);
      // Closed loop: wait until this job is done before the next, bounding jobs in flight.
      while (submittedAt.has(body.job_id) && live()) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
  };
  const loops = Array.from({ length: SUBMITTERS }, () => submitter());
  try {
    await new Promise((resolve) => setTimeout(resolve, warmupSec * 1000));
    measuring = true;
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, durationSec * 1000));
    measuring = false;
    const seconds = (performance.now() - start) / 1000;
    state.running = false;
    await Promise.all(loops);
    if (state.failure !== null) throw state.failure;
    if (completed === 0) throw new Error(`no job completed on the ${bus} bus`);
    latencies.sort((a, b) => a - b);
    const pick = (p: number): number =>
      latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? NaN;
    return { bus, jobsPerSec: completed / seconds, completed, p50Ms: pick(50), p99Ms: pick(99) };
  } finally {
    state.running = false;
    await worker.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    if (bus === 'nats') {
      const nc = await connect({ servers: NATS_URL });
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
      await nc.close();
    }
  }
}

export async function run(
  options: { readonly durationSec?: number; readonly warmupSec?: number } = {},
): Promise<EndToEndResult> {
  const durationSec = options.durationSec ?? DEFAULT_DURATION_SEC;
  const warmupSec = options.warmupSec ?? DEFAULT_WARMUP_SEC;
  const rows = [
    await measureBus('memory', durationSec, warmupSec),
    await measureBus('nats', durationSec, warmupSec),
  ];
  return { rows, durationSec, warmupSec };
}

export function report(result: EndToEndResult): string {
  const lines = [
    machine(),
    `End to end, submit → SUCCEEDED: warden serve --dev (seed policy, SQLite, audit on) in a child ` +
      `process; ${String(SUBMITTERS)} closed-loop submitters and an SDK worker with ` +
      `${String(WORKER_CONCURRENCY)} lease loops in the bench process; ${String(result.warmupSec)} s ` +
      `warm-up, ${String(result.durationSec)} s measured`,
    '',
    '| dispatcher       |  jobs/s | completed | p50 ms | p99 ms |',
    '|:-----------------|--------:|----------:|-------:|-------:|',
    ...result.rows.map(
      (row) =>
        `| ${(row.bus === 'memory' ? 'in-process queue' : 'NATS JetStream').padEnd(16)} | ` +
        `${row.jobsPerSec.toFixed(0).padStart(7)} | ${String(row.completed).padStart(9)} | ` +
        `${row.p50Ms.toFixed(2).padStart(6)} | ${row.p99Ms.toFixed(2).padStart(6)} |`,
    ),
  ];
  return lines.join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: { duration: { type: 'string' }, warmup: { type: 'string' } },
  });
  const result = await run({
    durationSec: seconds(values.duration, '--duration', DEFAULT_DURATION_SEC),
    warmupSec: seconds(values.warmup, '--warmup', DEFAULT_WARMUP_SEC),
  });
  console.log(report(result));
}
