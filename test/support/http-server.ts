/**
 * A gateway HTTP server over an in-memory SQLite store, for inject() tests.
 */
import { readFileSync } from 'node:fs';
import { after } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createPrometheusMetrics } from '../../src/adapters/metrics/prometheus.js';
import type { PrometheusMetrics } from '../../src/adapters/metrics/prometheus.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { systemClock } from '../../src/adapters/system/system-clock.js';
import { devAuthenticator } from '../../src/app/dev-authenticator.js';
import type { NotificationSettings } from '../../src/app/notifications.js';
import type { Principal } from '../../src/core/model/principal.js';
import { compilePolicy } from '../../src/core/policy/index.js';
import type { Authenticator } from '../../src/ports/authenticator.js';
import type { Clock } from '../../src/ports/clock.js';
import type { Dispatcher } from '../../src/ports/dispatcher.js';
import type { RequestLimits } from '../../src/http/limits.js';
import type { RateLimits } from '../../src/http/rate-limit.js';
import { startBackground } from '../../src/main/background.js';
import { assembleGateway } from '../../src/main/services.js';
import type { Services } from '../../src/main/services.js';

export const SEED_POLICY_FILE = 'examples/policies/seed.yaml';
export const seedSource = readFileSync(SEED_POLICY_FILE, 'utf8');
export const seedPolicy = compilePolicy(seedSource);

/** Fixed bearer tokens for role and tenant tests (`Bearer <id>`). */
const PRINCIPALS: readonly Principal[] = [
  { id: 'agent-acme', tenant: 'acme', roles: ['agent'] },
  { id: 'agent2-acme', tenant: 'acme', roles: ['agent'] },
  { id: 'approver-acme', tenant: 'acme', roles: ['approver'] },
  { id: 'approver2-acme', tenant: 'acme', roles: ['approver'] },
  { id: 'auditor-acme', tenant: 'acme', roles: ['auditor'] },
  { id: 'worker-acme', tenant: 'acme', roles: ['worker'] },
  { id: 'approver-globex', tenant: 'globex', roles: ['approver'] },
  { id: 'agent-globex', tenant: 'globex', roles: ['agent'] },
  { id: 'admin-acme', tenant: 'acme', roles: ['admin'] },
  { id: 'admin-all', tenant: '*', roles: ['admin'] },
  { id: 'auditor-all', tenant: '*', roles: ['auditor'] },
];
export const tokenAuthenticator: Authenticator = {
  authenticate: (header) =>
    Promise.resolve(PRINCIPALS.find((p) => header === `Bearer ${p.id}`) ?? null),
};
export const as = (id: string): { authorization: string } => ({ authorization: `Bearer ${id}` });

const opened: { close(): Promise<void> }[] = [];
after(async () => {
  for (const resource of opened) await resource.close();
});

export interface TestServerOptions {
  readonly authenticator?: Authenticator;
  /** Policy YAML; the seed policy by default. */
  readonly policySource?: string;
  readonly clock?: Clock;
  readonly bodyLimit?: number;
  /** A database file, for tests that reach into it; in-memory by default. */
  readonly dbPath?: string;
  /** Busy timeout of the store, for tests that lock the database. */
  readonly busyTimeoutMs?: number;
  /** Approval notifications; none by default. */
  readonly notifications?: NotificationSettings;
  /** Run the relay and the sweeps on timers of this many ms (off by default: tests drive them). */
  readonly backgroundMs?: number;
  /** The dispatcher; an in-process queue by default. */
  readonly dispatcher?: Dispatcher;
  /** Pending approvals a tenant may hold; the gateway's default when absent. */
  readonly maxPendingApprovals?: number;
  /** Request limits over the defaults (`buildServer`'s `requestLimits`). */
  readonly requestLimits?: Partial<RequestLimits>;
  /** The per-key rate limit: the default when absent, none when null. */
  readonly rateLimits?: RateLimits | null;
  /** The rate limiter's monotonic clock in ms. */
  readonly now?: () => number;
}

export interface TestGateway {
  readonly app: FastifyInstance;
  readonly services: Services;
  readonly store: SqliteStore;
  readonly metrics: PrometheusMetrics;
}

/** The full gateway (services and HTTP) over a fresh store, closed after the test file. */
export async function testGateway(options: TestServerOptions = {}): Promise<TestGateway> {
  const metrics = createPrometheusMetrics({ defaultMetrics: false });
  const store = new SqliteStore({
    path: options.dbPath ?? ':memory:',
    ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
    onWriteFailure: () => {
      metrics.auditAppendFailed();
    },
  });
  opened.push(store);
  const { services, server: app } = await assembleGateway({
    store,
    clock: options.clock ?? systemClock,
    metrics,
    policy: { source: options.policySource ?? seedSource, file: 'policy.yaml', author: 'system' },
    authenticator: options.authenticator ?? devAuthenticator,
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
    ...(options.notifications === undefined ? {} : { notifications: options.notifications }),
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    ...(options.maxPendingApprovals === undefined
      ? {}
      : { maxPendingApprovals: options.maxPendingApprovals }),
    ...(options.requestLimits === undefined ? {} : { requestLimits: options.requestLimits }),
    ...(options.rateLimits === undefined ? {} : { rateLimits: options.rateLimits }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const ms = options.backgroundMs;
  const background =
    ms === undefined
      ? null
      : startBackground(services, {
          approvalSweepMs: ms,
          workSweepMs: ms,
          relayMs: ms,
          onError: () => undefined,
        });
  opened.unshift({
    close: async () => {
      await background?.stop();
      services.changes.close();
      await services.dispatcher.close();
      await app.close();
      await services.notifications?.close();
    },
  });
  return { app, services, store, metrics };
}

export async function testServer(options: TestServerOptions = {}): Promise<FastifyInstance> {
  return (await testGateway(options)).app;
}
