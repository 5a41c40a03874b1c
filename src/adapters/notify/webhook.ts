/**
 * Webhook notifier: one HTTP POST per notice, as JSON (the approval, what would run, the links)
 * or as a Slack-compatible `{"text": ...}` message. A delivery that times out, cannot connect or
 * gets a non-2xx answer rejects; it never retries itself (the app does, for every channel alike).
 */
import type { ApprovalNotice, Notifier } from '../../ports/notifier.js';

export interface WebhookOptions {
  readonly url: string;
  /** `json` (default): the notice as a document; `slack`: an incoming-webhook message. */
  readonly format?: 'json' | 'slack';
  /** Extra request headers, e.g. a shared secret the receiver checks. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Per request, connecting and reading the answer included (default 5 s). */
  readonly timeoutMs?: number;
}

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5000;

/** The JSON body: stable field names, so receivers can route on `event` and `status`. */
export function webhookBody(notice: ApprovalNotice): Record<string, unknown> {
  const { approval } = notice;
  return {
    event: notice.kind,
    job_id: approval.job_id,
    tenant_id: approval.tenant_id,
    topic: approval.topic,
    agent_id: approval.agent_id,
    status: approval.status,
    rule_id: approval.rule_id,
    reason: approval.reason,
    requested_by: approval.requested_by,
    requested_at: approval.requested_at,
    expires_at: approval.expires_at,
    quorum: approval.quorum,
    job_hash: approval.job_hash,
    resolved_at: approval.resolved_at,
    closed_reason: approval.closed_reason,
    resolutions: approval.resolutions,
    job: notice.job,
    links: notice.links,
  };
}

/** Slack treats `&`, `<` and `>` as markup; text from requests must not be read as links. */
function slackEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A Slack message: what is asked and why, the deadline or the outcome, and where to act. */
export function slackText(notice: ApprovalNotice): string {
  const { approval, links } = notice;
  const topic = slackEscape(approval.topic);
  const rule = slackEscape(approval.rule_id ?? 'default decision');
  const reason = slackEscape(approval.reason);
  const lines =
    notice.kind === 'approval.requested'
      ? [
          `*Approval requested*: \`${topic}\` (job ${approval.job_id}, tenant ${slackEscape(approval.tenant_id)})`,
          `Rule ${rule}: ${reason}`,
          `Requested by ${slackEscape(approval.requested_by)}; expires at ${approval.expires_at}`,
        ]
      : [
          `*Approval ${approval.status}*: \`${topic}\` (job ${approval.job_id}, tenant ${slackEscape(approval.tenant_id)})`,
          `Rule ${rule}: ${reason}`,
          slackEscape(approval.closed_reason ?? approval.status.toLowerCase()),
        ];
  // Approve and reject are POST endpoints: shown as addresses, since a click would send a GET.
  lines.push(
    `<${links.view}|Review in Warden> · approve: POST ${links.approve} · reject: POST ${links.reject}`,
  );
  return lines.join('\n');
}

/** Why fetch failed, in words: fetch's own message ("fetch failed") hides it in `cause`. */
function failureOf(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no answer within ${String(timeoutMs)} ms`;
  }
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code === undefined ? cause.message : `${code} ${cause.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

export function webhookNotifier(options: WebhookOptions): Notifier {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const format = options.format ?? 'json';
  // Only the origin goes into errors: a webhook's path is often its secret (Slack's is).
  const origin = new URL(options.url).origin;
  return {
    channel: 'webhook',
    async deliver(notice) {
      const body = format === 'slack' ? { text: slackText(notice) } : webhookBody(notice);
      let response: Response;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers: { ...options.headers, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
          // A redirect could send the notice (and its payload) somewhere not configured.
          redirect: 'error',
        });
      } catch (error) {
        throw new Error(`webhook ${origin}: ${failureOf(error, timeoutMs)}`, { cause: error });
      }
      // The answer is not used; releasing it frees the connection for the next delivery.
      await response.body?.cancel();
      if (!response.ok) {
        throw new Error(`webhook ${origin} answered ${String(response.status)}`);
      }
    },
  };
}
