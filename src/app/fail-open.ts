/**
 * Every time a component's failure lets an action through because its fail mode is `open`
 * (§11), the gateway counts it (`warden_fail_open_total{component}`) and puts it in the audit
 * trail. When the audit trail itself is what failed, the record waits here and is appended once
 * the trail accepts writes again; until then `unaudited` says how many are missing, which the
 * governance checklist reports.
 *
 * Memory is bounded: past `MAX_WAITING` records, further ones are folded into a per-component
 * count that is audited as one summary event.
 */
import type { UnsealedEvent } from '../core/audit/chain.js';
import type { Clock } from '../ports/clock.js';
import type { FailOpenComponent, Metrics } from '../ports/metrics.js';
import type { Store } from '../ports/store.js';

export interface FailOpen {
  readonly component: FailOpenComponent;
  /** What failed, in words. */
  readonly reason: string;
  /** The action it let through, when there is one. */
  readonly tenant_id?: string;
  readonly trace_id?: string;
  readonly job_id?: string | null;
}

const MAX_WAITING = 1000;
/** Events about the gateway as a whole, as policy events are. */
const GLOBAL_TENANT = '*';
export const FAIL_OPEN_EVENT = 'fail_open';

export class FailOpenLedger {
  private waiting: UnsealedEvent[] = [];
  private readonly folded = new Map<FailOpenComponent, number>();
  private flushing: Promise<void> | null = null;
  private total = 0;

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly clock: Clock;
      readonly metrics: Metrics;
    },
  ) {}

  /** Fail-opens since start. */
  get count(): number {
    return this.total;
  }

  /** Fail-opens not yet in the audit trail. */
  get unaudited(): number {
    let folded = 0;
    for (const n of this.folded.values()) folded += n;
    return this.waiting.length + folded;
  }

  /** Counts the fail-open and tries to audit it at once (without making the caller wait). */
  record(failOpen: FailOpen): void {
    this.total += 1;
    this.deps.metrics.failOpen(failOpen.component);
    if (this.waiting.length < MAX_WAITING) {
      this.waiting.push({
        at: this.deps.clock.now(),
        type: FAIL_OPEN_EVENT,
        tenant_id: failOpen.tenant_id ?? GLOBAL_TENANT,
        trace_id: failOpen.trace_id ?? 'fail-open',
        job_id: failOpen.job_id ?? null,
        actor: 'system',
        data: { component: failOpen.component, reason: failOpen.reason },
      });
    } else {
      this.folded.set(failOpen.component, (this.folded.get(failOpen.component) ?? 0) + 1);
    }
    void this.flush().catch(() => undefined);
  }

  /**
   * Appends what waits; rejects (keeping it) while the trail refuses writes. One flush at a
   * time, so records are appended once and in order.
   */
  flush(): Promise<void> {
    this.flushing ??= this.appendWaiting().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async appendWaiting(): Promise<void> {
    while (this.waiting.length > 0 || this.folded.size > 0) {
      const batch = this.waiting.slice(0, 100);
      const folded = [...this.folded];
      const summaries: UnsealedEvent[] = folded.map(([component, n]) => ({
        at: this.deps.clock.now(),
        type: FAIL_OPEN_EVENT,
        tenant_id: GLOBAL_TENANT,
        trace_id: 'fail-open',
        job_id: null,
        actor: 'system',
        data: {
          component,
          reason: `${String(n)} more fail-opens while the audit trail was failing`,
        },
      }));
      await this.deps.store.appendAudit([...batch, ...summaries]);
      this.waiting = this.waiting.slice(batch.length);
      for (const [component, n] of folded) {
        const left = (this.folded.get(component) ?? 0) - n;
        if (left > 0) this.folded.set(component, left);
        else this.folded.delete(component);
      }
    }
  }
}
