/**
 * `warden worker -- CMD` (§7, §16) as a child process against a gateway listening on loopback:
 * a job's payload reaches CMD on stdin and its stdout becomes the output; a CMD past
 * `max_runtime_sec` is killed and the job ends TIMED_OUT; a failing CMD reports its stderr.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestGateway } from '../support/http-server.js';
import { listeningWorkGateway, submitAs, terminalJob } from '../support/work-policy.js';
import { alive, eventually, startTsx } from '../support/worker-process.js';
import type { RunningChild } from '../support/worker-process.js';

interface Job {
  readonly job_id: string;
  readonly state: string;
  readonly attempt: number;
  readonly result?: { output?: unknown; error?: string };
}

/**
 * The job's command: by the payload's `mode`, echo the payload and the job's environment as JSON,
 * sleep (after writing its pid to TEST_DIR/<mode>.pid; `stubborn` also ignores SIGTERM), or fail with a message on stderr.
 */
const SCRIPT = `
const fs = require('node:fs');
const payload = JSON.parse(fs.readFileSync(0, 'utf8'));
if (payload.mode === 'sleep' || payload.mode === 'stubborn') {
  if (payload.mode === 'stubborn') process.on('SIGTERM', () => {});
  // Named by env, not payload: a temp-dir path in the payload would fail allowed_paths.
  const pidFile = process.env.TEST_DIR + '/' + payload.mode + '.pid';
  fs.writeFileSync(pidFile, String(process.pid));
  setTimeout(() => fs.writeFileSync(pidFile + '.finished', 'yes'), 30000);
} else if (payload.mode === 'fail') {
  process.stderr.write('x'.repeat(5000) + '\\nfatal: the build broke\\n');
  process.exit(3);
} else {
  process.stdout.write(JSON.stringify({
    payload,
    job_id: process.env.WARDEN_JOB_ID,
    topic: process.env.WARDEN_TOPIC,
    attempt: process.env.WARDEN_ATTEMPT,
    constraints: JSON.parse(process.env.WARDEN_CONSTRAINTS),
    deadline: process.env.WARDEN_DEADLINE,
  }));
}
`;

describe('warden worker', () => {
  let gw: TestGateway;
  let worker: RunningChild;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'warden-worker-cli-'));

  const submit = async (payload: unknown): Promise<string> =>
    (await submitAs<Job>(gw, 'job.agent.exec.run', payload)).job_id;

  const terminal = (jobId: string): Promise<Job> => terminalJob<Job>(gw, jobId);

  before(async () => {
    ({ gw, url } = await listeningWorkGateway());
    worker = startTsx(
      [
        'src/cli/main.ts',
        'worker',
        '--url',
        url,
        '--key',
        'worker-acme',
        '--topics',
        'job.agent.exec.*',
        '--concurrency',
        '2',
        '--lease-sec',
        '3',
        '--',
        process.execPath,
        '-e',
        SCRIPT,
      ],
      { TEST_DIR: dir },
    );
  });

  after(async () => {
    const code = await worker.stop();
    assert.equal(code, 0, `the worker did not stop cleanly:\n${worker.output()}`);
  });

  it('runs CMD with the payload on stdin and the job in its env; stdout is the output', async () => {
    const jobId = await submit({ mode: 'echo', dir: '/srv/work/repo' });
    const job = await terminal(jobId);
    assert.equal(job.state, 'SUCCEEDED', worker.output());
    const output = job.result?.output as Record<string, unknown>;
    assert.deepEqual(output['payload'], { mode: 'echo', dir: '/srv/work/repo' });
    assert.equal(output['job_id'], jobId);
    assert.equal(output['topic'], 'job.agent.exec.run');
    assert.equal(output['attempt'], '0');
    assert.equal((output['constraints'] as Record<string, unknown>)['max_runtime_sec'], 2);
    assert.match(String(output['deadline']), /^\d{4}-\d\d-\d\dT/);
    const logged = `job ${jobId} job.agent.exec.run attempt 0: succeeded -> SUCCEEDED`;
    await eventually(
      () => (worker.output().includes(logged) ? true : undefined),
      'the worker to log the job',
    );
  });

  for (const mode of ['sleep', 'stubborn'] as const) {
    const how = mode === 'sleep' ? 'SIGTERM' : 'SIGKILL after SIGTERM is ignored';
    it(`kills a CMD that runs past max_runtime_sec (${how}); the job ends TIMED_OUT`, async () => {
      const jobId = await submit({ mode });
      const job = await terminal(jobId);
      assert.equal(job.state, 'TIMED_OUT', worker.output());
      const pid = await eventually(
        () =>
          existsSync(join(dir, `${mode}.pid`))
            ? Number(readFileSync(join(dir, `${mode}.pid`), 'utf8'))
            : undefined,
        'the sleeper to start',
      );
      await eventually(() => (alive(pid) ? undefined : true), 'the child to be killed', 8000);
      assert.equal(existsSync(join(dir, `${mode}.pid.finished`)), false);
    });
  }

  it('exits 1 when the gateway refuses its key', async () => {
    const refused = startTsx(
      ['src/cli/main.ts', 'worker', '--url', url, '--topics', 'job.**', '--', 'true'],
      { WARDEN_KEY: 'nobody' },
    );
    const code = await eventually(
      () => refused.process.exitCode ?? undefined,
      'the refused worker to exit',
    );
    assert.equal(code, 1, refused.output());
    assert.match(refused.output(), /the gateway refused this worker: WARDEN_/);
  });

  it('fails a job whose CMD exits non-zero, with the end of its stderr', async () => {
    const jobId = await submit({ mode: 'fail' });
    const job = await terminal(jobId);
    assert.equal(job.state, 'FAILED', worker.output());
    const error = job.result?.error ?? '';
    assert.match(error, /exited with code 3/);
    assert.match(error, /fatal: the build broke/);
    assert.ok(
      error.length < 2200,
      `only the last 2 KB of stderr is kept (${String(error.length)})`,
    );
  });
});
