/**
 * No secret in the logs, proven over a whole run: the built CLI serves outside dev mode with a
 * webhook whose Authorization header is a secret and whose receiver refuses connections; a
 * realistic session creates and revokes keys, submits jobs whose payloads hold secrets, tries
 * wrong keys and a malformed body. Then everything the process wrote to stdout and stderr,
 * except the one banner line that shows the bootstrap key by design, is searched for every
 * secret used: none may appear. The log must hold JSON request lines, so an empty log cannot
 * pass.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BIN } from '../support/cli.js';

const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const KEY_BODY = [
  'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDQx3fPq1bT2nK8',
  'cV5bN1mMxq3fJ9mK8hP0aXc2vB1nQ5rT7uY3wE6sD4gH2jK9lL0zX8Wl4RzTqA',
];
const PRIVATE_KEY = ['-----BEGIN PRIVATE KEY-----', ...KEY_BODY, '-----END PRIVATE KEY-----'].join(
  '\n',
);
const PASSWORD = `pw-${randomBytes(9).toString('base64url')}`;
const HOOK_SECRET = `hook-secret-${randomBytes(12).toString('hex')}`;
const WRONG_KEY = `wdn_${randomBytes(32).toString('base64url')}`;
const QUERY_TOKEN = `qt-${randomBytes(9).toString('hex')}`;

const live = new Set<ChildProcessWithoutNullStreams>();
after(() => {
  for (const child of live) if (child.exitCode === null) child.kill('SIGKILL');
});

/** A local port nothing listens on: bound, then released. */
async function refusingPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => {
    server.close(() => {
      done();
    });
  });
  return port;
}

interface Serve {
  readonly child: ChildProcessWithoutNullStreams;
  readonly address: string;
  /** Everything written so far, stdout then stderr. */
  readonly stdout: () => string;
  readonly stderr: () => string;
}

