/**
 * The gateway's JSON logs: `redactText` masks every kind of secret it knows and leaves other
 * text alone; a Fastify logger built from the options writes JSON lines in which no secret
 * survives (headers, secret-named fields at any depth, error messages and stacks, messages and
 * their arguments); request lines name method, url, status, time, request id and principal,
 * never headers or bodies.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { OutputFinding } from '../../src/core/scan/output.js';
import { startGateway } from '../../src/main/gateway.js';
import {
  CENSOR,
  findingForLog,
  gatewayLoggerOptions,
  isLogLevel,
  isSecretField,
  redactLine,
  redactText,
} from '../../src/main/logging.js';
import type { LogLevel } from '../../src/main/logging.js';
import { parseStoreLocation } from '../../src/main/store-location.js';

const API_KEY = 'wdn_Q2hhbmdlTWVQbGVhc2VUaGlzSXNOb3RBUmVhbEtleTEyMzQ1Njc4';
const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const KEY_BODY =
  'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4' +
  'xq3fJ9mK8hP0aXc2vB1nQ5rT7uY3wE6sD4gH2jK9lL0zX8cV5bN1mM';
const PRIVATE_KEY = `-----BEGIN PRIVATE KEY-----\n${KEY_BODY}\n-----END PRIVATE KEY-----`;
const DB_PASSWORD = 'pg-Pa55w0rd-xyz';
const DB_URL = `postgres://warden:${DB_PASSWORD}@db.internal:5432/warden`;

/** A Fastify instance whose logger writes its lines into `lines`. */
function loggingApp(level: LogLevel = 'info'): { app: FastifyInstance; lines: string[] } {
  const lines: string[] = [];
  const options = gatewayLoggerOptions({
    level,
    stream: {
      write: (line) => {
        lines.push(line);
      },
    },
  });
  assert.notEqual(options, false);
  return { app: Fastify({ logger: options }), lines };
}

function parsed(lines: readonly string[]): Record<string, unknown>[] {
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

function assertNoneOf(text: string, secrets: readonly string[]): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), `leaked ${secret}:\n${text}`);
}

describe('redactText', () => {
  it('masks API keys, right or wrong, and Bearer tokens', () => {
    assert.equal(redactText(`key ${API_KEY} used`), 'key [REDACTED:api_key] used');
    assert.equal(redactText('Bearer wdn_wrong'), 'Bearer [REDACTED:api_key]');
    assert.equal(
      redactText('Authorization: Bearer eyJhbGciOi.something-opaque'),
      `Authorization: Bearer ${CENSOR}`,
    );
  });

  it('masks the password of credentials in a URL and keeps the rest', () => {
    assert.equal(
      redactText(`connect ${DB_URL} failed`),
      'connect postgres://warden:***@db.internal:5432/warden failed',
    );
    assert.equal(redactText('https://:tok@example.com/x'), 'https://:***@example.com/x');
  });

  it('masks what the output scanners detect as secrets, a private key block whole', () => {
    assert.equal(redactText(`id ${AWS_KEY}.`), 'id [REDACTED:aws_access_key].');
    assert.equal(redactText(`a\n${PRIVATE_KEY}\nb`), 'a\n[REDACTED:private_key]\nb');
    // Without its footer the key runs to the end of the text, so all of it is masked.
    assert.equal(
      redactText(`x -----BEGIN RSA PRIVATE KEY-----\n${KEY_BODY}`),
      'x [REDACTED:private_key]',
    );
    const github = `ghp_${'a1B2'.repeat(9)}`;
    assert.equal(redactText(`token ${github}`), 'token [REDACTED:github_token]');
  });

  it('masks secret-named query parameters and JSON members, not the others', () => {
    assert.equal(
      redactText('/api/v1/jobs?token=abc&page=2&api_key=zz'),
      `/api/v1/jobs?token=${CENSOR}&page=2&api_key=${CENSOR}`,
    );
    assert.equal(redactText('login password=hunter2 ok'), `login password=${CENSOR} ok`);
    assert.equal(
      redactText('body {"user": "ann", "password": "hunter2"}'),
      `body {"user": "ann", "password": "${CENSOR}"}`,
    );
  });

  it('leaves text without secrets as it is, and masked text as it is', () => {
    for (const text of [
      'Server listening at http://127.0.0.1:8081',
      'webhook http://127.0.0.1:9: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:9',
      'email to ops@example.com; the bearer of bad news',
      'page=2&limit=50',
      '',
    ]) {
      assert.equal(redactText(text), text);
    }
    const once = redactText(`${DB_URL} ${API_KEY} Bearer x ?token=y ${AWS_KEY} ${PRIVATE_KEY}`);
    assert.equal(redactText(once), once);
  });

  it('stays fast on long hostile text', () => {
    const hostile = [
      'a'.repeat(200_000),
      'x://'.repeat(50_000),
      '?a=' + 'b'.repeat(200_000),
      '"k": "' + '\\"'.repeat(50_000),
      '-----BEGIN PRIVATE KEY-----'.repeat(1_000),
    ];
    const started = performance.now();
    for (const text of hostile) redactText(text);
    assert.ok(performance.now() - started < 2_000, 'masking is not linear');
  });
});

