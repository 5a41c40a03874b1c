/**
 * The composition root: the one place that chooses adapters and wires them into the app and the
 * HTTP server. Nothing else constructs adapters.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { createRandomIds } from '../adapters/system/random-ids.js';
import { nativeSha256 } from '../adapters/system/native-sha256.js';
import { systemClock } from '../adapters/system/system-clock.js';
import { ApprovalService } from '../app/approvals.js';
import { AuditService } from '../app/audit.js';
import { devAuthenticator } from '../app/dev-authenticator.js';
import { JobService } from '../app/jobs.js';
import { KeyService } from '../app/keys.js';
import type { CreatedKey } from '../app/keys.js';
import { compilePolicy } from '../core/policy/index.js';
import { buildServer } from '../http/server.js';
import { openStore } from './store-location.js';
import type { StoreLocation } from './store-location.js';

export interface GatewayConfig {
  readonly policyFile: string;
  readonly store: StoreLocation;
  readonly dev: boolean;
  readonly synchronous?: 'NORMAL' | 'FULL';
  readonly logger?: boolean | Record<string, unknown>;
}

export interface Gateway {
  readonly server: FastifyInstance;
  /** The first admin key, created on the first start outside dev mode; shown once. */
  readonly bootstrapKey: CreatedKey | null;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig): Promise<Gateway> {
  // Loading the policy first means a broken policy stops the start before anything is opened.
  const policy = compilePolicy(readFileSync(config.policyFile, 'utf8'), {
    file: config.policyFile,
  });
  const store = openStore(
    config.store,
    config.synchronous === undefined ? {} : { synchronous: config.synchronous },
  );
  const ids = createRandomIds();
  const jobs = new JobService({ store, clock: systemClock, ids, policy: () => policy });
  const keys = new KeyService({ store, clock: systemClock, ids, sha256: nativeSha256 });
  const bootstrapKey = config.dev ? null : await keys.bootstrap();
  const approvals = new ApprovalService({ store, clock: systemClock, jobs, policy: () => policy });
  const server = await buildServer({
    jobs,
    approvals,
    audit: new AuditService(store, nativeSha256),
    keys,
    authenticator: config.dev ? devAuthenticator : keys,
    logger: config.logger ?? false,
  });
  return {
    server,
    bootstrapKey,
    async close() {
      await server.close();
      await store.close();
    },
  };
}