function serve(args: readonly string[]): Promise<Serve> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args]);
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`did not listen within 15 s:\n${stdout}\n${stderr}`));
    }, 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const address = /warden: listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (address === undefined) return;
      clearTimeout(timer);
      resolve({ child, address, stdout: () => stdout, stderr: () => stderr });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${String(code)} before listening:\n${stderr}`));
    });
  });
}

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('logs of a full run', () => {
  it('hold JSON request lines and none of the secrets used', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-log-redaction-'));
    const hookPort = await refusingPort();
    const config = join(dir, 'warden.yaml');
    writeFileSync(
      config,
      [
        'notifications:',
        '  retry: { attempts: 2, base_delay_ms: 20 }',
        '  webhooks:',
        `    - url: http://127.0.0.1:${String(hookPort)}/hooks/approvals`,
        '      timeout_ms: 2000',
        '      headers:',
        `        Authorization: "Bearer ${HOOK_SECRET}"`,
        '',
      ].join('\n'),
    );
    const gateway = await serve([
      '--port',
      '0',
      '--db',
      `sqlite:${join(dir, 'warden.db')}`,
      '--policy',
      'examples/policies/seed.yaml',
      '--config',
      config,
    ]);
    const banner = /^warden: (wdn_\S+)$/m.exec(gateway.stdout());
    const admin = banner?.[1];
    assert.ok(admin !== undefined, `no bootstrap key banner:\n${gateway.stdout()}`);

    const call = async (
      method: string,
      path: string,
      key: string | null,
      body?: unknown,
      rawBody?: string,
    ): Promise<{ status: number; json: Record<string, unknown> }> => {
      const response = await fetch(`${gateway.address}${path}`, {
        method,
        headers: {
          ...(key === null ? {} : { authorization: `Bearer ${key}` }),
          ...(body === undefined && rawBody === undefined
            ? {}
            : { 'content-type': 'application/json' }),
        },
        ...(rawBody !== undefined
          ? { body: rawBody }
          : body === undefined
            ? {}
            : { body: JSON.stringify(body) }),
      });
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    };

    const createKey = async (
      name: string,
      roles: string[],
    ): Promise<{ id: string; key: string }> => {
      const created = await call('POST', '/api/v1/keys', admin, {
        name,
        tenant: 'default',
        roles,
      });
      assert.equal(created.status, 201);
      return created.json as { id: string; key: string };
    };
    const agent = await createKey('agent', ['agent']);
    const doomed = await createKey('doomed', ['agent', 'approver']);
    const payload = {
      note: `deploy with ${AWS_KEY}`,
      credentials: { aws_access_key_id: AWS_KEY, password: PASSWORD },
      tls: { private_key_pem: PRIVATE_KEY },
    };

    // Needs approval: the notice goes to the webhook, which refuses the connection.
    const held = await call('POST', '/api/v1/jobs', agent.key, {
      topic: 'job.mcp-bridge.write.update_ticket',
      risk_tags: ['prod'],
      payload,
    });
    assert.equal(held.status, 201);
    assert.equal(held.json['state'], 'APPROVAL_REQUIRED');
    const allowed = await call('POST', '/api/v1/jobs', agent.key, {
      topic: 'job.mcp-bridge.read.ticket',
      payload,
    });
    assert.equal(allowed.status, 201);
    assert.equal(
      (await call('GET', `/api/v1/jobs/${String(allowed.json['job_id'])}`, agent.key)).status,
      200,
    );
    assert.equal((await call('GET', '/api/v1/jobs', WRONG_KEY)).status, 401);
    assert.equal((await call('GET', `/api/v1/jobs?token=${QUERY_TOKEN}`, WRONG_KEY)).status, 401);
    assert.equal((await call('GET', '/api/v1/jobs', `${agent.key}x`)).status, 401);
    const malformed = await call(
      'POST',
      '/api/v1/jobs',
      agent.key,
      undefined,
      `{"topic": "job.mcp-bridge.read.ticket", "payload": {"password": "${PASSWORD}", "key": "${AWS_KEY}"`,
    );
    assert.equal(malformed.status, 400);
    assert.equal((await call('DELETE', `/api/v1/keys/${doomed.id}`, admin)).status, 200);
    assert.equal((await call('GET', '/api/v1/jobs', doomed.key)).status, 401);

    const hookOrigin = `webhook http://127.0.0.1:${String(hookPort)}`;
    await until(() => gateway.stderr().includes(hookOrigin), 'the webhook failure');

    const exited = new Promise<number | null>((done) =>
      gateway.child.once('exit', (code) => {
        done(code);
      }),
    );
    gateway.child.kill('SIGTERM');
    assert.equal(await exited, 0);

    // The whole output, less the one line that shows the bootstrap key by design.
    const bannerLine = `warden: ${admin}`;
    const stdoutLines = gateway.stdout().split('\n');
    assert.equal(stdoutLines.filter((line) => line === bannerLine).length, 1);
    const output = [
      ...stdoutLines.filter((line) => line !== bannerLine),
      ...gateway.stderr().split('\n'),
    ].join('\n');
    const secrets: Record<string, string> = {
      'bootstrap admin key': admin,
      'agent key': agent.key,
      'revoked key': doomed.key,
      'wrong key': WRONG_KEY,
      'webhook secret': HOOK_SECRET,
      'AWS key': AWS_KEY,
      password: PASSWORD,
      'query token': QUERY_TOKEN,
      ...Object.fromEntries(KEY_BODY.map((line, index) => [`private key line ${index}`, line])),
    };
    for (const [what, secret] of Object.entries(secrets)) {
      assert.ok(!output.includes(secret), `the output holds the ${what}:\n${output}`);
    }
    assert.ok(!output.includes('wdn_'), `the output holds an API key:\n${output}`);

    // The log is JSON lines about the requests, so the search above had something to search.
    const records = gateway
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const completed = records
      .filter((record) => record['msg'] === 'request completed')
      .map((record) => record['res'] as { method: string; url: string; statusCode: number });
    assert.ok(completed.length >= 11, `only ${String(completed.length)} request lines`);
    const statuses = completed.map((res) => res.statusCode);
    for (const status of [200, 201, 400, 401]) assert.ok(statuses.includes(status), String(status));
    assert.ok(
      completed.some((res) => res.url === '/api/v1/jobs?token=[REDACTED]'),
      'the query token line',
    );
    assert.ok(
      records.some(
        (record) => (record['res'] as { principal?: string } | undefined)?.principal === agent.id,
      ),
      'a line naming the agent key',
    );
    assert.ok(
      records.some(
        (record) => record['level'] === 40 && String(record['msg']).includes(hookOrigin),
      ),
      'the webhook failure as a JSON warning',
    );
  });
});
