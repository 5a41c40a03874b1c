/**
 * The composition root: the one place that chooses adapters and wires them into the app and the
 * HTTP server. Nothing else constructs adapters.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { createPrometheusMetrics } from '../adapters/metrics/prometheus.js';
import type { PrometheusMetrics } from '../adapters/metrics/prometheus.js';
import { httpAuditSink } from '../adapters/siem/http-sink.js';
import { AuditForwarder, DEFAULT_FORWARD_INTERVAL_MS } from '../app/audit-forwarder.js';
import type { Store } from '../ports/store.js';
import { openAuditTrust } from './audit-key-location.js';
import { emailNotifier } from '../adapters/notify/email.js';
import { webhookNotifier } from '../adapters/notify/webhook.js';
import { systemClock } from '../adapters/system/system-clock.js';
import { devAuthenticator } from '../app/dev-authenticator.js';
import type { CreatedKey } from '../app/keys.js';
import { SYSTEM_PRINCIPAL } from '../app/keys.js';
import type { NotificationSettings } from '../app/notifications.js';
import type { Notifier } from '../ports/notifier.js';
import { startBackground } from './background.js';
import { openDispatcher } from './bus-location.js';
import type { BusLocation } from './bus-location.js';
import { DEFAULT_SERVER_CONFIG } from './config.js';
import type { ServerConfig } from './config.js';
import { watchPolicyFile } from './policy-watch.js';
import { assembleGateway } from './services.js';
import { openStore } from './store-location.js';
import type { StoreLocation } from './store-location.js';

export interface GatewayConfig {
  readonly policyFile: string;
  readonly store: StoreLocation;
  readonly dev: boolean;
  readonly synchronous?: 'NORMAL' | 'FULL';
  /** Where allowed bus jobs go: the in-process queue (default) or NATS JetStream. */
  readonly bus?: BusLocation;
  /** Reload the policy when its file changes (default true). */
  readonly watchPolicy?: boolean;
  /** Told about each hot reload of the policy file, accepted or refused. */
  readonly onPolicyReload?: (message: string) => void;
  readonly logger?: boolean | Record<string, unknown>;
  /**
   * How often overdue approvals are expired and the queue gauges refreshed: this, else the
   * server config's `approvals.sweep_interval_ms`, else 1 s.
   */
  readonly approvalSweepMs?: number;
  /** The server config file's settings (`--config`); defaults and no notifiers when absent. */
  readonly serverConfig?: ServerConfig;
  /** Told about each notification given up on or refused (every failed attempt is counted). */
  readonly onNotificationFailure?: (message: string) => void;
}

/** The notifiers the config asks for: each webhook, then email. */
export function configuredNotifiers(config: ServerConfig): Notifier[] {
  const { webhooks, email } = config.notifications;
  return [
    ...webhooks.map((hook) => webhookNotifier(hook)),
    ...(email === null ? [] : [emailNotifier(email)]),
  ];
}

/** The SIEM forwarder the config asks for, reporting to the gateway's metrics. */
function siemForwarder(
  forward: NonNullable<ServerConfig['audit']['forward']>,
  store: Store,
  metrics: PrometheusMetrics,
): AuditForwarder {
  return new AuditForwarder({
    store,
    clock: systemClock,
    sink: httpAuditSink({
      url: forward.url,
      ...(forward.headers === undefined ? {} : { headers: forward.headers }),
      ...(forward.timeoutMs === undefined ? {} : { timeoutMs: forward.timeoutMs }),
    }),
    ...(forward.cursor === undefined ? {} : { cursor: forward.cursor }),
    ...(forward.batchSize === undefined ? {} : { batchSize: forward.batchSize }),
    ...(forward.intervalMs === undefined ? {} : { intervalMs: forward.intervalMs }),
    monitor: {
      delivered: (events) => {
        metrics.auditForwarded('delivered', events);
      },
      failed: () => {
        metrics.auditForwardFailed();
      },
      lag: (events) => {
        metrics.auditForwardLag(events);
      },
      gap: (from, to) => {
        metrics.auditForwarded('gap', to - from + 1);
      },
    },
  });
}

/** How long requests in flight at shutdown may take to finish before their connections close. */
const SHUTDOWN_GRACE_MS = 2000;

