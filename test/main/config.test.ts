/**
 * The server config file: a valid file gives typed settings, an absent one the defaults; every
 * kind of problem is reported with its path, all at once; `warden serve --config` prints them
 * and exits 2 before opening anything; and a gateway started with a file runs with its
 * settings (queue bound, notifications).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { main } from '../../src/cli/program.js';
import {
  ConfigError,
  DEFAULT_SERVER_CONFIG,
  loadServerConfig,
  parseServerConfig,
} from '../../src/main/config.js';
import { startGateway } from '../../src/main/gateway.js';
import { parseStoreLocation } from '../../src/main/store-location.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-config-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The problems a config text is refused with (fails the test if it is accepted). */
function problems(text: string): readonly string[] {
  try {
    parseServerConfig(text, 'warden.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.file, 'warden.yaml');
    for (const problem of error.problems) assert.ok(error.message.includes(problem));
    return error.problems;
  }
  return assert.fail('the config was accepted');
}

const FULL = `
limits: { body_bytes: 2097152, json_depth: 32, request_timeout_ms: 15000 }
rate_limit: { requests_per_second: 50, burst: 100 }
fail_modes: { store: closed, audit: open, notifier: open }
evaluation: { deadline_ms: 25 }
audit:
  signing_key_file: /etc/warden/audit.key
  checkpoint_log_file: /var/log/warden/checkpoints.jsonl
  checkpoint_every_events: 500
  checkpoint_every_ms: 30000
  retention_days: 90
  forward:
    url: https://siem.example.com/ingest
    headers: { Authorization: Bearer siem-token }
    batch_size: 200
    interval_ms: 500
    timeout_ms: 3000
    cursor: siem-main
approvals:
  max_pending_per_tenant: 500
  sweep_interval_ms: 250
notifications:
  public_url: https://warden.example.com
  retry: { attempts: 3, base_delay_ms: 200 }
  webhooks:
    - url: https://hooks.example.com/warden
      headers: { X-Warden-Token: s3cret }
      timeout_ms: 2000
    - url: https://hooks.slack.com/services/T/B/X
      format: slack
  email:
    host: smtp.example.com
    port: 587
    secure: false
    user: warden
    pass: pw
    from: Warden <warden@example.com>
    to: [ops@example.com, lead@example.com]
`;

describe('server config file', () => {
  it('a valid file gives every setting, in the shape the gateway takes', () => {
    assert.deepEqual(parseServerConfig(FULL, 'warden.yaml'), {
      limits: { body_bytes: 2097152, json_depth: 32, request_timeout_ms: 15000 },
      rateLimit: { requests_per_second: 50, burst: 100 },
      failModes: {
        modes: { store: 'closed', audit: 'open', notifier: 'open', evaluation: 'closed' },
        declared: ['store', 'audit', 'notifier'],
      },
      evaluationDeadlineMs: 25,
      audit: {
        signingKeyFile: '/etc/warden/audit.key',
        checkpointLogFile: '/var/log/warden/checkpoints.jsonl',
        checkpointEveryEvents: 500,
        checkpointEveryMs: 30000,
        retentionDays: 90,
        forward: {
          url: 'https://siem.example.com/ingest',
          headers: { Authorization: 'Bearer siem-token' },
          batchSize: 200,
          intervalMs: 500,
          timeoutMs: 3000,
          cursor: 'siem-main',
        },
      },
      approvals: { maxPendingPerTenant: 500, sweepIntervalMs: 250 },
      notifications: {
        publicUrl: 'https://warden.example.com',
        retry: { attempts: 3, baseDelayMs: 200 },
        webhooks: [
          {
            url: 'https://hooks.example.com/warden',
            headers: { 'X-Warden-Token': 's3cret' },
            timeoutMs: 2000,
          },
          { url: 'https://hooks.slack.com/services/T/B/X', format: 'slack' },
        ],
        email: {
          host: 'smtp.example.com',
          port: 587,
          secure: false,
          user: 'warden',
          pass: 'pw',
          from: 'Warden <warden@example.com>',
          to: ['ops@example.com', 'lead@example.com'],
        },
      },
    });
  });

  it('absent sections and keys take the defaults; an empty file is the default config', () => {
    assert.deepEqual(parseServerConfig('', 'warden.yaml'), DEFAULT_SERVER_CONFIG);
    assert.deepEqual(parseServerConfig('approvals:\nnotifications:\n', 'w'), DEFAULT_SERVER_CONFIG);
    const partial = parseServerConfig('notifications: { retry: { attempts: 2 } }', 'w');
    assert.deepEqual(partial.notifications.retry, {
      attempts: 2,
      baseDelayMs: DEFAULT_SERVER_CONFIG.notifications.retry.baseDelayMs,
    });
    assert.equal(partial.notifications.publicUrl, 'http://127.0.0.1:8081');
    assert.deepEqual(DEFAULT_SERVER_CONFIG.notifications.webhooks, []);
    assert.equal(DEFAULT_SERVER_CONFIG.notifications.email, null);
  });

  it('refuses fail modes, deadlines and audit settings it cannot honour', () => {
    assert.deepEqual(
      problems(`
limits: { body_bytes: 0, depth: 3 }
rate_limit: { burst: 10 }
fail_modes: { store: maybe, cache: open }
evaluation: { deadline_ms: 0 }
audit:
  checkpoint_every_events: 0
  retention_days: 0
  forward: { url: ftp://siem, batch_size: 100000 }
`),
      [
        'limits.depth: unknown key (expected one of: body_bytes, json_depth, string_chars, payload_bytes, labels, label_key_chars, label_value_chars, url_chars, header_count, header_bytes, headers_timeout_ms, request_timeout_ms, idle_timeout_ms)',
        'limits.body_bytes: must be at least 1',
        'rate_limit.requests_per_second: is required',
        'fail_modes.cache: unknown key (expected one of: store, audit, notifier, evaluation)',
        'fail_modes.store: must be closed or open',
        'evaluation.deadline_ms: must be at least 1',
        'audit.checkpoint_every_events: must be at least 1',
        'audit.retention_days: must be at least 1',
        'audit.forward.url: must be an http(s) URL',
        'audit.forward.batch_size: must be at most 10000',
      ],
    );
  });

  it('turns the rate limit off with `rate_limit: off`', () => {
    assert.equal(parseServerConfig('rate_limit: off', 'w').rateLimit, null);
    assert.equal(parseServerConfig('', 'w').rateLimit, undefined);
  });

  it('reports every problem at once, each with its path', () => {
    const found = problems(`
approvals:
  max_pending_per_tenant: 0
  sweep_interval_ms: "1000"
notifications:
  public_url: ftp://warden.example.com
  retry: { attempts: 1.5, base_delay_ms: 0 }
  webhooks:
    - format: xml
      headers: { "not a header": x, X-Number: 5, X-Split: "a\\nb", Content-Type: text/plain }
      timeout_ms: 99999999999
    - url: not a url
    - just-a-string
  email:
    port: 70000
    secure: "yes"
    user: warden
    from: nobody
    to: [ops@example.com, 12]
`);
    assert.deepEqual(found, [
      'approvals.max_pending_per_tenant: must be at least 1',
      'approvals.sweep_interval_ms: must be an integer',
      'notifications.public_url: must be an http(s) URL',
      'notifications.retry.attempts: must be an integer',
      'notifications.retry.base_delay_ms: must be at least 1',
      'notifications.webhooks[0].url: is required',
      'notifications.webhooks[0].format: must be json or slack',
      'notifications.webhooks[0].headers.not a header: is not a valid header name',
      'notifications.webhooks[0].headers.X-Number: must be a string',
      'notifications.webhooks[0].headers.X-Split: must be a single line',
      'notifications.webhooks[0].headers.Content-Type: is set by the format',
      'notifications.webhooks[0].timeout_ms: must be at most 2147483647',
      'notifications.webhooks[1].url: must be an http(s) URL',
      'notifications.webhooks[2]: must be a mapping',
      'notifications.email.host: is required',
      'notifications.email.port: must be at most 65535',
      'notifications.email.secure: must be true or false',
      'notifications.email: user and pass go together: give both or neither',
      'notifications.email.from: must be an email address',
      'notifications.email.to[1]: must be a non-empty string',
    ]);
  });

  it('refuses unknown keys at every level, naming the keys it expected', () => {
    const found = problems(`
approval: {}
approvals: { max_pending: 5 }
notifications:
  webhook: []
  retry: { tries: 3 }
  webhooks: [{ url: "https://h.example.com", secret: x }]
  email: { host: h, port: 25, from: a@b.c, to: [d@e.f], tls: true }
`);
    assert.deepEqual(found, [
      'approval: unknown key (expected one of: limits, rate_limit, fail_modes, evaluation, audit, approvals, notifications)',
      'approvals.max_pending: unknown key (expected one of: max_pending_per_tenant, sweep_interval_ms)',
      'notifications.webhook: unknown key (expected one of: public_url, retry, webhooks, email)',
      'notifications.retry.tries: unknown key (expected one of: attempts, base_delay_ms)',
      'notifications.webhooks[0].secret: unknown key (expected one of: url, format, headers, timeout_ms)',
      'notifications.email.tls: unknown key (expected one of: host, port, secure, user, pass, from, to)',
    ]);
  });

  it('reports wrong shapes: a list where a mapping goes, and the reverse', () => {
    assert.deepEqual(problems('- approvals'), ['(top level): must be a mapping']);
    assert.deepEqual(problems('approvals: [1]\nnotifications: 3'), [
      'approvals: must be a mapping',
      'notifications: must be a mapping',
    ]);
    assert.deepEqual(
      problems('notifications: { webhooks: { url: "https://h.example.com" }, email: { to: [] } }'),
      [
        'notifications.webhooks: must be a list',
        'notifications.email.host: is required',
        'notifications.email.port: is required',
        'notifications.email.from: is required',
        'notifications.email.to: must be a non-empty list of email addresses',
      ],
    );
  });

  it('reports YAML syntax errors and duplicate keys with their position', () => {
    const [syntax] = problems('approvals: { max_pending_per_tenant: 5\n');
    assert.match(syntax ?? '', /^YAML: .* at line \d+, column \d+$/);
    const [duplicate] = problems('approvals: {}\napprovals: {}\n');
    assert.match(duplicate ?? '', /^YAML: .*unique.*line 2/i);
  });

  it('loads a file, and says so when the file cannot be read', () => {
    const path = file('ok.yaml', FULL);
    assert.equal(loadServerConfig(path).approvals.maxPendingPerTenant, 500);
    const missing = join(dir, 'missing.yaml');
    assert.throws(
      () => loadServerConfig(missing),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems, ['cannot be read: no such file']);
        return true;
      },
    );
  });
});

