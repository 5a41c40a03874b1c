/**
 * `warden approvals list|approve|reject` through the built binary, against a real gateway listening
 * on loopback in this process (so the CLI runs as an async child: a blocking spawn would stall the
 * server it talks to). The confirmation prompt needs a terminal, so those runs go through
 * util-linux `script`, which gives the child a pseudo-terminal; they are skipped where it is absent.
 * What the CLI sends on the wire is pinned against a recording stand-in for the gateway.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startGateway } from '../../src/main/gateway.js';
import type { Gateway } from '../../src/main/gateway.js';
import { parseStoreLocation } from '../../src/main/store-location.js';
import { BIN } from '../support/cli.js';
import type { CliRun } from '../support/cli.js';

/** The environment without the variables under test, so the developer's shell cannot leak in. */
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => name !== 'WARDEN_URL' && name !== 'WARDEN_KEY'),
);

/** Runs `warden approvals ARGS` with stdin a pipe (never a terminal). */
async function approvalsCli(args: readonly string[], stdin = ''): Promise<CliRun> {
  const child = spawn(process.execPath, [BIN, 'approvals', ...args], { env: cleanEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(stdin);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const hasScript = (
  spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout as string | null
)?.includes('util-linux');

/**
 * Runs `warden approvals ARGS` on a pseudo-terminal and types `answer` once the prompt shows.
 * Everything the child writes, stdout and stderr alike, arrives as the terminal's output.
 */
async function inTerminal(
  args: readonly string[],
  answer: string,
): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, BIN, 'approvals', ...args]
    .map((word) => `'${word.replaceAll("'", `'\\''`)}'`)
    .join(' ');
  const child = spawn('script', ['-qefc', command, '/dev/null'], { env: cleanEnv });
  let output = '';
  let answered = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    if (!answered && output.includes('[y/N]')) {
      answered = true;
      child.stdin.write(`${answer}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      child.stdin.destroy();
      resolve({ code, output: output.replaceAll('\r', '') });
    });
  });
}

interface ApprovalBody {
  job_id: string;
  status: string;
  job_hash: string;
  resolutions: { by: string; decision: string; note: string }[];
}