export interface Gateway {
  readonly server: FastifyInstance;
  /** The first admin key, created on the first start outside dev mode; shown once. */
  readonly bootstrapKey: CreatedKey | null;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig): Promise<Gateway> {
  // Reading the policy first means a missing file stops the start before anything is opened.
  const source = readFileSync(config.policyFile, 'utf8');
  const metrics = createPrometheusMetrics();
  const settings = config.serverConfig ?? DEFAULT_SERVER_CONFIG;
  const auditSettings = settings.audit;
  // The signing key before the store: a key that cannot be used stops the start first.
  const trust = openAuditTrust(config.store, {
    ...(auditSettings.signingKeyFile === undefined
      ? {}
      : { keyFile: auditSettings.signingKeyFile }),
    ...(auditSettings.checkpointLogFile === undefined
      ? {}
      : { witnessFile: auditSettings.checkpointLogFile }),
  });
  const { modes } = settings.failModes;
  // The ledger exists once the services do; the store drops no events before that.
  let auditDropped: (events: number, reason: string) => void = () => undefined;
  const store = openStore(config.store, {
    ...(config.synchronous === undefined ? {} : { synchronous: config.synchronous }),
    onWriteFailure: () => {
      metrics.auditAppendFailed();
    },
    auditFailMode: modes.audit,
    onAuditDropped: ({ events, reason }) => {
      metrics.auditAppendFailed();
      auditDropped(events, reason);
    },
  });
  const notifiers = configuredNotifiers(settings);
  // The server's logger exists only once it is assembled; failures before that cannot happen.
  let logFailure: (message: string) => void = () => undefined;
  const notifications: NotificationSettings = {
    notifiers,
    publicUrl: settings.notifications.publicUrl,
    retry: settings.notifications.retry,
    onFailure: (message) => {
      logFailure(message);
    },
  };
  const maxPending = settings.approvals.maxPendingPerTenant;
  let assembled;
  let dispatcher;
  try {
    dispatcher = await openDispatcher(config.bus ?? { kind: 'memory' });
  } catch (error) {
    await store.close();
    throw error;
  }
  try {
    assembled = await assembleGateway({
      dispatcher,
      store,
      clock: systemClock,
      metrics,
      policy: { source, file: config.policyFile, author: SYSTEM_PRINCIPAL.id },
      ...(config.dev ? { authenticator: devAuthenticator } : {}),
      logger: config.logger ?? false,
      ...(notifiers.length === 0 ? {} : { notifications }),
      ...(maxPending === undefined ? {} : { maxPendingApprovals: maxPending }),
      failModes: settings.failModes,
      requestLimits: settings.limits,
      ...(settings.rateLimit === undefined ? {} : { rateLimits: settings.rateLimit }),
      auditSigner: trust.signer,
      checkpointWitness: trust.witness,
      auditCheckpoints: {
        ...(auditSettings.checkpointEveryEvents === undefined
          ? {}
          : { everyEvents: auditSettings.checkpointEveryEvents }),
        ...(auditSettings.checkpointEveryMs === undefined
          ? {}
          : { everyMs: auditSettings.checkpointEveryMs }),
        ...(auditSettings.retentionDays === undefined
          ? {}
          : { retentionDays: auditSettings.retentionDays }),
      },
      ...(settings.evaluationDeadlineMs === undefined
        ? {}
        : { evaluationDeadlineMs: settings.evaluationDeadlineMs }),
    });
  } catch (error) {
    await dispatcher.close();
    await store.close();
    throw error;
  }
  const { services, server } = assembled;
  auditDropped = (events, reason) => {
    services.failOpens.record({
      component: 'audit',
      reason: `${String(events)} audit event(s) could not be appended: ${reason}`,
    });
  };
  logFailure = (message) => {
    server.log.warn(message);
    config.onNotificationFailure?.(message);
  };
  const bootstrapKey = config.dev ? null : await services.keys.bootstrap();
  const watcher =
    config.watchPolicy === false
      ? null
      : watchPolicyFile(config.policyFile, services.policy, (message) => {
          server.log.info(message);
          config.onPolicyReload?.(message);
        });
  const approvalSweepMs = config.approvalSweepMs ?? settings.approvals.sweepIntervalMs;
  const forward = auditSettings.forward;
  const background = startBackground(services, {
    ...(approvalSweepMs === undefined ? {} : { approvalSweepMs }),
    ...(forward === undefined
      ? {}
      : {
          forwarder: {
            task: siemForwarder(forward, store, metrics),
            everyMs: forward.intervalMs ?? DEFAULT_FORWARD_INTERVAL_MS,
          },
        }),
    onError: (task, error) => {
      server.log.error({ err: error }, `${task} failed; retrying on the next tick`);
    },
  });
  return {
    server,
    bootstrapKey,
    async close() {
      await background.stop();
      // A clean stop signs the head, so no tail of the trail is left without a checkpoint.
      await services.auditCheckpoints.checkpointHead().catch((error: unknown) => {
        server.log.error({ err: error }, 'the closing audit checkpoint failed');
      });
      watcher?.close();
      services.changes.close();
      // Before the server: long-polling lease requests answer at once instead of holding it open.
      await services.dispatcher.close();
      // Fastify closes idle keep-alive connections once, when close starts; a connection whose
      // request was still in flight then stays open for its keep-alive timeout (72 s) after it
      // answers. Requests get a grace period to finish, then every connection is closed.
      const drained = setTimeout(() => {
        server.server.closeAllConnections();
      }, SHUTDOWN_GRACE_MS);
      await server.close();
      clearTimeout(drained);
      // After the server (resolutions while draining are still sent), before the store.
      await services.notifications?.close();
      await store.close();
    },
  };
}