describe('secret field names and levels', () => {
  it('recognises secret-named fields in any spelling', () => {
    for (const name of [
      'authorization',
      'Cookie',
      'x-api-key',
      'api_key',
      'apiKey',
      'key',
      'token',
      'access_token',
      'client_secret',
      'secret_value',
      'password',
      'db_pass',
      'aws_secret_access_key',
    ])
      assert.equal(isSecretField(name), true, name);
    for (const name of ['method', 'url', 'statusCode', 'reqId', 'principal', 'max_tokens', 'keys'])
      assert.equal(isSecretField(name), false, name);
  });

  it('accepts the pino levels and silent, which turns logging off', () => {
    assert.equal(isLogLevel('debug'), true);
    assert.equal(isLogLevel('loud'), false);
    assert.equal(gatewayLoggerOptions({ level: 'silent' }), false);
  });

  it('logs scanner findings by position only', () => {
    const finding = {
      rule_id: 'no-secrets',
      scanner: 'secrets',
      kind: 'aws_access_key',
      path: '$.creds',
      start: 3,
      end: 23,
      match: AWS_KEY,
    } as OutputFinding;
    assert.deepEqual(findingForLog(finding), {
      rule_id: 'no-secrets',
      scanner: 'secrets',
      kind: 'aws_access_key',
      path: '$.creds',
      start: 3,
      end: 23,
    });
  });
});