describe('warden approvals against a dev-mode gateway', () => {
  let gateway: Gateway;
  let url: string;
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-approvals-cli-'));
    gateway = await startGateway({
      policyFile: 'examples/policies/seed.yaml',
      store: parseStoreLocation(`sqlite:${join(dir, 'w.db')}`),
      dev: true,
    });
    url = await gateway.server.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await gateway.close();
  });

  /** Submits a production write, which the seed policy holds for approval; returns its job id. */
  async function pendingJob(topic: string, payload: unknown = { ticket: 'T-1' }): Promise<string> {
    const response = await gateway.server.inject({
      method: 'POST',
      url: '/api/v1/jobs',
      payload: {
        topic,
        agent_id: 'agent-7',
        risk_tags: ['prod'],
        labels: { 'mcp.action': 'write' },
        payload,
      },
    });
    const body = response.json<{ job_id: string; state: string }>();
    assert.equal(body.state, 'APPROVAL_REQUIRED', response.body);
    return body.job_id;
  }

  async function approvalOf(id: string): Promise<ApprovalBody> {
    return (await gateway.server.inject(`/api/v1/approvals/${id}`)).json<ApprovalBody>();
  }

  async function jobStateOf(id: string): Promise<string> {
    return (await gateway.server.inject(`/api/v1/jobs/${id}`)).json<{ state: string }>().state;
  }

  it('lists pending approvals as a table, oldest first', async () => {
    const topic = 'job.mcp-bridge.write.listed';
    const first = await pendingJob(topic);
    const second = await pendingJob(topic);
    const listed = await approvalsCli(['list', '--url', url, '--topic', topic]);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      /^JOB ID +AGE +EXPIRES +TOPIC +AGENT +RULE +REQUESTED BY +STATUS$/,
    );
    const row = (id: string) =>
      new RegExp(
        `^${id} +\\d+s +in 59m +${topic} +agent-7 +require-approval-prod-write +dev +PENDING$`,
      );
    assert.match(lines[1] ?? '', row(first));
    assert.match(lines[2] ?? '', row(second));
    assert.equal(lines.length, 3, 'no cursor line on the last page');
  });

  it('approves with --yes and a note: shows what runs, sends it, and the queue empties', async () => {
    const topic = 'job.mcp-bridge.write.approved';
    const id = await pendingJob(topic, { ticket: 'T-9', status: 'closed' });
    const { job_hash } = await approvalOf(id);

    const approved = await approvalsCli([
      'approve',
      id,
      '--url',
      url,
      '--yes',
      '--note',
      'checked with the owner',
    ]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal(approved.stderr, '');
    const shown = approved.stdout;
    assert.match(shown, new RegExp(`^approval ${id} {2}PENDING$`, 'm'));
    assert.match(shown, new RegExp(`^topic +${topic}$`, 'm'));
    assert.match(shown, /^tenant +default$/m);
    assert.match(shown, /^agent +agent-7$/m);
    assert.match(shown, /^requested by +dev at \S+Z \(\d+s ago\)$/m);
    assert.match(shown, /^rule +require-approval-prod-write$/m);
    assert.match(shown, /^reason +Production writes require human review$/m);
    assert.match(shown, /^expires +\S+Z \(in 59m\)$/m);
    assert.match(shown, /^quorum +1 approver\(s\) of role .*; 0 approved so far$/m);
    assert.match(shown, /^risk tags +prod$/m);
    assert.match(shown, /^labels +mcp\.action=write$/m);
    assert.ok(shown.includes('payload:\n{\n  "ticket": "T-9",\n  "status": "closed"\n}\n'), shown);
    assert.match(shown, new RegExp(`^job hash +${job_hash}$`, 'm'));
    assert.ok(
      shown.endsWith(`approval ${id}  APPROVED\napproved by dev\n`),
      `outcome last: ${shown}`,
    );

    const stored = await approvalOf(id);
    assert.equal(stored.status, 'APPROVED');
    assert.deepEqual(
      stored.resolutions.map(({ by, decision, note }) => ({ by, decision, note })),
      [{ by: 'dev', decision: 'approve', note: 'checked with the owner' }],
    );
    // Cleared: queued, and dispatched at once by the gateway's relay (nothing leases it here).
    assert.match(await jobStateOf(id), /^(QUEUED|DISPATCHED)$/);

    const pending = await approvalsCli(['list', '--url', url, '--topic', topic]);
    assert.equal(pending.stdout, 'no pending approvals\n');
    const all = await approvalsCli(['list', '--url', url, '--topic', topic, '--all']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, new RegExp(`^${id} +\\d+s +- +${topic} .* APPROVED$`, 'm'));
  });

  it('refuses a second resolution with the gateway code and the status (exit 1)', async () => {
    const id = await pendingJob('job.mcp-bridge.write.twice');
    assert.equal((await approvalsCli(['approve', id, '--url', url, '--yes'])).code, 0);

    const again = await approvalsCli(['approve', id, '--url', url, '--yes']);
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr,
      'warden: WARDEN_APPROVAL_RESOLVED: the approval is already APPROVED (approved by dev)\n',
    );
    const rejected = await approvalsCli(['reject', id, '--url', url, '--yes']);
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /^warden: WARDEN_APPROVAL_RESOLVED: .*already APPROVED/);
  });

  it('rejects with --yes and a note; the job is rejected with it', async () => {
    const id = await pendingJob('job.mcp-bridge.write.rejected');
    const rejected = await approvalsCli([
      'reject',
      id,
      '--url',
      url,
      '--yes',
      '--note',
      'wrong ticket',
    ]);
    assert.equal(rejected.code, 0, rejected.stderr);
    assert.ok(rejected.stdout.endsWith(`approval ${id}  REJECTED\nrejected by dev\n`));
    const stored = await approvalOf(id);
    assert.equal(stored.status, 'REJECTED');
    assert.equal(stored.resolutions[0]?.note, 'wrong ticket');
    assert.equal(await jobStateOf(id), 'REJECTED');
  });

  it('refuses to prompt when stdin is not a terminal and --yes is missing (exit 2)', async () => {
    const id = await pendingJob('job.mcp-bridge.write.piped');
    for (const verb of ['approve', 'reject']) {
      const refused = await approvalsCli([verb, id, '--url', url], 'y\n');
      assert.equal(refused.code, 2, refused.stderr);
      assert.equal(refused.stdout, '');
      assert.match(
        refused.stderr,
        new RegExp(`^warden: ${verb} asks for confirmation, but stdin is not a terminal.*--yes`),
      );
    }
    const stored = await approvalOf(id);
    assert.equal(stored.status, 'PENDING');
    assert.deepEqual(stored.resolutions, []);
  });

  it(
    'on a terminal, shows the payload and the prompt; anything but yes sends nothing',
    {
      skip: hasScript === true ? false : 'needs util-linux script for a pseudo-terminal',
      // A prompt that never shows would otherwise leave the child waiting forever.
      timeout: 30_000,
    },
    async () => {
      const id = await pendingJob('job.mcp-bridge.write.prompted', { ticket: 'T-7' });
      for (const answer of ['n', '', 'sure']) {
        const declined = await inTerminal(['approve', id, '--url', url], answer);
        assert.equal(declined.code, 1, declined.output);
        assert.ok(declined.output.includes('payload:\n{\n  "ticket": "T-7"\n}\n'), declined.output);
        assert.match(declined.output, /Approve this action\? \[y\/N\] /);
        assert.match(declined.output, /warden: aborted: nothing was sent to the gateway\n$/);
      }
      const stored = await approvalOf(id);
      assert.equal(stored.status, 'PENDING');
      assert.deepEqual(stored.resolutions, []);

      const rejected = await inTerminal(['reject', id, '--url', url], 'YES');
      assert.equal(rejected.code, 0, rejected.output);
      assert.match(rejected.output, /Reject this action\? \[y\/N\] /);
      assert.match(rejected.output, new RegExp(`approval ${id} {2}REJECTED\nrejected by dev\n$`));
      assert.equal((await approvalOf(id)).status, 'REJECTED');
    },
  );

  it('prints JSON with --json: the page for list, the resolved approval for approve', async () => {
    const topic = 'job.mcp-bridge.write.json';
    const id = await pendingJob(topic);
    const listed = await approvalsCli(['list', '--url', url, '--topic', topic, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const page = JSON.parse(listed.stdout) as { items: ApprovalBody[]; next_cursor: null };
    assert.deepEqual(
      page.items.map((a) => [a.job_id, a.status]),
      [[id, 'PENDING']],
    );
    assert.equal(page.next_cursor, null);

    const approved = await approvalsCli(['approve', id, '--url', url, '--yes', '--json']);
    assert.equal(approved.code, 0, approved.stderr);
    const body = JSON.parse(approved.stdout) as ApprovalBody;
    assert.equal(body.job_id, id);
    assert.equal(body.status, 'APPROVED');
    // The human still sees what they resolved, on stderr, so stdout stays parseable.
    assert.match(approved.stderr, /^payload:$/m);
  });

  it('pages with --limit and --cursor, printing the next cursor', async () => {
    const topic = 'job.mcp-bridge.write.paged';
    const ids = [await pendingJob(topic), await pendingJob(topic)];
    const first = await approvalsCli(['list', '--url', url, '--topic', topic, '--limit', '1']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`^${ids[0] ?? ''} `, 'm'));
    const cursor = /^next cursor: (\S+)$/m.exec(first.stdout)?.[1];
    assert.ok(cursor !== undefined && cursor === ids[0], first.stdout);
    const rest = await approvalsCli(['list', '--url', url, '--topic', topic, '--cursor', cursor]);
    assert.match(rest.stdout, new RegExp(`^${ids[1] ?? ''} `, 'm'));
    assert.doesNotMatch(rest.stdout, /next cursor/);
  });

  it('reports errors: an unknown job (exit 1), a bad flag (exit 2)', async () => {
    const missing = await approvalsCli(['approve', 'no-such-job', '--url', url, '--yes']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'warden: WARDEN_NOT_FOUND: no approval for job no-such-job\n');
    const badLimit = await approvalsCli(['list', '--url', url, '--limit', 'ten']);
    assert.equal(badLimit.code, 2);
    assert.match(badLimit.stderr, /--limit "ten" must be a whole number of at least 1/);
    const noId = await approvalsCli(['approve', '--url', url, '--yes']);
    assert.equal(noId.code, 2);
    assert.match(noId.stderr, /missing required argument 'job_id'/);
  });
});

