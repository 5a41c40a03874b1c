/**
 * The notifier adapters against real receivers on loopback: the webhook against a `node:http`
 * server (JSON and Slack bodies, headers, failures), the email notifier against a real SMTP
 * server from the `smtp-server` package (envelope, headers, the body an approver reads).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { emailNotifier } from '../../src/adapters/notify/email.js';
import { webhookNotifier } from '../../src/adapters/notify/webhook.js';
import { noticeLinks } from '../../src/app/notifications.js';
import type { ApprovalRecord } from '../../src/core/approvals/approval.js';
import type { ApprovalNotice } from '../../src/ports/notifier.js';
import { closedPort } from '../support/ports.js';

const APPROVAL: ApprovalRecord = {
  job_id: 'job_01JNOTIFYTEST000000000000',
  tenant_id: 'acme',
  topic: 'job.mcp-bridge.write.update_ticket',
  agent_id: 'agent-7',
  job_hash: 'a'.repeat(64),
  policy_snapshot: 'b'.repeat(64),
  rule_id: 'require-approval-prod-write',
  reason: 'writes to production need a human',
  requested_by: 'key-agent',
  requested_at: '2026-11-21T10:00:00.000Z',
  expires_at: '2026-11-21T11:00:00.000Z',
  quorum: 1,
  approver_roles: ['approver', 'admin'],
  allow_self_approval: false,
  status: 'PENDING',
  resolutions: [],
  resolved_at: null,
  closed_reason: null,
  version: 0,
};
/** Long and nested on purpose: mail transfer encodings wrap long lines, the payload must survive. */
const PAYLOAD = {
  ticket: 'T-1',
  fields: { status: 'closed', comment: 'closing as requested by the customer, see thread 4411' },
  amounts: [10.5, 20],
};
const NOTICE: ApprovalNotice = {
  kind: 'approval.requested',
  approval: APPROVAL,
  job: { payload: PAYLOAD, risk_tags: ['prod'], labels: { 'mcp.action': 'write' } },
  links: noticeLinks('https://warden.example.com/', APPROVAL.job_id),
};
const RESOLVED: ApprovalNotice = {
  ...NOTICE,
  kind: 'approval.resolved',
  approval: {
    ...APPROVAL,
    status: 'APPROVED',
    resolutions: [{ by: 'approver-1', decision: 'approve', note: 'ok', at: APPROVAL.expires_at }],
    resolved_at: '2026-11-21T10:05:00.000Z',
    closed_reason: 'approved by approver-1',
    version: 1,
  },
};

