/**
 * The in-process dispatcher (the embedded default): a queue in the gateway's memory.
 *
 * Nothing here is durable, and nothing needs to be: the outbox in the store is. A gateway that
 * restarts loses this queue and its relay publishes every job still in the outbox again.
 */
import { compileGlob } from '../../core/policy/glob.js';
import type { Glob } from '../../core/policy/glob.js';
import { DEDUP_WINDOW_MS, DEFAULT_ACK_WAIT_MS } from '../../ports/dispatcher.js';
import type {
  Delivery,
  DispatchMessage,
  Dispatcher,
  ReceiveRequest,
} from '../../ports/dispatcher.js';

export interface InProcessDispatcherOptions {
  readonly ackWaitMs?: number;
  readonly dedupWindowMs?: number;
  /** Milliseconds since the epoch; for tests. */
  readonly now?: () => number;
}

interface Entry {
  readonly message: DispatchMessage;
  /** Bumped on every delivery, so a stale ack or timer of an earlier delivery does nothing. */
  generation: number;
  timer: NodeJS.Timeout | null;
}

interface Waiter {
  readonly globs: readonly Glob[];
  readonly max: number;
  readonly finish: (deliveries: Delivery[]) => void;
}

export class InProcessDispatcher implements Dispatcher {
  private readonly ackWaitMs: number;
  private readonly dedupWindowMs: number;
  private readonly now: () => number;
  /** Message id → when it was published, for the de-duplication window. */
  private readonly published = new Map<string, number>();
  /** Messages ready for delivery, oldest first. */
  private ready: Entry[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(options: InProcessDispatcherOptions = {}) {
    this.ackWaitMs = options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    this.dedupWindowMs = options.dedupWindowMs ?? DEDUP_WINDOW_MS;
    this.now = options.now ?? Date.now;
  }

  publish(message: DispatchMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the dispatcher is closed'));
    this.forgetOldIds();
    if (this.published.has(message.message_id)) return Promise.resolve();
    this.published.set(message.message_id, this.now());
    this.makeReady({ message, generation: 0, timer: null });
    return Promise.resolve();
  }

  receive(request: ReceiveRequest): Promise<readonly Delivery[]> {
    if (this.closed) return Promise.resolve([]);
    const globs = request.topics.map((topic) => compileGlob(topic, '.'));
    const taken = this.take(globs, request.max);
    if (taken.length > 0 || request.wait_ms <= 0 || request.signal?.aborted === true) {
      return Promise.resolve(taken);
    }
    return new Promise((resolve) => {
      const stop = (): void => {
        waiter.finish([]);
      };
      const timer = setTimeout(stop, request.wait_ms);
      const waiter: Waiter = {
        globs,
        max: request.max,
        finish: (deliveries) => {
          if (!this.waiters.delete(waiter)) return;
          clearTimeout(timer);
          request.signal?.removeEventListener('abort', stop);
          resolve(deliveries);
        },
      };
      this.waiters.add(waiter);
      request.signal?.addEventListener('abort', stop, { once: true });
    });
  }

  ping(): Promise<void> {
    return this.closed ? Promise.reject(new Error('the dispatcher is closed')) : Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    for (const waiter of [...this.waiters]) waiter.finish([]);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const entry of this.ready) if (entry.timer !== null) clearTimeout(entry.timer);
    this.ready = [];
    return Promise.resolve();
  }

  /** Queues an entry, or hands it straight to a receiver waiting for its topic. */
  private makeReady(entry: Entry): void {
    if (this.closed) return;
    for (const waiter of this.waiters) {
      if (!matches(waiter.globs, entry)) continue;
      const deliveries = [this.deliver(entry)];
      deliveries.push(...this.take(waiter.globs, waiter.max - 1));
      waiter.finish(deliveries);
      return;
    }
    this.ready.push(entry);
  }

  private take(globs: readonly Glob[], max: number): Delivery[] {
    const deliveries: Delivery[] = [];
    if (max <= 0) return deliveries;
    const rest: Entry[] = [];
    for (const entry of this.ready) {
      if (deliveries.length < max && matches(globs, entry)) deliveries.push(this.deliver(entry));
      else rest.push(entry);
    }
    this.ready = rest;
    return deliveries;
  }

  private deliver(entry: Entry): Delivery {
    entry.generation += 1;
    const generation = entry.generation;
    const current = (): boolean => entry.generation === generation && !this.closed;
    // Neither acknowledged nor released in time: deliver it again.
    entry.timer = this.later(this.ackWaitMs, () => {
      if (current()) this.requeue(entry);
    });
    const settle = (): boolean => {
      if (!current()) return false;
      entry.generation += 1;
      if (entry.timer !== null) clearTimeout(entry.timer);
      entry.timer = null;
      return true;
    };
    return {
      message: entry.message,
      ack: () => {
        settle();
        return Promise.resolve();
      },
      release: (delayMs = 0) => {
        if (settle()) {
          if (delayMs <= 0) this.requeue(entry);
          else
            this.later(delayMs, () => {
              this.requeue(entry);
            });
        }
        return Promise.resolve();
      },
    };
  }

  private requeue(entry: Entry): void {
    entry.generation += 1;
    entry.timer = null;
    this.makeReady(entry);
  }

  private later(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    timer.unref();
    this.timers.add(timer);
    return timer;
  }

  private forgetOldIds(): void {
    const horizon = this.now() - this.dedupWindowMs;
    // Map iteration is insertion order, so the oldest ids come first.
    for (const [id, at] of this.published) {
      if (at > horizon) break;
      this.published.delete(id);
    }
  }
}

function matches(globs: readonly Glob[], entry: Entry): boolean {
  const topic = entry.message.job.topic;
  return globs.some((glob) => glob.test(topic));
}
