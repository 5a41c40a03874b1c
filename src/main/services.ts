/**
 * Wires the app's services over a store, a clock, ids and metrics. Shared by the gateway and by
 * tests, so both run exactly the same object graph.
 */
import { AgentService } from '../app/agents.js';
import { ApprovalService } from '../app/approvals.js';
import { AuditService } from '../app/audit.js';
import { Decider } from '../app/decider.js';
import { JobChanges } from '../app/job-changes.js';
import { JobService } from '../app/jobs.js';
import { KeyService } from '../app/keys.js';
import { PolicyService } from '../app/policy.js';
import type { InitialPolicy } from '../app/policy.js';
import type { Sha256 } from '../core/audit/chain.js';
import { ThrottleLog } from '../core/throttle/windows.js';
import type { Clock } from '../ports/clock.js';
import type { Ids } from '../ports/ids.js';
import type { Metrics } from '../ports/metrics.js';
import type { Store } from '../ports/store.js';

export interface ServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly ids: Ids;
  readonly sha256: Sha256;
  readonly metrics: Metrics;
  readonly policy: InitialPolicy;
}

export interface Services {
  readonly jobs: JobService;
  readonly approvals: ApprovalService;
  readonly audit: AuditService;
  readonly keys: KeyService;
  readonly policy: PolicyService;
  readonly agents: AgentService;
  /** Ended at shutdown so long-polls answer at once. */
  readonly changes: JobChanges;
}

export async function createServices(deps: ServiceDeps): Promise<Services> {
  const { store, clock, ids, sha256, metrics } = deps;
  const policy = await PolicyService.open({ store, clock }, deps.policy);
  const current = (): ReturnType<PolicyService['current']> => policy.current();
  const changes = new JobChanges();
  const decider = new Decider({ store, policy: current, throttles: new ThrottleLog(), metrics });
  const jobs = new JobService({ store, clock, ids, decider, changes, sha256 });
  return {
    jobs,
    approvals: new ApprovalService({ store, clock, jobs, policy: current }),
    audit: new AuditService(store, sha256),
    keys: new KeyService({ store, clock, ids, sha256 }),
    policy,
    agents: new AgentService({ store, clock }),
    changes,
  };
}
