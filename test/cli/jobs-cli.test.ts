/**
 * `warden jobs submit|get|list|cancel` through the built binary, against a real gateway listening
 * on loopback in this process (so the CLI runs as an async child: a blocking spawn would stall the
 * server it talks to).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startGateway } from '../../src/main/gateway.js';
import type { Gateway } from '../../src/main/gateway.js';
import { parseStoreLocation } from '../../src/main/store-location.js';
import { BIN } from '../support/cli.js';
import type { CliRun } from '../support/cli.js';
import { closedPort } from '../support/ports.js';

/** The environment without the variables under test, so the developer's shell cannot leak in. */
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => name !== 'WARDEN_URL' && name !== 'WARDEN_KEY'),
);

async function jobsCli(
  args: readonly string[],
  options: { readonly env?: Readonly<Record<string, string>>; readonly stdin?: string } = {},
): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, 'jobs', ...args], {
    env: { ...cleanEnv, ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

async function listeningGateway(dev: boolean): Promise<{ gateway: Gateway; url: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-jobs-cli-'));
  const gateway = await startGateway({
    policyFile: 'examples/policies/seed.yaml',
    store: parseStoreLocation(`sqlite:${join(dir, 'w.db')}`),
    dev,
  });
  const url = await gateway.server.listen({ port: 0, host: '127.0.0.1' });
  return { gateway, url };
}

/** The job id from the first line of a summary (`job <id>  <STATE>`). */
function jobIdOf(run: CliRun): string {
  const id = /^job (\S+) {2}[A-Z_]+$/m.exec(run.stdout)?.[1];
  assert.ok(id !== undefined, `no job line in: ${run.stdout}${run.stderr}`);
  return id;
}

describe('warden jobs against a dev-mode gateway', () => {
  let gateway: Gateway;
  let url: string;
  before(async () => {
    ({ gateway, url } = await listeningGateway(true));
  });
  after(async () => {
    await gateway.close();
  });

  it('submits from flags and prints id, state, decision, rule and reason', async () => {
    const submitted = await jobsCli([
      'submit',
      '--url',
      url,
      '--topic',
      'job.mcp-bridge.write.update_ticket',
      '--agent',
      'agent-7',
      '--risk-tag',
      'prod',
      '--risk-tag',
      'customer-data',
      '--label',
      'mcp.action=write',
      '--label',
      'ticket=T-1=2',
      '--payload',
      '{"ticket":"T-1","status":"closed"}',
      '--idempotency-key',
      'close-T-1',
      '--trace-id',
      'trace-cli-1',
      '--inline',
    ]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = jobIdOf(submitted);
    assert.equal(
      submitted.stdout,
      [
        `job ${id}  APPROVAL_REQUIRED`,
        'decision REQUIRE_APPROVAL  rule require-approval-prod-write',
        'reason: Production writes require human review',
        'trace trace-cli-1',
        '',
      ].join('\n'),
    );

    const stored = await jobsCli(['get', id, '--url', url, '--json']);
    assert.equal(stored.code, 0, stored.stderr);
    const job = JSON.parse(stored.stdout) as Record<string, unknown>;
    assert.equal(job['agent_id'], 'agent-7');
    assert.deepEqual(job['risk_tags'], ['prod', 'customer-data']);
    assert.deepEqual(job['labels'], { 'mcp.action': 'write', ticket: 'T-1=2' });
    assert.deepEqual(job['payload'], { ticket: 'T-1', status: 'closed' });
    assert.equal(job['idempotency_key'], 'close-T-1');
    assert.equal(job['dispatch'], 'inline');
  });

  it('submits from a file, with flags overriding its fields and adding labels and tags', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'warden-jobs-cli-')), 'request.json');
    writeFileSync(
      file,
      JSON.stringify({
        topic: 'job.mcp-bridge.read.list_tickets',
        tenant_id: 'acme',
        risk_tags: ['prod'],
        labels: { 'mcp.action': 'read', team: 'support' },
        payload: { project: 'OPS' },
      }),
    );
    const submitted = await jobsCli([
      'submit',
      file,
      '--url',
      url,
      '--topic',
      'job.mcp-bridge.write.update_ticket',
      '--label',
      'mcp.action=write',
      '--risk-tag',
      'urgent',
    ]);
    assert.equal(submitted.code, 0, submitted.stderr);
    assert.match(submitted.stdout, /^job \S+ {2}APPROVAL_REQUIRED$/m);
    assert.match(
      submitted.stdout,
      /^decision REQUIRE_APPROVAL {2}rule require-approval-prod-write$/m,
    );

    const job = JSON.parse(
      (await jobsCli(['get', jobIdOf(submitted), '--url', url, '--json'])).stdout,
    ) as Record<string, unknown>;
    assert.equal(job['topic'], 'job.mcp-bridge.write.update_ticket');
    assert.equal(job['tenant_id'], 'acme');
    assert.deepEqual(job['risk_tags'], ['prod', 'urgent']);
    assert.deepEqual(job['labels'], { 'mcp.action': 'write', team: 'support' });
    assert.deepEqual(job['payload'], { project: 'OPS' });
  });

  it('submits a request read from stdin with -', async () => {
    const submitted = await jobsCli(['submit', '-', '--url', url, '--json'], {
      stdin: JSON.stringify({ topic: 'job.agent.exec.report', risk_tags: ['medium'] }),
    });
    assert.equal(submitted.code, 0, submitted.stderr);
    const body = JSON.parse(submitted.stdout) as {
      state: string;
      decision: { type: string; rule_id: string; constraints: Record<string, unknown> };
    };
    assert.equal(body.state, 'QUEUED');
    assert.equal(body.decision.type, 'ALLOW_WITH_CONSTRAINTS');
    assert.equal(body.decision.rule_id, 'constrain-medium-risk');
    assert.deepEqual(body.decision.constraints, { max_runtime_sec: 45, max_retries: 1 });
  });

  it('exits 0 on a DENIED job: a deny is a decision, not an error', async () => {
    const denied = await jobsCli([
      'submit',
      '--url',
      url,
      '--topic',
      'job.shell.exec.rm',
      '--risk-tag',
      'destructive',
    ]);
    assert.equal(denied.code, 0, denied.stderr);
    assert.match(denied.stdout, /^job \S+ {2}DENIED$/m);
    assert.match(denied.stdout, /^decision DENY {2}rule deny-destructive$/m);
    assert.match(denied.stdout, /^reason: .*deny-destructive/m);
    assert.equal(denied.stderr, '');
  });

  it('gets one job as a summary, passing --wait through to the gateway', async () => {
    const id = jobIdOf(
      await jobsCli(['submit', '--url', url, '--topic', 'job.mcp-bridge.read.get_ticket']),
    );
    const shown = await jobsCli(['get', id, '--url', url, '--wait', '1']);
    assert.equal(shown.code, 0, shown.stderr);
    const lines = shown.stdout.trimEnd().split('\n');
    // The gateway dispatches a cleared job at once; nothing leases it here.
    assert.match(lines[0] ?? '', new RegExp(`^job ${id}  (QUEUED|DISPATCHED)$`));
    assert.deepEqual(lines.slice(1, 4), [
      'topic job.mcp-bridge.read.get_ticket  tenant default  agent -',
      'decision ALLOW  rule allow-low-risk-read',
      'reason: matched rule "allow-low-risk-read"',
    ]);
    assert.match(lines[4] ?? '', /^trace [0-9a-f]{32}$/);

    const missing = await jobsCli(['get', 'no-such-job', '--url', url]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'warden: WARDEN_NOT_FOUND: no job no-such-job\n');
  });

  it('lists with filters, one line per job, and pages with the cursor', async () => {
    const topic = 'job.mcp-bridge.read.paged';
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(jobIdOf(await jobsCli(['submit', '--url', url, '--topic', topic])));
    const deniedId = jobIdOf(
      await jobsCli(['submit', '--url', url, '--topic', topic, '--risk-tag', 'destructive']),
    );

    const first = await jobsCli(['list', '--url', url, '--topic', topic, '--limit', '2']);
    assert.equal(first.code, 0, first.stderr);
    // The gateway dispatches a cleared job at once; nothing leases it here.
    const cleared = (text: string): string => text.replaceAll('  DISPATCHED  ', '  QUEUED  ');
    assert.equal(
      cleared(first.stdout),
      [
        `${ids[0] ?? ''}  QUEUED  ALLOW  allow-low-risk-read  ${topic}`,
        `${ids[1] ?? ''}  QUEUED  ALLOW  allow-low-risk-read  ${topic}`,
        `2 jobs, next cursor: ${ids[1] ?? ''}`,
        '',
      ].join('\n'),
    );
    const cursor = /next cursor: (\S+)$/m.exec(first.stdout)?.[1] ?? '';
    const rest = await jobsCli(['list', '--url', url, '--topic', topic, '--cursor', cursor]);
    assert.equal(
      cleared(rest.stdout),
      [
        `${ids[2] ?? ''}  QUEUED  ALLOW  allow-low-risk-read  ${topic}`,
        `${deniedId}  DENIED  DENY  deny-destructive  ${topic}`,
        '2 jobs, next cursor: none',
        '',
      ].join('\n'),
    );

    // State names are accepted in any case and sent uppercase, as on the wire.
    const denied = await jobsCli(['list', '--url', url, '--topic', topic, '--state', 'denied']);
    assert.equal(
      denied.stdout,
      `${deniedId}  DENIED  DENY  deny-destructive  ${topic}\n1 jobs, next cursor: none\n`,
    );

    const json = await jobsCli(['list', '--url', url, '--topic', topic, '--json']);
    const page = JSON.parse(json.stdout) as { items: { job_id: string }[]; next_cursor: null };
    assert.deepEqual(
      page.items.map((job) => job.job_id),
      [...ids, deniedId],
    );
    assert.equal(page.next_cursor, null);
  });

  it('cancels a job, and refuses to cancel one that has finished (WARDEN_INVALID_STATE)', async () => {
    const id = jobIdOf(
      await jobsCli([
        'submit',
        '--url',
        url,
        '--topic',
        'job.mcp-bridge.write.delete_page',
        '--risk-tag',
        'prod',
      ]),
    );
    const cancelled = await jobsCli(['cancel', id, '--url', url]);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.match(cancelled.stdout, new RegExp(`^job ${id} {2}CANCELLED$`, 'm'));

    const again = await jobsCli(['cancel', id, '--url', url]);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, '');
    assert.equal(
      again.stderr,
      `warden: WARDEN_INVALID_STATE: job ${id} is CANCELLED and cannot be cancelled\n`,
    );
  });

  it('takes the gateway URL from WARDEN_URL when --url is absent', async () => {
    const submitted = await jobsCli(['submit', '--topic', 'job.mcp-bridge.read.env'], {
      env: { WARDEN_URL: url },
    });
    assert.equal(submitted.code, 0, submitted.stderr);
    assert.match(submitted.stdout, /^job \S+ {2}QUEUED$/m);
  });

  it('rejects malformed flags locally with a usage error (exit 2)', async () => {
    const cases: readonly (readonly [readonly string[], RegExp])[] = [
      [
        ['submit', '--topic', 'a', '--label', 'no-equals-sign'],
        /--label "no-equals-sign" must be key=value/,
      ],
      [['submit', '--topic', 'a', '--label', '=value'], /--label "=value" must be key=value/],
      [['submit', '--topic', 'a', '--payload', '{oops'], /--payload is not valid JSON/],
      [['submit', '--label', 'a=b'], /a job needs a topic/],
      [['submit', '-'], /request on stdin is not valid JSON/],
      [
        ['submit', '/no/such/request.json'],
        /cannot read request file \/no\/such\/request\.json: no such file/,
      ],
      [['list', '--state', 'DONE'], /--state "DONE" is not a job state; one of: PENDING, DENIED/],
      [['list', '--limit', 'ten'], /--limit "ten" must be a whole number of at least 1/],
      [['get', 'x', '--wait', '-1'], /--wait "-1" must be a whole number/],
      [['list', '--url', 'ftp://gateway'], /--url "ftp:\/\/gateway" must be an http/],
    ];
    // Independent runs, so they go in parallel: each is a separate process.
    const results = await Promise.all(
      cases.map(([args]) =>
        jobsCli([...args, ...(args.includes('--url') ? [] : ['--url', url])], {
          stdin: 'not json',
        }),
      ),
    );
    cases.forEach(([args, message], i) => {
      const result = results[i];
      assert.ok(result !== undefined);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message, args.join(' '));
      assert.equal(result.stdout, '', args.join(' '));
    });
  });

  it('reports a request the gateway rejects with its error code (exit 1)', async () => {
    const rejected = await jobsCli(['submit', '--url', url, '--topic', 'has spaces']);
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /^warden: WARDEN_VALIDATION: body\/topic must match pattern/);
  });
});

