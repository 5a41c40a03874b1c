/**
 * Approval notifications (§5): every new approval and every outcome is sent to each configured
 * notifier (webhook, email), with links to act on it. Delivery happens after the caller has
 * moved on: a notifier that is down, slow or hanging never blocks or fails a submit or a
 * resolution, and never loses the approval (the approval lives in the store; the notice is only
 * a pointer to it). A failed delivery is retried with exponential backoff and every failed
 * attempt is counted per channel.
 *
 * INVARIANT: `requested` and `resolved` return synchronously and never throw; no notifier code
 * runs before they return.
 * INVARIANT: at most `maxInFlight` deliveries (waiting for a retry included) are held at once;
 * one refused over the bound is counted as a failure, so a dead receiver costs bounded memory.
 */
import type { ApprovalRecord } from '../core/approvals/approval.js';
import type { JobRecord } from '../core/jobs/job.js';
import type { Metrics } from '../ports/metrics.js';
import type {
  ApprovalNotice,
  NoticeJob,
  NoticeKind,
  NoticeLinks,
  Notifier,
} from '../ports/notifier.js';
import type { Store } from '../ports/store.js';
import type { ApprovalObserver } from './jobs.js';

export interface RetrySettings {
  /** Attempts per delivery, the first included. */
  readonly attempts: number;
  /** Wait before the second attempt; each later wait doubles. */
  readonly baseDelayMs: number;
}

export const DEFAULT_RETRY: RetrySettings = { attempts: 5, baseDelayMs: 1000 };
export const DEFAULT_PUBLIC_URL = 'http://127.0.0.1:8081';
/** Deliveries held at once; each keeps its notice (payload included) in memory until done. */
export const DEFAULT_MAX_IN_FLIGHT = 256;
/** How long `close` waits for attempts already talking to a receiver. */
export const DEFAULT_CLOSE_DEADLINE_MS = 2000;
/** No wait between attempts grows beyond this, whatever the base and the attempt count. */
const MAX_RETRY_DELAY_MS = 5 * 60_000;

/** How notices are sent; what the server config file sets. */
export interface NotificationSettings {
  readonly notifiers: readonly Notifier[];
  /** Base URL of the links in notices (the address people reach the gateway at). */
  readonly publicUrl?: string;
  readonly retry?: Partial<RetrySettings>;
  readonly maxInFlight?: number;
  readonly closeDeadlineMs?: number;
  /** Told, in words, about each delivery given up on or refused; counters have every attempt. */
  readonly onFailure?: (message: string) => void;
  /**
   * Told when a new approval reached no notifier at all (every channel gave up or refused), so
   * no approver knows of it; the notifier fail mode decides what happens to it.
   */
  readonly onUnannounced?: (approval: ApprovalRecord, reason: string) => void;
}

export interface NotificationsDeps extends NotificationSettings {
  /** Where a resolved approval's job (its payload) is read from. */
  readonly store: Pick<Store, 'getJob'>;
  readonly metrics: Metrics;
}

/** Where a person acts on an approval: the web UI page and the API's resolve endpoints. */
export function noticeLinks(publicUrl: string, jobId: string): NoticeLinks {
  const base = publicUrl.replace(/\/+$/, '');
  const id = encodeURIComponent(jobId);
  return {
    view: `${base}/ui/approvals/${id}`,
    approve: `${base}/api/v1/approvals/${id}/approve`,
    reject: `${base}/api/v1/approvals/${id}/reject`,
  };
}