describe('warden approvals on the wire', () => {
  const HASH = 'a'.repeat(64);
  const approval = {
    job_id: 'job-1',
    tenant_id: 'default',
    topic: 'job.mcp-bridge.write.update_ticket',
    agent_id: null,
    job_hash: HASH,
    policy_snapshot: 'b'.repeat(64),
    rule_id: null,
    reason: 'review',
    requested_by: 'agent-key',
    requested_at: '2026-01-01T00:00:00.000Z',
    expires_at: '2026-01-01T01:00:00.000Z',
    quorum: 1,
    approver_roles: ['approver'],
    allow_self_approval: false,
    status: 'PENDING',
    resolutions: [],
    resolved_at: null,
    closed_reason: null,
    // Text a terminal would act on: it must be shown escaped, never interpreted.
    risk_tags: ['prod\u001b[2J'],
    labels: { note: 'ok\u202eevil' },
    payload: { cmd: 'a\u009bb' },
  };

  /** A stand-in gateway: answers GET with `approval`, POSTs with `answer`, and records requests. */
  async function recordingGateway(answer: { status: number; body: unknown }) {
    const requests: { method: string; url: string; body: string }[] = [];
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      let body = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        requests.push({ method: request.method ?? '', url: request.url ?? '', body });
        const reply = request.method === 'GET' ? { status: 200, body: approval } : answer;
        response.writeHead(reply.status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    return {
      url: `http://127.0.0.1:${address.port}`,
      requests,
      close: () => new Promise((resolve) => server.close(resolve)),
    };
  }

  it('approve sends back the job hash it showed, with the note; reject sends only the note', async () => {
    const stub = await recordingGateway({
      status: 200,
      body: { ...approval, status: 'APPROVED', closed_reason: 'approved by x' },
    });
    try {
      const approved = await approvalsCli([
        'approve',
        'job-1',
        '--url',
        stub.url,
        '-y',
        '--note',
        'fine',
      ]);
      assert.equal(approved.code, 0, approved.stderr);
      await approvalsCli(['reject', 'job-1', '--url', stub.url, '-y', '--note', 'no']);
      assert.deepEqual(
        stub.requests.map((r) => [r.method, r.url, r.body]),
        [
          ['GET', '/api/v1/approvals/job-1', ''],
          [
            'POST',
            '/api/v1/approvals/job-1/approve',
            JSON.stringify({ note: 'fine', job_hash: HASH }),
          ],
          ['GET', '/api/v1/approvals/job-1', ''],
          ['POST', '/api/v1/approvals/job-1/reject', JSON.stringify({ note: 'no' })],
        ],
      );
      assert.match(approved.stdout, /^risk tags +"prod\\u001b\[2J"$/m);
      assert.match(approved.stdout, /^labels +note="ok\\u202eevil"$/m);
      assert.match(approved.stdout, /^ {2}"cmd": "a\\u009bb"$/m);
      for (const raw of ['\u001b', '\u009b', '\u202e']) assert.ok(!approved.stdout.includes(raw));
    } finally {
      await stub.close();
    }
  });

  it('a job changed since it was shown is refused with WARDEN_JOB_HASH_MISMATCH (exit 1)', async () => {
    const stub = await recordingGateway({
      status: 409,
      body: {
        error: {
          code: 'WARDEN_JOB_HASH_MISMATCH',
          message: 'the job is not the one you reviewed',
          details: {},
        },
      },
    });
    try {
      const refused = await approvalsCli(['approve', 'job-1', '--url', stub.url, '--yes']);
      assert.equal(refused.code, 1);
      assert.equal(
        refused.stderr,
        'warden: WARDEN_JOB_HASH_MISMATCH: the job is not the one you reviewed\n',
      );
    } finally {
      await stub.close();
    }
  });
});
