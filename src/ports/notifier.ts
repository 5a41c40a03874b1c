/**
 * The notifier port (§5): tells people that an approval is waiting or was resolved. An adapter
 * delivers one notice once and reports failure by rejecting; retries, backoff, the bound on work
 * in flight and the failure counters belong to the app (`app/notifications.ts`), so every
 * channel behaves the same when its receiver is down.
 */
import type { ApprovalRecord } from '../core/approvals/approval.js';

export type NoticeKind = 'approval.requested' | 'approval.resolved';

/** What would run, so the approver can judge it from the notice alone. */
export interface NoticeJob {
  readonly payload?: unknown;
  readonly risk_tags: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

/** Where a person acts on the approval: the web UI page, and the two API endpoints (POST). */
export interface NoticeLinks {
  readonly view: string;
  readonly approve: string;
  readonly reject: string;
}

export interface ApprovalNotice {
  readonly kind: NoticeKind;
  readonly approval: ApprovalRecord;
  /** Null when the job could not be read (the notice still goes out). */
  readonly job: NoticeJob | null;
  readonly links: NoticeLinks;
}

export interface Notifier {
  /** The metrics label of this kind of notifier; a small fixed set (`webhook`, `email`). */
  readonly channel: string;
  /**
   * Delivers one notice; rejects when the receiver did not accept it. Settles within the
   * adapter's own timeout: a delivery holds one of the app's bounded in-flight slots until then.
   */
  deliver(notice: ApprovalNotice): Promise<void>;
  /** Releases connections held between deliveries. */
  close?(): void;
}
