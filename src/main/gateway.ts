/**
 * The composition root: the one place that chooses adapters and wires them into the app and the
 * HTTP server. Nothing else constructs adapters.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { createPrometheusMetrics } from '../adapters/metrics/prometheus.js';
import { systemClock } from '../adapters/system/system-clock.js';
import { devAuthenticator } from '../app/dev-authenticator.js';
import type { CreatedKey } from '../app/keys.js';
import { SYSTEM_PRINCIPAL } from '../app/keys.js';
import { startApprovalSweeper } from './approval-sweeper.js';
import { watchPolicyFile } from './policy-watch.js';
import { assembleGateway } from './services.js';
import { openStore } from './store-location.js';
import type { StoreLocation } from './store-location.js';

export interface GatewayConfig {
  readonly policyFile: string;
  readonly store: StoreLocation;
  readonly dev: boolean;
  readonly synchronous?: 'NORMAL' | 'FULL';
  /** Reload the policy when its file changes (default true). */
  readonly watchPolicy?: boolean;
  /** Told about each hot reload of the policy file, accepted or refused. */
  readonly onPolicyReload?: (message: string) => void;
  readonly logger?: boolean | Record<string, unknown>;
  /** How often overdue approvals are expired and the queue gauges refreshed (default 1 s). */
  readonly approvalSweepMs?: number;
}

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
  const store = openStore(config.store, {
    ...(config.synchronous === undefined ? {} : { synchronous: config.synchronous }),
    onWriteFailure: () => {
      metrics.auditAppendFailed();
    },
  });
  let assembled;
  try {
    assembled = await assembleGateway({
      store,
      clock: systemClock,
      metrics,
      policy: { source, file: config.policyFile, author: SYSTEM_PRINCIPAL.id },
      ...(config.dev ? { authenticator: devAuthenticator } : {}),
      logger: config.logger ?? false,
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  const { services, server } = assembled;
  const bootstrapKey = config.dev ? null : await services.keys.bootstrap();
  const watcher =
    config.watchPolicy === false
      ? null
      : watchPolicyFile(config.policyFile, services.policy, (message) => {
          server.log.info(message);
          config.onPolicyReload?.(message);
        });
  const sweeper = startApprovalSweeper(
    services.approvals,
    config.approvalSweepMs ?? 1000,
    (error) => {
      server.log.error({ err: error }, 'approval sweep failed; retrying on the next tick');
    },
  );
  return {
    server,
    bootstrapKey,
    async close() {
      await sweeper.stop();
      watcher?.close();
      services.changes.close();
      await server.close();
      await store.close();
    },
  };
}
