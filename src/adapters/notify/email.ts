/**
 * Email notifier over SMTP (nodemailer): one plain-text message per notice to a fixed list of
 * recipients. The body carries exactly what would run (the payload as JSON), so an approver can
 * judge the request from the mail alone, and the links to act on it. Rejects when the server
 * refuses the message or cannot be reached in time; never retries itself.
 */
import { createTransport } from 'nodemailer';
import type { ApprovalNotice, Notifier } from '../../ports/notifier.js';

export interface EmailOptions {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS is used when the server offers it. */
  readonly secure?: boolean;
  readonly user?: string;
  readonly pass?: string;
  readonly from: string;
  readonly to: readonly string[];
  /** For connecting, the greeting and each read (default 10 s). */
  readonly timeoutMs?: number;
}

export const DEFAULT_EMAIL_TIMEOUT_MS = 10_000;

export interface EmailMessage {
  readonly subject: string;
  readonly text: string;
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** The subject and body of the message for one notice. */
export function emailMessage(notice: ApprovalNotice): EmailMessage {
  const { approval, job, links } = notice;
  const requested = notice.kind === 'approval.requested';
  const subject = requested
    ? `[Warden] Approval requested (${approval.status}): ${approval.topic}`
    : `[Warden] Approval ${approval.status}: ${approval.topic}`;
  const headline = requested
    ? 'An action is waiting for your approval.'
    : `The approval was resolved: ${approval.status}${approval.closed_reason === null ? '' : ` (${approval.closed_reason})`}.`;
  const fields: [string, string][] = [
    ['Job', approval.job_id],
    ['Topic', approval.topic],
    ['Tenant', approval.tenant_id],
    ['Agent', approval.agent_id ?? '(none)'],
    ['Status', approval.status],
    ['Rule', approval.rule_id ?? '(default decision)'],
    ['Reason', approval.reason],
    ['Requested by', approval.requested_by],
    ['Requested at', approval.requested_at],
    ['Expires at', approval.expires_at],
    ['Quorum', String(approval.quorum)],
    ['Job hash', approval.job_hash],
  ];
  if (approval.resolved_at !== null) fields.push(['Resolved at', approval.resolved_at]);
  for (const resolution of approval.resolutions) {
    const note = resolution.note === '' ? '' : `: ${resolution.note}`;
    fields.push(['Resolution', `${resolution.decision} by ${resolution.by}${note}`]);
  }
  if (job !== null) {
    fields.push(['Risk tags', job.risk_tags.length === 0 ? '(none)' : job.risk_tags.join(', ')]);
    const labels = Object.entries(job.labels).map(([key, value]) => `${key}=${value}`);
    fields.push(['Labels', labels.length === 0 ? '(none)' : labels.join(', ')]);
  }
  const width = Math.max(...fields.map(([name]) => name.length)) + 2;
  const payload =
    job === null
      ? '(the job could not be read; open the approval to see it)'
      : job.payload === undefined
        ? '(none)'
        : json(job.payload);
  const text = [
    headline,
    '',
    ...fields.map(([name, value]) => `${`${name}:`.padEnd(width)}${value}`),
    '',
    'Payload (exactly what would run):',
    payload,
    '',
    `View:    ${links.view}`,
    `Approve: POST ${links.approve}`,
    `Reject:  POST ${links.reject}`,
    '',
  ].join('\n');
  return { subject, text };
}

export function emailNotifier(options: EmailOptions): Notifier {
  const timeoutMs = options.timeoutMs ?? DEFAULT_EMAIL_TIMEOUT_MS;
  const transport = createTransport({
    host: options.host,
    port: options.port,
    secure: options.secure ?? false,
    ...(options.user === undefined || options.pass === undefined
      ? {}
      : { auth: { user: options.user, pass: options.pass } }),
    // nodemailer's defaults (minutes) would hold a delivery slot long after the server is gone.
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  return {
    channel: 'email',
    async deliver(notice) {
      const { subject, text } = emailMessage(notice);
      await transport.sendMail({ from: options.from, to: [...options.to], subject, text });
    },
    close() {
      transport.close();
    },
  };
}
