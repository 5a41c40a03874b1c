/**
 * `warden worker --topics GLOB... -- CMD [ARGS...]`: a worker (§7, §16) that runs each leased job
 * as a child process, through the worker SDK and so with its argument checks (§6). The child is
 * started without a shell; it gets the payload as JSON on stdin and the job in its environment
 * (WARDEN_JOB_ID, WARDEN_TOPIC, WARDEN_ATTEMPT, WARDEN_CONSTRAINTS, WARDEN_DEADLINE). Its stdout
 * is the output (JSON when it parses, else text); a non-zero exit fails the attempt with the end
 * of its stderr. At the deadline or on cancel it gets SIGTERM, then SIGKILL after a grace period.
 */
import { spawn } from 'node:child_process';
import { createWorker } from '../sdk/worker.js';
import type { JobContext, JobEnd, Worker } from '../sdk/worker.js';
import { CliError, EXIT_FAILED, EXIT_OK, parseCount } from './io.js';
import type { CliIo } from './io.js';

export interface WorkerCommandOptions {
  readonly url: string;
  readonly key?: string;
  readonly topics: readonly string[];
  readonly concurrency?: string;
  readonly leaseSec?: string;
}

/** Kept of a child's stderr for the failure reason. */
const STDERR_TAIL_BYTES = 2048;
/** Kept of a child's stdout; the gateway enforces `max_output_bytes` on what is reported. */
const MAX_STDOUT_BYTES = 16 * 1024 * 1024;
/** Between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 2000;

/**
 * Runs until `stop` resolves (SIGINT or SIGTERM by default), then stops leasing and lets the
 * jobs in hand end. Exit code 0 after a clean stop, 1 if the gateway refused the key.
 */
export async function workerCommand(
  io: CliIo,
  command: readonly string[],
  options: WorkerCommandOptions,
  stop: Promise<void> = signalled(),
): Promise<number> {
  const [file, ...args] = command;
  if (file === undefined) throw new CliError('give the command to run after --, e.g. -- ./run.sh');
  if (options.topics.length === 0) throw new CliError('give at least one --topics glob');
  const concurrency =
    options.concurrency === undefined ? 1 : parseCount(options.concurrency, '--concurrency', 1);
  const leaseSec =
    options.leaseSec === undefined ? 30 : parseCount(options.leaseSec, '--lease-sec', 3);
  let worker: Worker;
  try {
    worker = createWorker({
      url: options.url,
      ...(options.key === undefined ? {} : { key: options.key }),
      topics: options.topics,
      concurrency,
      leaseSec,
      handler: (context) => runChild(file, args, context),
      onJobEnd: (end) => {
        io.out(describe(end));
      },
      onError: (error) => {
        io.err(`warden worker: ${error instanceof Error ? error.message : String(error)}`);
      },
    });
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  io.err(`warden worker: leasing ${options.topics.join(', ')} from ${options.url}`);
  worker.start();
  const stopped = await Promise.race([
    stop.then(() => 'signal' as const),
    worker.done.then(
      () => 'done' as const,
      (error: unknown) => error,
    ),
  ]);
  if (stopped !== 'signal' && stopped !== 'done') {
    throw new CliError(
      `the gateway refused this worker: ${(stopped as Error).message}`,
      EXIT_FAILED,
    );
  }
  io.err('warden worker: stopping; waiting for running jobs');
  await worker.stop();
  return EXIT_OK;
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => {
      resolve();
    });
    process.once('SIGTERM', () => {
      resolve();
    });
  });
}

function describe(end: JobEnd): string {
  const head = `job ${end.job.job_id} ${end.job.topic} attempt ${String(end.job.attempt)}: ${end.outcome}`;
  const state = end.state === undefined ? '' : ` -> ${end.state}`;
  const why = end.error === undefined ? '' : ` (${firstLine(end.error)})`;
  return `${head}${state}${why}`;
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '') ?? text;
}

/** One job as one child process; resolves with its output, rejects with why it failed. */
function runChild(file: string, args: readonly string[], context: JobContext): Promise<unknown> {
  const { job, signal } = context;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        WARDEN_JOB_ID: job.job_id,
        WARDEN_TOPIC: job.topic,
        WARDEN_ATTEMPT: String(job.attempt),
        WARDEN_CONSTRAINTS: JSON.stringify(job.constraints),
        WARDEN_DEADLINE: context.deadlineAt ?? '',
      },
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stdoutCut = false;
    let stderr = Buffer.alloc(0);
    let killTimer: NodeJS.Timeout | undefined;

    child.stdout.on('data', (chunk: Buffer) => {
      if (stdoutBytes + chunk.length > MAX_STDOUT_BYTES) stdoutCut = true;
      else {
        stdout.push(chunk);
        stdoutBytes += chunk.length;
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const joined = Buffer.concat([stderr, chunk]);
      stderr = joined.subarray(Math.max(0, joined.length - STDERR_TAIL_BYTES));
    });
    // A child that does not read its stdin must not fail the job.
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(job.payload ?? null));

    const onAbort = (): void => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    signal.addEventListener('abort', onAbort, { once: true });

    child.once('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      reject(new Error(`cannot start ${file}: ${error.message}`));
    });
    child.once('close', (code, killedBy) => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      if (signal.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const tail = stderr.toString('utf8').trim();
      if (code !== 0) {
        const how =
          killedBy === null ? `exited with code ${String(code)}` : `killed by ${killedBy}`;
        reject(new Error(tail === '' ? `${file} ${how}` : `${file} ${how}: ${tail}`));
        return;
      }
      if (stdoutCut) {
        reject(new Error(`${file} wrote more than ${String(MAX_STDOUT_BYTES)} bytes to stdout`));
        return;
      }
      resolve(outputOf(Buffer.concat(stdout).toString('utf8')));
    });
  });
}

/** stdout as JSON when it is JSON, else as text. */
function outputOf(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return text;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return text;
  }
}