function noticeJob(job: JobRecord): NoticeJob {
  return {
    risk_tags: job.risk_tags,
    labels: job.labels,
    ...(job.payload === undefined ? {} : { payload: job.payload }),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One notice on its way to one notifier. */
interface Delivery {
  readonly notifier: Notifier;
  /** Builds the notice once, however many notifiers and attempts use it. */
  readonly notice: () => Promise<ApprovalNotice>;
  /** What it is, for failure reports: `approval.requested for job job_...`. */
  readonly label: string;
  /** Told once how the delivery ended: delivered, or given up with why. */
  readonly settled: (failure: string | null) => void;
}

/**
 * Whether a notice reached anyone: calls `unannounced` once every channel has ended and none
 * delivered it.
 */
function announcement(
  channels: number,
  unannounced: (reason: string) => void,
): (failure: string | null) => void {
  let open = channels;
  let delivered = false;
  let lastFailure = '';
  return (failure) => {
    if (failure === null) delivered = true;
    else lastFailure = failure;
    open -= 1;
    if (open === 0 && !delivered) unannounced(lastFailure);
  };
}

export class Notifications implements ApprovalObserver {
  private readonly retry: RetrySettings;
  private readonly publicUrl: string;
  private readonly maxInFlight: number;
  /** Deliveries admitted and not yet done: running, or waiting for their next attempt. */
  private inFlight = 0;
  private readonly waiting = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly deps: NotificationsDeps) {
    this.retry = { ...DEFAULT_RETRY, ...deps.retry };
    this.publicUrl = deps.publicUrl ?? DEFAULT_PUBLIC_URL;
    this.maxInFlight = deps.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  }

  /** Deliveries held now (for tests and diagnostics). */
  get pending(): number {
    return this.inFlight;
  }

  requested(approval: ApprovalRecord, job: JobRecord): void {
    const known = noticeJob(job);
    this.publish('approval.requested', approval, () => Promise.resolve(known));
  }

  resolved(approval: ApprovalRecord): void {
    this.publish('approval.resolved', approval, async () => {
      try {
        const job = await this.deps.store.getJob(approval.job_id);
        return job === null ? null : noticeJob(job);
      } catch {
        // Without the job the notice still says what happened and links to it.
        return null;
      }
    });
  }

  /**
   * Stops all retries (those deliveries are dropped and reported), waits up to the close
   * deadline for attempts already under way, then releases the notifiers' connections.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.waiting) clearTimeout(timer);
    const dropped = this.waiting.size;
    this.waiting.clear();
    this.inFlight -= dropped;
    if (dropped > 0) this.report(`${String(dropped)} notification(s) dropped at shutdown`);
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise<void>((resolve) => {
        deadline = setTimeout(resolve, this.deps.closeDeadlineMs ?? DEFAULT_CLOSE_DEADLINE_MS);
        deadline.unref();
      }),
    ]);
    clearTimeout(deadline);
    for (const notifier of this.deps.notifiers) {
      try {
        notifier.close?.();
      } catch (error) {
        this.report(`closing the ${notifier.channel} notifier failed: ${messageOf(error)}`);
      }
    }
  }

  private publish(
    kind: NoticeKind,
    approval: ApprovalRecord,
    readJob: () => Promise<NoticeJob | null>,
  ): void {
    if (this.closed) return;
    let built: Promise<ApprovalNotice> | undefined;
    const notice = (): Promise<ApprovalNotice> =>
      (built ??= readJob().then((job) => ({
        kind,
        approval,
        job,
        links: noticeLinks(this.publicUrl, approval.job_id),
      })));
    const label = `${kind} for job ${approval.job_id}`;
    const onUnannounced = this.deps.onUnannounced;
    const settled =
      kind === 'approval.requested' && onUnannounced !== undefined
        ? announcement(this.deps.notifiers.length, (reason) => {
            onUnannounced(approval, reason);
          })
        : () => undefined;
    for (const notifier of this.deps.notifiers) {
      if (this.inFlight >= this.maxInFlight) {
        this.deps.metrics.notificationFailed(notifier.channel);
        const reason = `${String(this.maxInFlight)} deliveries already in flight`;
        this.report(`${notifier.channel} notification ${label} refused: ${reason}`);
        settled(`${notifier.channel}: ${reason}`);
        continue;
      }
      this.inFlight += 1;
      // Even the first attempt waits for a timer, so no notifier code runs inside the caller.
      this.schedule({ notifier, notice, label, settled }, 1, 0);
    }
  }

  private schedule(delivery: Delivery, attempt: number, delayMs: number): void {
    const timer = setTimeout(() => {
      this.waiting.delete(timer);
      const run = this.attempt(delivery, attempt);
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }, delayMs);
    // Pending notices never keep the process alive; the gateway's server does.
    timer.unref();
    this.waiting.add(timer);
  }

  /** One attempt; never rejects. Schedules the next one, or ends the delivery. */
  private async attempt(delivery: Delivery, attempt: number): Promise<void> {
    const { notifier } = delivery;
    try {
      await notifier.deliver(await delivery.notice());
      this.inFlight -= 1;
      delivery.settled(null);
    } catch (error) {
      this.deps.metrics.notificationFailed(notifier.channel);
      if (attempt < this.retry.attempts && !this.closed) {
        const delay = Math.min(this.retry.baseDelayMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
        this.schedule(delivery, attempt + 1, delay);
        return;
      }
      this.inFlight -= 1;
      this.report(
        `${notifier.channel} notification ${delivery.label} failed after ` +
          `${String(attempt)} attempt(s): ${messageOf(error)}`,
      );
      if (!this.closed) delivery.settled(`${notifier.channel}: ${messageOf(error)}`);
    }
  }

  private report(message: string): void {
    try {
      this.deps.onFailure?.(message);
    } catch {
      // A failing log sink must not turn into an unhandled rejection inside a delivery.
    }
  }
}
