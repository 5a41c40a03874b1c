/**
 * The NATS JetStream dispatcher (§7, scale-out): the dispatcher port over one JetStream stream.
 *
 * Owns: the stream (created, or brought up to date, on connect), one durable pull consumer per
 * set of topic globs, the translation of globs into subject filters, and riding out outages of
 * the server. It must not interpret jobs: the store's job row is the truth, this is transport.
 *
 * Layout: a job on topic `t` is stored under `<prefix>.<t>`, with the message id as JetStream's
 * `Nats-Msg-Id`, so the server itself drops a repeat within the stream's `duplicate_window`.
 *
 * Receivers: each distinct set of globs (sorted, de-duplicated) has its own durable consumer,
 * named from a hash of the set. Receivers with the same set share it and so compete for messages;
 * receivers with different sets hold independent cursors over the stream (limits retention), so
 * each of them may see a message. The port allows that: the gateway leases by compare-and-set.
 *
 * A consumer filters on the narrowest single subject covering all of its globs (`subjects.ts`)
 * and the exact glob check happens here. A message the filter let through but the globs reject
 * is terminated on that consumer only; other sets' consumers still hold it, so it is never lost
 * to them.
 *
 * While disconnected: the client reconnects forever; publish, ack and release reject at once
 * (the outbox retries, and an unsettled delivery comes back after `ack_wait`); receive waits for
 * the connection until its deadline and answers []; ping rejects.
 */
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
  connect,
  createInbox,
} from '@nats-io/transport-node';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { compileGlob } from '../../core/policy/glob.js';
import type { Glob } from '../../core/policy/glob.js';
import { DEDUP_WINDOW_MS, DEFAULT_ACK_WAIT_MS } from '../../ports/dispatcher.js';
import { consumerNameFor, filterSubjectFor, topicGlobProblem, topicProblem } from './subjects.js';
import type {
  Delivery,
  DispatchMessage,
  Dispatcher,
  ReceiveRequest,
} from '../../ports/dispatcher.js';

export interface JetStreamDispatcherOptions {
  /** One URL or several, e.g. `nats://127.0.0.1:4222`. */
  readonly servers: string | readonly string[];
  /** Stream name; default `WARDEN_DISPATCH`. */
  readonly stream?: string;
  /** Subjects are `<subjectPrefix>.<topic>`; default `warden.dispatch`. */
  readonly subjectPrefix?: string;
  readonly ackWaitMs?: number;
  /** The stream's `duplicate_window`. */
  readonly dedupWindowMs?: number;
  /**
   * The server deletes a consumer nobody has pulled from for this long (default 24 h). A glob
   * set that comes back later gets a new consumer, which starts from the oldest message kept.
   */
  readonly inactiveConsumerMs?: number;
  /** The stream's `max_age`; 0 (the default) keeps messages until the stream's other limits. */
  readonly maxAgeMs?: number;
  /** Bound on every request to the server (publish acknowledgement, management, ack). */
  readonly requestTimeoutMs?: number;
  /** Pause between reconnect attempts; they never stop. */
  readonly reconnectWaitMs?: number;
  /** Told about a message this adapter discarded because it could not be a dispatch message. */
  readonly onDiscard?: (subject: string, reason: string) => void;
}

const DEFAULT_STREAM = 'WARDEN_DISPATCH';
const DEFAULT_PREFIX = 'warden.dispatch';
const DEFAULT_INACTIVE_CONSUMER_MS = 24 * 60 * 60 * 1000;
const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
const DEFAULT_RECONNECT_WAIT_MS = 1_000;
/** How long past a pull's own expiry we wait for the server's answer before giving up on it. */
const PULL_GRACE_MS = 250;
/** Pause before trying a receive again after a transport failure. */
const RETRY_PAUSE_MS = 250;

const MS = 1_000_000; // nanoseconds per millisecond, JetStream's unit for durations
const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

interface Settings {
  readonly servers: string | readonly string[];
  readonly ackWaitMs: number;
  readonly inactiveConsumerMs: number;
  readonly requestTimeoutMs: number;
  readonly onDiscard: ((subject: string, reason: string) => void) | undefined;
}

