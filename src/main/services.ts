/**
 * Wires the app's services and the HTTP server over a store, a clock and metrics. Shared by the
 * gateway and by tests, so both run exactly the same object graph.
 */
import { AgentService } from '../app/agents.js';
import type { AppServices } from '../app/app-services.js';
import { ApprovalService } from '../app/approvals.js';
import { AuditService } from '../app/audit.js';
import { AuditCheckpointer } from '../app/audit-checkpoints.js';
import type { CheckpointSettings } from '../app/audit-checkpoints.js';
import { GovernanceChecklist } from '../app/checklist.js';
import { Decider } from '../app/decider.js';
import { FailOpenLedger } from '../app/fail-open.js';
import type { FailOpen } from '../app/fail-open.js';
import type { ApprovalRecord } from '../core/approvals/approval.js';
import { vmDeadlineRunner } from '../adapters/system/vm-deadline.js';
import { DEFAULT_FAIL_MODES } from './config.js';
import type { FailModes } from './config.js';
import { JobChanges } from '../app/job-changes.js';
import { DEFAULT_MAX_PENDING_APPROVALS, JobService } from '../app/jobs.js';
import { KeyService } from '../app/keys.js';
import { Notifications } from '../app/notifications.js';
import type { NotificationSettings } from '../app/notifications.js';
import { PolicyService } from '../app/policy.js';
import type { InitialPolicy } from '../app/policy.js';
import type { Sha256 } from '../core/audit/chain.js';
import { ThrottleLog } from '../core/throttle/windows.js';
import type { FastifyInstance } from 'fastify';
import type { PrometheusMetrics } from '../adapters/metrics/prometheus.js';
import { createRandomIds } from '../adapters/system/random-ids.js';
import { nativeSha256 } from '../adapters/system/native-sha256.js';
import { ephemeralSigningKey } from '../adapters/system/ed25519-key.js';
import type { AuditSigner } from '../ports/audit-signer.js';
import type { CheckpointWitness } from '../ports/checkpoint-witness.js';
import { buildServer } from '../http/server.js';
import type { RequestLimits } from '../http/limits.js';
import type { RateLimits } from '../http/rate-limit.js';
import type { Authenticator } from '../ports/authenticator.js';
import type { Clock } from '../ports/clock.js';
import type { Ids } from '../ports/ids.js';
import type { Metrics } from '../ports/metrics.js';
import type { Store } from '../ports/store.js';
import type { Dispatcher } from '../ports/dispatcher.js';
import { InProcessDispatcher } from '../adapters/queue/in-process-dispatcher.js';
import { DeadLetterService } from '../app/dead-letters.js';
import { OutboxRelay } from '../app/outbox-relay.js';
import { WorkService } from '../app/work.js';

export interface ServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly sha256: Sha256;
  readonly metrics: Metrics;
  readonly policy: InitialPolicy;
  /** Where approval notices go; none are sent when absent. */
  readonly notifications?: NotificationSettings;
  /** Pending approvals a tenant may hold (§5); the job service's default when absent. */
  readonly maxPendingApprovals?: number;
  /** Where allowed bus jobs go; an in-process queue when absent. */
  readonly dispatcher?: Dispatcher;
  /** Each component's fail mode (§11); all closed when absent. */
  readonly failModes?: FailModes;
  /** How long a decision's evaluation may take (default 50 ms). */
  readonly evaluationDeadlineMs?: number;
  /** Signs audit checkpoints; a key that lives as long as the process when absent. */
  readonly auditSigner?: AuditSigner;
  /** Where checkpoints are also kept outside the database; none when absent. */
  readonly checkpointWitness?: CheckpointWitness | null;
  /** Checkpoint cadence and retention; the defaults (1000 events / 60 s, 400 days) when absent. */
  readonly auditCheckpoints?: CheckpointSettings;
}

export const DEFAULT_EVALUATION_DEADLINE_MS = 50;

/** Listeners told, after the commit, that a bus job became QUEUED (the relay's wake-up). */
export class QueuedSignal {
  private readonly listeners: (() => void)[] = [];

  listen(listener: () => void): void {
    this.listeners.push(listener);
  }

  readonly fire = (): void => {
    for (const listener of this.listeners) listener();
  };
}

export interface Services extends AppServices {
  readonly dispatcher: Dispatcher;
  /** Publishes the outbox; run by the background loops (main/background.ts). */
  readonly relay: OutboxRelay;
  readonly queued: QueuedSignal;
  /** Ended at shutdown so long-polls answer at once. */
  readonly changes: JobChanges;
  /** Closed at shutdown (before the store: a resolved notice reads its job); null if none. */
  readonly notifications: Notifications | null;
  /** Fail-opens counted and waiting to be audited; flushed by the background loops. */
  readonly failOpens: FailOpenLedger;
  readonly failModes: FailModes;
  /** Signs checkpoints and prunes by retention; `run` is a background task. */
  readonly auditCheckpoints: AuditCheckpointer;
}