describe('warden jobs against a gateway that requires keys', () => {
  it('sends the key from --key or WARDEN_KEY; a missing or wrong key is WARDEN_UNAUTHENTICATED', async () => {
    const { gateway, url } = await listeningGateway(false);
    try {
      const key = gateway.bootstrapKey?.key;
      assert.ok(key !== undefined);
      const submit = ['submit', '--url', url, '--topic', 'job.mcp-bridge.read.keyed'];

      const anonymous = await jobsCli(submit);
      assert.equal(anonymous.code, 1);
      assert.match(anonymous.stderr, /^warden: WARDEN_UNAUTHENTICATED: send an API key/);
      const wrong = await jobsCli([...submit, '--key', 'wdn_wrong']);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /^warden: WARDEN_UNAUTHENTICATED: /);

      const withFlag = await jobsCli([...submit, '--key', key]);
      assert.equal(withFlag.code, 0, withFlag.stderr);
      assert.match(withFlag.stdout, /^job \S+ {2}QUEUED$/m);
      const fromEnv = await jobsCli(['list', '--url', url], { env: { WARDEN_KEY: key } });
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      assert.match(fromEnv.stdout, /^1 jobs, next cursor: none$/m);
    } finally {
      await gateway.close();
    }
  });
});

describe('warden jobs without a gateway', () => {
  it('names the URL it could not reach (exit 1)', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const result = await jobsCli(['get', 'some-job', '--url', url]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `warden: cannot reach the gateway at ${url}: connection refused (is \`warden serve\` running? set --url or WARDEN_URL)\n`,
    );
  });
});