interface Received {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

const servers: Server[] = [];
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

/** A webhook receiver answering `status`, or never answering when `status` is null. */
async function receiver(status: number | null, extra: Record<string, string> = {}) {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ method: request.method ?? '', headers: request.headers, body });
      if (status !== null) response.writeHead(status, extra).end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${String(port)}/hooks/secret-path`, received };
}

describe('webhook notifier', () => {
  it('POSTs the notice as JSON: job, rule, reason, expiry, status, payload and links', async () => {
    const { url, received } = await receiver(204);
    const notifier = webhookNotifier({ url, headers: { 'X-Warden-Token': 's3cret' } });
    assert.equal(notifier.channel, 'webhook');
    await notifier.deliver(NOTICE);
    assert.equal(received.length, 1);
    const [request] = received;
    assert.ok(request !== undefined);
    assert.equal(request.method, 'POST');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.headers['x-warden-token'], 's3cret');
    const body = JSON.parse(request.body) as Record<string, unknown>;
    assert.equal(body['event'], 'approval.requested');
    assert.equal(body['job_id'], APPROVAL.job_id);
    assert.equal(body['topic'], APPROVAL.topic);
    assert.equal(body['status'], 'PENDING');
    assert.equal(body['rule_id'], 'require-approval-prod-write');
    assert.equal(body['reason'], 'writes to production need a human');
    assert.equal(body['expires_at'], '2026-11-21T11:00:00.000Z');
    assert.equal(body['requested_by'], 'key-agent');
    assert.deepEqual(body['job'], {
      payload: PAYLOAD,
      risk_tags: ['prod'],
      labels: { 'mcp.action': 'write' },
    });
    assert.deepEqual(body['links'], {
      view: `https://warden.example.com/ui/approvals/${APPROVAL.job_id}`,
      approve: `https://warden.example.com/api/v1/approvals/${APPROVAL.job_id}/approve`,
      reject: `https://warden.example.com/api/v1/approvals/${APPROVAL.job_id}/reject`,
    });
  });

  it('a resolution carries its outcome and who resolved it', async () => {
    const { url, received } = await receiver(200);
    await webhookNotifier({ url }).deliver(RESOLVED);
    const body = JSON.parse(received[0]?.body ?? '') as Record<string, unknown>;
    assert.equal(body['event'], 'approval.resolved');
    assert.equal(body['status'], 'APPROVED');
    assert.equal(body['closed_reason'], 'approved by approver-1');
    assert.deepEqual(
      (body['resolutions'] as { by: string }[]).map((r) => r.by),
      ['approver-1'],
    );
  });

  it('format slack sends a Slack-compatible {"text": ...} message with the links', async () => {
    const { url, received } = await receiver(200);
    await webhookNotifier({ url, format: 'slack' }).deliver({
      ...NOTICE,
      approval: { ...APPROVAL, reason: 'a <b> & c' },
    });
    const body = JSON.parse(received[0]?.body ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['text']);
    const text = String(body['text']);
    assert.match(text, /Approval requested/);
    assert.ok(text.includes(APPROVAL.topic), text);
    assert.ok(text.includes(APPROVAL.job_id), text);
    assert.ok(text.includes('require-approval-prod-write'), text);
    assert.ok(text.includes('2026-11-21T11:00:00.000Z'), text);
    assert.ok(text.includes(`<${NOTICE.links.view}|`), text);
    assert.ok(text.includes(NOTICE.links.approve), text);
    assert.ok(text.includes(NOTICE.links.reject), text);
    // Text from the request is escaped, so it cannot forge Slack links or markup.
    assert.ok(text.includes('a &lt;b&gt; &amp; c'), text);
    await webhookNotifier({ url, format: 'slack' }).deliver(RESOLVED);
    assert.match((JSON.parse(received[1]?.body ?? '') as { text: string }).text, /APPROVED/);
  });

  it('rejects on a non-2xx answer, without the secret path in the error', async () => {
    const { url } = await receiver(500);
    await assert.rejects(webhookNotifier({ url }).deliver(NOTICE), (error: Error) => {
      assert.match(error.message, /answered 500/);
      assert.doesNotMatch(error.message, /secret-path/);
      return true;
    });
  });

  it('rejects on a redirect instead of following it', async () => {
    const { url, received } = await receiver(302, { location: 'http://127.0.0.1:1/elsewhere' });
    await assert.rejects(webhookNotifier({ url }).deliver(NOTICE));
    assert.equal(received.length, 1);
  });

  it('rejects when nothing listens', async () => {
    const port = await closedPort();
    await assert.rejects(
      webhookNotifier({ url: `http://127.0.0.1:${String(port)}/` }).deliver(NOTICE),
      { message: /ECONNREFUSED/ },
    );
  });

  it('rejects a receiver that never answers once its timeout passes', async () => {
    const { url, received } = await receiver(null);
    const started = Date.now();
    await assert.rejects(webhookNotifier({ url, timeoutMs: 150 }).deliver(NOTICE), {
      message: /no answer within 150 ms/,
    });
    // Not before its timeout: the failure is the timeout, not an early error.
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 100, `failed after ${String(elapsed)} ms`);
    assert.equal(received.length, 1);
  });
});

interface Mail {
  readonly from: string;
  readonly to: readonly string[];
  readonly user: unknown;
  readonly headers: Map<string, string>;
  readonly body: string;
}