interface GlobSet {
  readonly consumer: string;
  readonly filter: string;
  readonly globs: readonly Glob[];
}

interface ConsumerEntry {
  readonly ready: Promise<void>;
  /** When this process last pulled from it, to know the server has not retired it since. */
  usedAt: number;
}

interface Pulled {
  readonly messages: readonly Msg[];
  /** False when the server never answered: the consumer may be gone, so ensure it again. */
  readonly answered: boolean;
}

export class JetStreamDispatcher implements Dispatcher {
  private readonly consumers = new Map<string, ConsumerEntry>();
  /**
   * Ends every pull in flight: on close, and on reconnect, since a restarted server has forgotten
   * the pulls it held (the receive then pulls again for the rest of its wait).
   */
  private readonly pullsInFlight = new Set<() => void>();
  /** Timers ending the subscriptions of interrupted pulls; the connection's close ends them too. */
  private readonly lingering = new Set<NodeJS.Timeout>();
  private readonly reconnectWaiters = new Set<() => void>();
  /** Every pause of a receive, woken on close. */
  private readonly pauses = new Set<() => void>();
  private readonly statusLoop: Promise<void>;
  private connected = true;
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly prefix: string,
    private readonly settings: Settings,
  ) {
    this.statusLoop = this.watchStatus();
  }

  /**
   * Connects, and creates the stream or brings its subjects, de-duplication window and age limit
   * up to date. Rejects when the server cannot be reached now; later outages are ridden out.
   */
  static async connect(options: JetStreamDispatcherOptions): Promise<JetStreamDispatcher> {
    const stream = options.stream ?? DEFAULT_STREAM;
    const prefix = options.subjectPrefix ?? DEFAULT_PREFIX;
    if (!NAME_PATTERN.test(stream))
      throw new Error(`stream name "${stream}" must be 1 to 64 of A-Z a-z 0-9 _ -`);
    if (topicProblem(prefix) !== null)
      throw new Error(
        `subject prefix "${prefix}" must be dot-separated segments of A-Z a-z 0-9 _ : -`,
      );
    const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const servers = typeof options.servers === 'string' ? [options.servers] : [...options.servers];
    const nc = await connect({
      servers,
      name: `warden-dispatcher-${stream}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectWaitMs ?? DEFAULT_RECONNECT_WAIT_MS,
      timeout: requestTimeoutMs,
    });
    try {
      const jsm = await jetstreamManager(nc, { timeout: requestTimeoutMs });
      await ensureStream(jsm, {
        name: stream,
        subjects: [`${prefix}.>`],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        duplicate_window: (options.dedupWindowMs ?? DEDUP_WINDOW_MS) * MS,
        max_age: (options.maxAgeMs ?? 0) * MS,
      });
      return new JetStreamDispatcher(
        nc,
        jetstream(nc, { timeout: requestTimeoutMs }),
        jsm,
        stream,
        prefix,
        {
          servers: options.servers,
          ackWaitMs: options.ackWaitMs ?? DEFAULT_ACK_WAIT_MS,
          inactiveConsumerMs: options.inactiveConsumerMs ?? DEFAULT_INACTIVE_CONSUMER_MS,
          requestTimeoutMs,
          onDiscard: options.onDiscard,
        },
      );
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  async publish(message: DispatchMessage): Promise<void> {
    this.assertUsable('publish');
    const problem = topicProblem(message.job.topic);
    if (problem !== null)
      throw new Error(`cannot publish to topic "${message.job.topic}": ${problem}`);
    const subject = `${this.prefix}.${message.job.topic}`;
    try {
      await this.js.publish(subject, JSON.stringify(message), {
        msgID: message.message_id,
        timeout: this.settings.requestTimeoutMs,
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`could not publish ${message.message_id} to ${subject}: ${reason}`, {
        cause: error,
      });
    }
  }

  async receive(request: ReceiveRequest): Promise<readonly Delivery[]> {
    const set = this.globSet(request.topics);
    const max = Math.floor(request.max);
    const deadline = Date.now() + Math.max(0, request.wait_ms);
    const { signal } = request;
    if (this.closed || max <= 0) return [];
    if (set === null) {
      // No globs match nothing, as in the in-process queue: the wait just runs out.
      await this.pause(deadline, signal);
      return [];
    }
    for (;;) {
      if (!(await this.untilConnected(deadline, signal))) return [];
      try {
        return await this.receiveConnected(set, max, deadline, signal);
      } catch (error) {
        // A refusal by the JetStream API itself (stream deleted…) is not transient: report it.
        if (this.connected && !this.isClosed() && !isTransportError(error)) throw error;
        // The connection dropped, or the restarted server is not serving JetStream yet: try
        // again shortly, within the wait, and answer like an empty wait after it.
        if (this.isClosed() || signal?.aborted === true || Date.now() >= deadline) return [];
        await this.pause(Math.min(deadline, Date.now() + RETRY_PAUSE_MS), signal);
      }
    }
  }

  async ping(): Promise<void> {
    this.assertUsable('ping');
    await this.jsm.streams.info(this.stream);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const end of [...this.pullsInFlight]) end();
    for (const linger of this.lingering) clearTimeout(linger);
    this.lingering.clear();
    for (const wake of [...this.pauses]) wake();
    await this.nc.close();
    await this.statusLoop;
  }

  /** A method, not the field, so the compiler does not assume it unchanged across an await. */
  private isClosed(): boolean {
    return this.closed;
  }

  private assertUsable(what: string): void {
    if (this.closed) throw new Error(`cannot ${what}: the dispatcher is closed`);
    if (!this.connected) {
      const servers = [this.settings.servers].flat().join(', ');
      throw new Error(`cannot ${what}: NATS is not connected (${servers}); reconnecting`);
    }
  }

  private globSet(topics: readonly string[]): GlobSet | null {
    for (const topic of topics) {
      const problem = topicGlobProblem(topic);
      if (problem !== null) throw new Error(`${problem}: "${topic}"`);
    }
    if (topics.length === 0) return null;
    return {
      consumer: consumerNameFor(topics),
      filter: filterSubjectFor(this.prefix, topics),
      globs: topics.map((topic) => compileGlob(topic, '.')),
    };
  }

  private async receiveConnected(
    set: GlobSet,
    max: number,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<Delivery[]> {
    let deliveries = await this.take(set, max);
    while (deliveries.length === 0 && !this.isClosed() && signal?.aborted !== true) {
      const waitMs = deadline - Date.now();
      if (waitMs <= 0) break;
      // Wait for one message only, so nothing is held for us after we answer.
      const first = await this.pull(set, 1, waitMs, signal);
      deliveries = this.deliveries(set, first.messages);
      if (deliveries.length > 0 && max > 1) {
        // Having one already, answer with it even if topping up fails; the rest wait.
        deliveries.push(...(await this.take(set, max - 1).catch(() => [])));
      }
    }
    return deliveries;
  }

  /** Takes what is there now, without waiting: up to `max` matching deliveries. */
  private async take(set: GlobSet, max: number): Promise<Delivery[]> {
    const deliveries: Delivery[] = [];
    while (deliveries.length < max && !this.closed) {
      const wanted = max - deliveries.length;
      const pulled = await this.pull(set, wanted, 0);
      deliveries.push(...this.deliveries(set, pulled.messages));
      // Fewer than asked for means the consumer has nothing more right now.
      if (pulled.messages.length < wanted) break;
    }
    return deliveries;
  }

  /**
   * One pull request on its own inbox: resolves on a full batch, the server's end-of-request
   * status, an abort, or a local timeout. A stored message arrives under its own subject, so only
   * the subscription tells which pull it answers.
   */
  private async pull(
    set: GlobSet,
    batch: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<Pulled> {
    await this.ensureConsumer(set);
    const expiresMs = Math.ceil(waitMs);
    const pulled = await new Promise<Pulled>((resolve) => {
      const messages: Msg[] = [];
      let active = true;
      const inbox = createInbox();
      const sub = this.nc.subscribe(inbox, {
        callback: (_error, msg) => {
          if (!active) {
            // Outlived its pull (aborted or closed): hand it straight back for someone else.
            if (isJetStreamMessage(msg)) msg.respond('-NAK');
            return;
          }
          if (isJetStreamMessage(msg)) {
            messages.push(msg);
            if (messages.length >= batch) end(true, true);
            return;
          }
          const code = msg.headers?.code ?? 0;
          if (code === 404 || code === 408) end(true, true);
          // Anything else that ends a pull (409: consumer deleted, too many waiting pulls…)
          // counts as no answer, so the consumer is ensured again.
          else if (code >= 400) end(false, true);
        },
      });
      const end = (answered: boolean, serverDone: boolean): void => {
        if (!active) return;
        active = false;
        this.pullsInFlight.delete(interrupt);
        clearTimeout(timer);
        signal?.removeEventListener('abort', stop);
        resolve({ messages, answered });
        // The server may still hold an interrupted pull: stay subscribed until it expires.
        if (serverDone || expiresMs === 0 || this.isClosed()) {
          sub.unsubscribe();
          return;
        }
        const linger = setTimeout(() => {
          this.lingering.delete(linger);
          sub.unsubscribe();
        }, expiresMs + PULL_GRACE_MS);
        this.lingering.add(linger);
      };
      const stop = (): void => {
        end(true, false);
      };
      const interrupt = (): void => {
        end(false, false);
      };
      const timer = setTimeout(
        () => {
          end(false, true);
        },
        expiresMs > 0 ? expiresMs + PULL_GRACE_MS : this.settings.requestTimeoutMs,
      );
      this.pullsInFlight.add(interrupt);
      signal?.addEventListener('abort', stop, { once: true });
      if (signal?.aborted === true) {
        stop();
        return;
      }
      const body = expiresMs > 0 ? { batch, expires: expiresMs * MS } : { batch, no_wait: true };
      this.nc.publish(
        `$JS.API.CONSUMER.MSG.NEXT.${this.stream}.${set.consumer}`,
        JSON.stringify(body),
        { reply: inbox },
      );
    });
    if (!pulled.answered) this.consumers.delete(set.consumer);
    return pulled;
  }

  private deliveries(set: GlobSet, messages: readonly Msg[]): Delivery[] {
    const deliveries: Delivery[] = [];
    for (const msg of messages) {
      const topic = msg.subject.slice(this.prefix.length + 1);
      if (!set.globs.some((glob) => glob.test(topic))) {
        // Let through by the broader subject filter; other glob sets' consumers still have it.
        msg.respond('+TERM');
        continue;
      }
      const message = decode(msg);
      if (message === null) {
        msg.respond('+TERM');
        this.settings.onDiscard?.(msg.subject, 'not a dispatch message');
        continue;
      }
      deliveries.push(this.delivery(msg, message));
    }
    return deliveries;
  }

  private delivery(msg: Msg, message: DispatchMessage): Delivery {
    let settled = false;
    const settle = (what: string): boolean => {
      if (settled) return false;
      this.assertUsable(what);
      settled = true;
      return true;
    };
    const reply = msg.reply ?? '';
    return {
      message,
      ack: async () => {
        // A request, not a publish: resolving means the server recorded the ack.
        if (settle('ack'))
          await this.nc.request(reply, '+ACK', { timeout: this.settings.requestTimeoutMs });
      },
      release: async (delayMs = 0) => {
        if (!settle('release')) return;
        const delay = Math.max(0, Math.ceil(delayMs));
        this.nc.publish(
          reply,
          delay > 0 ? `-NAK ${JSON.stringify({ delay: delay * MS })}` : '-NAK',
        );
        await this.nc.flush();
      },
    };
  }

  private ensureConsumer(set: GlobSet): Promise<void> {
    const now = Date.now();
    const known = this.consumers.get(set.consumer);
    // Pulled from within half the inactivity threshold: the server cannot have retired it.
    if (known !== undefined && now - known.usedAt < this.settings.inactiveConsumerMs / 2) {
      known.usedAt = now;
      return known.ready;
    }
    const config = {
      durable_name: set.consumer,
      filter_subject: set.filter,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: this.settings.ackWaitMs * MS,
      max_deliver: -1,
      inactive_threshold: this.settings.inactiveConsumerMs * MS,
    };
    const ready = this.jsm.consumers.add(this.stream, config).then(
      () => undefined,
      async (error: unknown) => {
        // Made by a dispatcher with other settings: adopt ours (the filter is the same by name).
        if (!(error instanceof JetStreamApiError)) throw error;
        await this.jsm.consumers.update(this.stream, set.consumer, {
          ack_wait: config.ack_wait,
          inactive_threshold: config.inactive_threshold,
        });
      },
    );
    const entry: ConsumerEntry = { ready, usedAt: now };
    this.consumers.set(set.consumer, entry);
    ready.catch(() => {
      if (this.consumers.get(set.consumer) === entry) this.consumers.delete(set.consumer);
    });
    return ready;
  }

  /** Whether the connection is up, waiting for a reconnect until the deadline if it is not. */
  private async untilConnected(deadline: number, signal?: AbortSignal): Promise<boolean> {
    if (!this.connected) await this.pause(deadline, signal, this.reconnectWaiters);
    return this.connected && !this.isClosed();
  }

  /** Waits until the deadline, an abort, close, or (when given that set) a reconnect. */
  private pause(deadline: number, signal?: AbortSignal, wakeOn?: Set<() => void>): Promise<void> {
    if (this.closed || signal?.aborted === true) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.pauses.delete(wake);
        wakeOn?.delete(wake);
        clearTimeout(timer);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, deadline - Date.now()));
      this.pauses.add(wake);
      wakeOn?.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') this.connected = false;
      if (status.type === 'reconnect') {
        this.connected = true;
        for (const wake of [...this.reconnectWaiters]) wake();
        for (const end of [...this.pullsInFlight]) end();
      }
    }
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Pick<
    StreamConfig,
    'name' | 'subjects' | 'storage' | 'retention' | 'duplicate_window' | 'max_age'
  >,
): Promise<void> {
  let current: StreamConfig;
  try {
    current = (await jsm.streams.info(config.name)).config;
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound))
      throw error;
    await jsm.streams.add(config);
    return;
  }
  if (current.storage !== config.storage || current.retention !== config.retention) {
    throw new Error(
      `stream ${config.name} exists with ${current.storage} storage and ${current.retention} ` +
        `retention; the dispatcher needs file storage and limits retention`,
    );
  }
  const subjectsDiffer = JSON.stringify(current.subjects) !== JSON.stringify(config.subjects);
  if (
    subjectsDiffer ||
    current.duplicate_window !== config.duplicate_window ||
    current.max_age !== config.max_age
  ) {
    await jsm.streams.update(config.name, {
      subjects: config.subjects,
      duplicate_window: config.duplicate_window,
      max_age: config.max_age,
    });
  }
}

function isTransportError(error: unknown): boolean {
  return (
    error instanceof TimeoutError ||
    error instanceof NoRespondersError ||
    error instanceof RequestError ||
    error instanceof ConnectionError ||
    error instanceof ClosedConnectionError
  );
}

/** A message stored in the stream (it carries an ack subject), as opposed to a status. */
function isJetStreamMessage(msg: Msg): boolean {
  return msg.reply?.startsWith('$JS.ACK.') === true;
}

function decode(msg: Msg): DispatchMessage | null {
  try {
    const value = msg.json<unknown>();
    if (typeof value !== 'object' || value === null) return null;
    const candidate = value as Partial<Record<keyof DispatchMessage, unknown>>;
    const job = candidate.job as { topic?: unknown } | null | undefined;
    if (typeof candidate.message_id !== 'string' || typeof job?.topic !== 'string') return null;
    return value as DispatchMessage;
  } catch {
    return null;
  }
}
