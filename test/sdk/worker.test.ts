/**
 * The worker SDK (§6, §7) in a real worker process against a gateway listening on loopback:
 * jobs complete with their output, a job past `max_runtime_sec` ends TIMED_OUT with the handler's
 * signal fired, arguments outside `allowed_paths` fail the job without running it or retrying,
 * and a handler that keeps throwing is retried up to `max_retries`, then dead-lettered.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { as } from '../support/http-server.js';
import type { TestGateway } from '../support/http-server.js';
import { listeningWorkGateway, submitAs, terminalJob } from '../support/work-policy.js';
import { eventually, startTsx } from '../support/worker-process.js';
import type { RunningChild } from '../support/worker-process.js';

interface Job {
  readonly job_id: string;
  readonly state: string;
  readonly attempt: number;
  readonly result?: { status: string; output?: unknown; error?: string };
}

interface Line {
  readonly event: string;
  readonly job_id?: string;
  readonly attempt?: number;
  readonly reason?: string;
}

describe('an SDK worker process', () => {
  let gw: TestGateway;
  let worker: RunningChild;
  const record = join(mkdtempSync(join(tmpdir(), 'warden-sdk-worker-')), 'record.jsonl');

  const lines = (): Line[] =>
    existsSync(record)
      ? readFileSync(record, 'utf8')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as Line)
      : [];

  async function submit(payload: unknown): Promise<string> {
    const body = await submitAs<Job>(gw, 'job.agent.exec.task', payload);
    assert.equal(body.state, 'QUEUED');
    return body.job_id;
  }

  const terminal = (jobId: string): Promise<Job> => terminalJob<Job>(gw, jobId);

  before(async () => {
    const started = await listeningWorkGateway();
    gw = started.gw;
    const url = started.url;
    worker = startTsx(['test/support/sdk-worker.ts'], {
      WARDEN_URL: url,
      WARDEN_KEY: 'worker-acme',
      WARDEN_TOPICS: 'job.agent.exec.*',
      WORKER_RECORD: record,
    });
  });

  after(async () => {
    // Before the gateway closes (a file-level hook), so no lease long-poll holds it open.
    const code = await worker.stop();
    assert.equal(code, 0, `the worker did not stop cleanly:\n${worker.output()}`);
  });

  it('completes a job with the handler’s return value as its output', async () => {
    const jobId = await submit({ mode: 'echo', path: '/srv/work/app', n: 1 });
    const job = await terminal(jobId);
    assert.equal(job.state, 'SUCCEEDED', worker.output());
    assert.deepEqual(job.result?.output, { echo: { mode: 'echo', path: '/srv/work/app', n: 1 } });
  });

  it('ends a job past max_runtime_sec TIMED_OUT, and the handler’s signal fires', async () => {
    const jobId = await submit({ mode: 'sleep' });
    const job = await terminal(jobId);
    assert.equal(job.state, 'TIMED_OUT', worker.output());
    const aborted = await eventually(
      () => lines().find((line) => line.event === 'aborted' && line.job_id === jobId),
      'the handler to see its signal abort',
    );
    assert.match(aborted.reason ?? '', /max_runtime_sec|stopped the job/);
    // The worker reports nothing for an aborted job: the gateway's TIMED_OUT stands.
    const end = await eventually(
      () => lines().find((line) => line.event === 'end' && line.job_id === jobId),
      'the worker to end the job',
    );
    assert.equal((end as unknown as { outcome: string }).outcome, 'aborted');
  });

  it('fails a job whose arguments leave allowed_paths, without running or retrying it', async () => {
    const jobId = await submit({ mode: 'echo', files: ['/srv/work/ok', '/etc/passwd'] });
    const job = await terminal(jobId);
    assert.equal(job.state, 'FAILED');
    assert.equal(job.attempt, 0, 'a constraint violation is not retried');
    assert.match(
      job.result?.error ?? '',
      /path "\/etc\/passwd" is outside allowed_paths \(\/srv\/work\/\*\*\)/,
    );
    assert.equal(
      lines().some((line) => line.event === 'run' && line.job_id === jobId),
      false,
      'the handler must not run',
    );
  });

  it('catches a path that escapes with .. after normalisation', async () => {
    const jobId = await submit({ mode: 'echo', file: '/srv/work/../../etc/shadow' });
    const job = await terminal(jobId);
    assert.equal(job.state, 'FAILED');
    assert.match(job.result?.error ?? '', /\(\/etc\/shadow\) is outside allowed_paths/);
  });

  it('retries a throwing handler up to max_retries, then dead-letters the job', async () => {
    const jobId = await submit({ mode: 'throw' });
    const job = await terminal(jobId);
    assert.equal(job.state, 'FAILED');
    assert.equal(job.attempt, 1);
    assert.match(job.result?.error ?? '', /boom on attempt 1/);
    const runs = lines().filter((line) => line.event === 'run' && line.job_id === jobId);
    assert.deepEqual(
      runs.map((line) => line.attempt),
      [0, 1],
    );
    const dead = await gw.app.inject({
      method: 'GET',
      url: '/api/v1/dead-letters',
      headers: as('auditor-acme'),
    });
    const letters = dead.json<{ items: { job: Job; reason: string }[] }>().items;
    const letter = letters.find((item) => item.job.job_id === jobId);
    assert.ok(letter !== undefined, dead.body);
    assert.match(letter.reason, /boom on attempt 1 \(attempts exhausted: 2 of 2\)/);
  });
});