export async function createServices(deps: ServiceDeps): Promise<Services> {
  const { store, clock, ids, sha256, metrics } = deps;
  const policy = await PolicyService.open({ store, clock }, deps.policy);
  const current = (): ReturnType<PolicyService['current']> => policy.current();
  const changes = new JobChanges();
  const queued = new QueuedSignal();
  const dispatcher = deps.dispatcher ?? new InProcessDispatcher();
  const agents = new AgentService({ store, clock });
  const auditSigner = deps.auditSigner ?? ephemeralSigningKey();
  const witness = deps.checkpointWitness ?? null;
  const failModes = deps.failModes ?? DEFAULT_FAIL_MODES;
  const { modes } = failModes;
  const failOpens = new FailOpenLedger({ store, clock, metrics });
  const recordFailOpen = (failOpen: FailOpen): void => {
    failOpens.record(failOpen);
  };
  const decider = new Decider({
    profiles: agents,
    policy: current,
    throttles: new ThrottleLog(),
    metrics,
    deadline: {
      ms: deps.evaluationDeadlineMs ?? DEFAULT_EVALUATION_DEADLINE_MS,
      runner: vmDeadlineRunner(),
      failMode: modes.evaluation,
      failedOpen: recordFailOpen,
    },
  });
  // An approval no notifier could announce: closed withdraws it, open leaves it in the queue.
  let unannounced = (approval: ApprovalRecord, reason: string): void => {
    recordFailOpen({
      component: 'notifier',
      reason: `no approver could be notified of job ${approval.job_id}: ${reason}`,
      tenant_id: approval.tenant_id,
      job_id: approval.job_id,
    });
  };
  const notifications =
    deps.notifications === undefined
      ? null
      : new Notifications({
          ...deps.notifications,
          store,
          metrics,
          onUnannounced: (approval, reason) => {
            unannounced(approval, reason);
          },
        });
  const jobs = new JobService({
    store,
    clock,
    ids,
    decider,
    changes,
    sha256,
    metrics,
    queued: queued.fire,
    ...(modes.store === 'open' ? { storeFailedOpen: recordFailOpen } : {}),
    ...(notifications === null ? {} : { approvals: notifications }),
    ...(deps.maxPendingApprovals === undefined
      ? {}
      : { maxPendingApprovals: deps.maxPendingApprovals }),
  });
  const approvals = new ApprovalService({
    store,
    clock,
    decider,
    changes,
    sha256,
    metrics,
    queued: queued.fire,
    ...(notifications === null ? {} : { observer: notifications }),
  });
  if (modes.notifier === 'closed') {
    unannounced = (approval, reason) => {
      void approvals.unannounced(approval.job_id, reason).catch(() => undefined);
    };
  }
  const audit = new AuditService(store, sha256, { publicKeys: [auditSigner.publicKey], witness });
  return {
    jobs,
    approvals,
    failOpens,
    failModes,
    checklist: new GovernanceChecklist({
      store,
      clock,
      audit,
      failModes,
      failOpens,
      maxPendingApprovals: deps.maxPendingApprovals ?? DEFAULT_MAX_PENDING_APPROVALS,
    }),
    audit,
    keys: new KeyService({ store, clock, ids, sha256 }),
    policy,
    agents,
    work: new WorkService({
      store,
      clock,
      ids,
      dispatcher,
      jobs,
      profiles: agents,
      policy: current,
      metrics,
    }),
    deadLetters: new DeadLetterService({ store, clock, jobs }),
    dispatcher,
    relay: new OutboxRelay({ store, dispatcher, jobs, clock, metrics }),
    queued,
    changes,
    notifications,
    auditCheckpoints: new AuditCheckpointer({
      store,
      clock,
      signer: auditSigner,
      witness,
      ...(deps.auditCheckpoints === undefined ? {} : { settings: deps.auditCheckpoints }),
    }),
  };
}

/** What the gateway is assembled from: the services' dependencies but ids and hashing, and the server's. */
export interface GatewayParts extends Omit<ServiceDeps, 'ids' | 'sha256' | 'metrics'> {
  readonly metrics: PrometheusMetrics;
  /** Who makes each request; the API keys when absent. */
  readonly authenticator?: Authenticator;
  readonly bodyLimit?: number;
  readonly logger?: boolean | Record<string, unknown>;
  readonly requestLimits?: Partial<RequestLimits>;
  /** The per-key rate limit: the default when absent, off when null. */
  readonly rateLimits?: RateLimits | null;
  /** The rate limiter's monotonic clock in ms; `performance.now` when absent. */
  readonly now?: () => number;
}

export interface AssembledGateway {
  readonly services: Services;
  readonly server: FastifyInstance;
}

/** The services and the HTTP server over them, with random ids and the native SHA-256. */
export async function assembleGateway(parts: GatewayParts): Promise<AssembledGateway> {
  const { store, metrics } = parts;
  const services = await createServices({ ...parts, ids: createRandomIds(), sha256: nativeSha256 });
  const server = await buildServer({
    ...services,
    authenticator: parts.authenticator ?? services.keys,
    ready: () => store.ping(),
    metrics,
    ...(parts.bodyLimit === undefined ? {} : { bodyLimit: parts.bodyLimit }),
    ...(parts.requestLimits === undefined ? {} : { requestLimits: parts.requestLimits }),
    ...(parts.rateLimits === undefined ? {} : { rateLimits: parts.rateLimits }),
    ...(parts.now === undefined ? {} : { now: parts.now }),
    ...(parts.logger === undefined ? {} : { logger: parts.logger }),
  });
  return { services, server };
}
