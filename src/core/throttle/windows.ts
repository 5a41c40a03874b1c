/**
 * Throttle windows (§4): for each (rule, key) the times of the requests the window holds, as a
 * sliding log. The engine only compares a count with a limit; this keeps the counts.
 *
 * A log never needs more than `limit` entries (the rule throttles once it holds `limit`), so
 * memory per key is bounded by the rule, and keys whose window has emptied are swept.
 */
import { canonicalJson } from '../hash/jcs.js';
import type { JobRequest } from '../model/request.js';

/** A throttle rule that applies to a request, with the window key the request falls into. */
export interface ThrottleWindow {
  readonly rule_id: string;
  /** Canonical text of the rule's key fields for this request. */
  readonly key: string;
  readonly limit: number;
  readonly window_sec: number;
}

/** The values of a throttle's key fields for a request; `labels.<name>` reads a label. */
export function throttleKey(fields: readonly string[], request: JobRequest): string {
  const values = fields.map((field): string | null => {
    if (field.startsWith('labels.')) return request.labels?.[field.slice(7)] ?? null;
    switch (field) {
      case 'tenant_id':
        return request.tenant_id ?? null;
      case 'agent_id':
        return request.agent_id ?? null;
      case 'topic':
        return request.topic;
      case 'principal':
        return request.principal ?? null;
      default:
        return null;
    }
  });
  return canonicalJson(values);
}

/** How often (in recorded requests) expired keys are swept. */
const SWEEP_EVERY = 4096;

interface Log {
  /** The window length the log was last used with; a policy change may alter it. */
  windowMs: number;
  /** Request times in ascending order. */
  readonly times: number[];
}

export class ThrottleLog {
  private readonly logs = new Map<string, Log>();
  private recordsSinceSweep = 0;

  /** How many requests the window holds at `nowMs`. */
  count(window: ThrottleWindow, nowMs: number): number {
    const log = this.logs.get(slot(window));
    if (log === undefined) return 0;
    prune(log.times, nowMs - window.window_sec * 1000);
    return log.times.length;
  }

  /** Adds a request at `nowMs` to the window. */
  record(window: ThrottleWindow, nowMs: number): void {
    const id = slot(window);
    const windowMs = window.window_sec * 1000;
    let log = this.logs.get(id);
    if (log === undefined) {
      log = { windowMs, times: [] };
      this.logs.set(id, log);
    }
    log.windowMs = windowMs;
    prune(log.times, nowMs - windowMs);
    log.times.push(nowMs);
    // Only the newest `limit` entries can ever matter for this rule.
    if (log.times.length > window.limit) log.times.splice(0, log.times.length - window.limit);
    this.recordsSinceSweep += 1;
    if (this.recordsSinceSweep >= SWEEP_EVERY) this.sweep(nowMs);
  }

  /** Takes back a request recorded at `atMs` that did not happen after all (nothing was stored). */
  unrecord(window: ThrottleWindow, atMs: number): void {
    const log = this.logs.get(slot(window));
    if (log === undefined) return;
    const index = log.times.lastIndexOf(atMs);
    if (index >= 0) log.times.splice(index, 1);
  }

  /** Number of keys held. */
  get size(): number {
    return this.logs.size;
  }

  /** Drops keys whose window no longer holds any request, so distinct keys do not pile up. */
  private sweep(nowMs: number): void {
    this.recordsSinceSweep = 0;
    for (const [id, log] of this.logs) {
      const newest = log.times.at(-1);
      if (newest === undefined || newest <= nowMs - log.windowMs) this.logs.delete(id);
    }
  }
}

function slot(window: ThrottleWindow): string {
  return `${window.rule_id}\u0000${window.key}`;
}

/** Removes entries at or before `since` (the log is in time order). */
function prune(log: number[], since: number): void {
  let expired = 0;
  while (expired < log.length && (log[expired] ?? Infinity) <= since) expired += 1;
  if (expired > 0) log.splice(0, expired);
}