/** The message's headers (unfolded) and its text body, transfer encoding undone. */
function parseMessage(raw: string): { headers: Map<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const headers = new Map<string, string>();
  for (const line of raw
    .slice(0, split)
    .replace(/\r\n[ \t]+/g, ' ')
    .split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  const encoded = raw.slice(split + 4);
  const encoding = headers.get('content-transfer-encoding') ?? '7bit';
  let body = encoded;
  if (encoding === 'quoted-printable') {
    const bytes = encoded
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    body = Buffer.from(bytes, 'latin1').toString('utf8');
  } else if (encoding === 'base64') {
    body = Buffer.from(encoded.replace(/\s/g, ''), 'base64').toString('utf8');
  }
  return { headers, body: body.replace(/\r\n/g, '\n') };
}

/** A real SMTP server on loopback, recording each message; with `auth`, login is required. */
async function smtpServer(auth?: { user: string; pass: string }) {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    // No TLS certificate to trust in a test; login over plain text is allowed on loopback only.
    disabledCommands: auth === undefined ? ['STARTTLS', 'AUTH'] : ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: auth === undefined,
    logger: false,
    onAuth(credentials, _session, callback) {
      if (credentials.username === auth?.user && credentials.password === auth?.pass) {
        callback(null, { user: credentials.username });
      } else {
        callback(new Error('bad credentials'));
      }
    },
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
      stream.on('end', () => {
        const from = session.envelope.mailFrom;
        mails.push({
          from: from === false ? '' : from.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user,
          ...parseMessage(raw),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  after(
    () =>
      new Promise<void>((resolve) => {
        server.close(resolve);
      }),
  );
  return { port, mails };
}

describe('email notifier', () => {
  it('sends one message to every recipient with the payload, rule, reason, expiry and links', async () => {
    const { port, mails } = await smtpServer();
    const notifier = emailNotifier({
      host: '127.0.0.1',
      port,
      from: 'Warden <warden@example.com>',
      to: ['ops@example.com', 'lead@example.com'],
    });
    assert.equal(notifier.channel, 'email');
    await notifier.deliver(NOTICE);
    notifier.close?.();
    assert.equal(mails.length, 1);
    const [mail] = mails;
    assert.ok(mail !== undefined);
    assert.equal(mail.from, 'warden@example.com');
    assert.deepEqual(mail.to, ['ops@example.com', 'lead@example.com']);
    assert.equal(mail.headers.get('from'), 'Warden <warden@example.com>');
    assert.equal(mail.headers.get('to'), 'ops@example.com, lead@example.com');
    const subject = mail.headers.get('subject') ?? '';
    assert.ok(subject.includes(APPROVAL.topic), subject);
    assert.match(subject, /requested/);
    assert.match(subject, /PENDING/);
    const { body } = mail;
    assert.ok(body.includes(JSON.stringify(PAYLOAD, null, 2)), body);
    for (const expected of [
      APPROVAL.job_id,
      APPROVAL.topic,
      'require-approval-prod-write',
      'writes to production need a human',
      'key-agent',
      '2026-11-21T11:00:00.000Z',
      NOTICE.links.view,
      `POST ${NOTICE.links.approve}`,
      `POST ${NOTICE.links.reject}`,
    ]) {
      assert.ok(body.includes(expected), `${expected} missing from:\n${body}`);
    }
  });

  it('names the outcome of a resolution in the subject and the body', async () => {
    const { port, mails } = await smtpServer();
    const notifier = emailNotifier({
      host: '127.0.0.1',
      port,
      from: 'warden@example.com',
      to: ['ops@example.com'],
    });
    await notifier.deliver(RESOLVED);
    notifier.close?.();
    assert.match(mails[0]?.headers.get('subject') ?? '', /APPROVED/);
    assert.match(mails[0]?.body ?? '', /approved by approver-1/);
  });

  it('logs in when a user and password are configured', async () => {
    const { port, mails } = await smtpServer({ user: 'warden', pass: 'pw' });
    const options = { host: '127.0.0.1', port, from: 'w@example.com', to: ['o@example.com'] };
    await emailNotifier({ ...options, user: 'warden', pass: 'pw' }).deliver(NOTICE);
    assert.equal(mails[0]?.user, 'warden');
    await assert.rejects(emailNotifier({ ...options, user: 'warden', pass: 'no' }).deliver(NOTICE));
    assert.equal(mails.length, 1);
  });

  it('rejects when the SMTP server cannot be reached', async () => {
    const port = await closedPort();
    await assert.rejects(
      emailNotifier({
        host: '127.0.0.1',
        port,
        from: 'w@example.com',
        to: ['o@example.com'],
      }).deliver(NOTICE),
    );
  });
});