describe('warden serve --config', () => {
  it('prints every problem with its path and exits 2 before starting', async () => {
    const bad = file('bad.yaml', 'notifications:\n  webhooks:\n    - url: nope\n  extra: 1\n');
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(
      ['serve', '--dev', '--port', '0', '--db', `sqlite:${join(dir, 'never.db')}`, '--config', bad],
      { out: (line) => out.push(line), err: (line) => err.push(line) },
    );
    assert.equal(code, 2);
    assert.deepEqual(out, []);
    const message = err.join('\n');
    assert.ok(message.includes(`config file ${bad}`), message);
    assert.ok(message.includes('notifications.webhooks[0].url: must be an http(s) URL'), message);
    assert.ok(message.includes('notifications.extra: unknown key'), message);
  });
});

describe('a gateway started with a config file', () => {
  it('applies its request limits and rate limit', async () => {
    const gateway = await startGateway({
      policyFile: 'examples/policies/seed.yaml',
      store: parseStoreLocation(`sqlite:${join(dir, 'limits.db')}`),
      dev: true,
      watchPolicy: false,
      serverConfig: parseServerConfig(
        'limits: { labels: 1 }\nrate_limit: { requests_per_second: 1, burst: 2 }',
        'warden.yaml',
      ),
    });
    try {
      const submit = (labels: Record<string, string>) =>
        gateway.server.inject({
          method: 'POST',
          url: '/api/v1/jobs',
          payload: { topic: 'job.mcp-bridge.read.list_tickets', labels },
        });
      const tooMany = await submit({ a: '1', b: '2' });
      assert.equal(tooMany.statusCode, 400, tooMany.body);
      assert.equal((await submit({ a: '1' })).statusCode, 201);
      const limited = await submit({ a: '1' });
      assert.equal(limited.statusCode, 429, limited.body);
      assert.equal(limited.headers['retry-after'], '1');
    } finally {
      await gateway.close();
    }
  });

  it('bounds the approval queue and sends notices as configured', async () => {
    const hits: Record<string, unknown>[] = [];
    const receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        hits.push(JSON.parse(body) as Record<string, unknown>);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    after(() => {
      receiver.closeAllConnections();
      receiver.close();
    });
    const { port } = receiver.address() as AddressInfo;
    const config = parseServerConfig(
      `approvals: { max_pending_per_tenant: 1 }
notifications:
  public_url: https://warden.example.com
  webhooks: [{ url: "http://127.0.0.1:${String(port)}/hook" }]
`,
      'warden.yaml',
    );
    const gateway = await startGateway({
      policyFile: 'examples/policies/seed.yaml',
      store: parseStoreLocation(`sqlite:${join(dir, 'gateway.db')}`),
      dev: true,
      watchPolicy: false,
      serverConfig: config,
    });
    try {
      const submit = async (): Promise<{ state: string; job_id: string }> =>
        (
          await gateway.server.inject({
            method: 'POST',
            url: '/api/v1/jobs',
            payload: {
              topic: 'job.mcp-bridge.write.update_ticket',
              risk_tags: ['prod'],
              labels: { 'mcp.action': 'write' },
            },
          })
        ).json();
      const first = await submit();
      const second = await submit();
      assert.equal(first.state, 'APPROVAL_REQUIRED');
      assert.equal(second.state, 'DENIED');
      const deadline = Date.now() + 5000;
      while (hits.length < 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const [notice] = hits;
      assert.ok(notice !== undefined, 'no notice arrived');
      assert.equal(hits.length, 1);
      assert.equal(notice['job_id'], first.job_id);
      assert.equal(
        (notice['links'] as { view: string }).view,
        `https://warden.example.com/ui/approvals/${first.job_id}`,
      );
    } finally {
      await gateway.close();
    }
  });
});