describe('the gateway logger', () => {
  it('writes JSON lines with no secret in headers, fields, errors or messages', async () => {
    const { app, lines } = loggingApp();
    await app.ready();
    app.log.info(
      {
        headers: { authorization: `Bearer ${API_KEY}`, 'x-api-key': API_KEY, cookie: 'sid=abc' },
        req: { method: 'GET', url: '/x', headers: { authorization: `Bearer ${API_KEY}` } },
        job: { payload: { nested: { deeper: { api_key: 'deep-secret-value' } } } },
        creds: [{ password: 'list-secret-value' }],
        note: `aws ${AWS_KEY}`,
      },
      'objects',
    );
    app.log.error(new Error(`store at ${DB_URL} refused key ${API_KEY}`));
    app.log.warn(
      { err: new Error('outer', { cause: new Error(`cause has ${AWS_KEY}`) }) },
      'with a cause',
    );
    app.log.info('printf %s and %s', PRIVATE_KEY, `Bearer ${API_KEY}`);
    app.log.info({ password: 'top-level-secret' }, `message naming ${DB_URL}`);
    await app.close();

    const text = lines.join('');
    assertNoneOf(text, [
      API_KEY,
      AWS_KEY,
      KEY_BODY.slice(0, 24),
      DB_PASSWORD,
      'deep-secret-value',
      'list-secret-value',
      'top-level-secret',
      'sid=abc',
    ]);
    const records = parsed(lines);
    assert.equal(records.length, 5);
    const [objects = {}, error = {}, caused = {}, printf = {}, top = {}] = records;
    assert.deepEqual(objects['headers'], {
      authorization: CENSOR,
      'x-api-key': CENSOR,
      cookie: CENSOR,
    });
    assert.deepEqual(objects['req'], { method: 'GET', url: '/x' });
    assert.deepEqual(objects['job'], {
      payload: { nested: { deeper: { api_key: CENSOR } } },
    });
    assert.equal(objects['note'], 'aws [REDACTED:aws_access_key]');
    const err = error['err'] as { message: string; stack: string };
    const masked =
      'store at postgres://warden:***@db.internal:5432/warden refused key [REDACTED:api_key]';
    assert.equal(err.message, masked);
    assert.ok(err.stack.startsWith(`Error: ${masked}`));
    assert.equal(error['msg'], masked);
    assert.equal(
      (caused['err'] as { cause: { message: string } }).cause.message,
      'cause has [REDACTED:aws_access_key]',
    );
    assert.equal(printf['msg'], 'printf [REDACTED:private_key] and Bearer [REDACTED:api_key]');
    assert.equal(top['password'], CENSOR);
    assert.equal(top['msg'], 'message naming postgres://warden:***@db.internal:5432/warden');
  });

  it('logs at the chosen level and above only', async () => {
    const { app, lines } = loggingApp('warn');
    app.log.info('quiet');
    app.log.warn('loud');
    await app.close();
    assert.deepEqual(
      parsed(lines).map((line) => line['msg']),
      ['loud'],
    );
  });

  it('masks strings in a finished line and keeps it valid JSON', () => {
    const line = `${JSON.stringify({ a: `x\n${PRIVATE_KEY}`, b: 'quote " and Bearer abc', c: 1 })}\n`;
    const masked = redactLine(line);
    assert.deepEqual(JSON.parse(masked), {
      a: 'x\n[REDACTED:private_key]',
      b: `quote " and Bearer ${CENSOR}`,
      c: 1,
    });
    const clean = '{"level":30,"msg":"request completed","res":{"statusCode":200}}\n';
    assert.equal(redactLine(clean), clean);
  });

  it('writes one line per request with method, url, status, time, request id and principal', async () => {
    const lines: string[] = [];
    const logger = gatewayLoggerOptions({
      level: 'info',
      stream: {
        write: (line) => {
          lines.push(line);
        },
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'warden-logging-'));
    const gateway = await startGateway({
      policyFile: 'examples/policies/seed.yaml',
      store: parseStoreLocation(`sqlite:${join(dir, 'warden.db')}`),
      dev: false,
      watchPolicy: false,
      logger,
    });
    try {
      const admin = gateway.bootstrapKey?.key;
      assert.ok(admin !== undefined);
      const created = await gateway.server.inject({
        method: 'POST',
        url: '/api/v1/keys?token=query-secret',
        headers: { authorization: `Bearer ${admin}` },
        payload: { name: 'agent', tenant: 'default', roles: ['agent'] },
      });
      assert.equal(created.statusCode, 201);
      const secret = created.json<{ key: string }>().key;
      const submitted = await gateway.server.inject({
        method: 'POST',
        url: '/api/v1/jobs',
        headers: { authorization: `Bearer ${secret}` },
        payload: {
          topic: 'job.mcp-bridge.read.ticket',
          payload: { password: 'body-password', aws: AWS_KEY },
        },
      });
      assert.equal(submitted.statusCode, 201);
      const refused = await gateway.server.inject({
        method: 'GET',
        url: '/api/v1/jobs',
        headers: { authorization: 'Bearer wdn_wrong-key-123' },
      });
      assert.equal(refused.statusCode, 401);

      assertNoneOf(lines.join(''), [
        admin,
        secret,
        'query-secret',
        'body-password',
        AWS_KEY,
        'wdn_wrong-key-123',
      ]);
      const completed = parsed(lines).filter((line) => line['msg'] === 'request completed');
      assert.equal(completed.length, 3);
      const [first = {}, second = {}, third = {}] = completed;
      assert.deepEqual(first['res'], {
        method: 'POST',
        url: `/api/v1/keys?token=${CENSOR}`,
        principal: gateway.bootstrapKey?.id,
        statusCode: 201,
      });
      assert.equal(typeof first['responseTime'], 'number');
      assert.equal(typeof first['reqId'], 'string');
      assert.equal((second['res'] as { statusCode: number }).statusCode, 201);
      // A refused key authenticates as no one: no principal on its line.
      assert.deepEqual(third['res'], { method: 'GET', url: '/api/v1/jobs', statusCode: 401 });
      for (const line of parsed(lines)) {
        assert.equal(JSON.stringify(line).includes('"headers"'), false);
        assert.equal(JSON.stringify(line).includes('"payload"'), false);
      }
    } finally {
      await gateway.close();
    }
  });
});
