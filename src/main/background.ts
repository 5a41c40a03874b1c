/**
 * The gateway's background work, on timers: the outbox relay (also woken at once whenever a bus
 * job becomes QUEUED), the work sweep (deadlines, expired leases) and the approval sweep.
 */
import type { AuditForwarder } from '../app/audit-forwarder.js';
import type { Services } from './services.js';
import { startSweeper } from './sweeper.js';

export interface BackgroundSettings {
  /** Approval expiry and queue gauges (default 1 s). */
  readonly approvalSweepMs?: number;
  /** Deadlines and expired leases (default 1 s). */
  readonly workSweepMs?: number;
  /** Outbox retries, e.g. while the bus is down (default 1 s). */
  readonly relayMs?: number;
  /** Appending fail-opens the audit trail refused at the time (default 1 s). */
  readonly failOpenAuditMs?: number;
  /** How often the audit head is checked for a checkpoint to sign, and retention (default 1 s). */
  readonly auditCheckpointMs?: number;
  /** The SIEM forwarder and how often it looks for new events; none when absent. */
  readonly forwarder?: { readonly task: AuditForwarder; readonly everyMs: number };
  readonly onError: (task: string, error: unknown) => void;
}

export interface Background {
  stop(): Promise<void>;
}

export function startBackground(services: Services, settings: BackgroundSettings): Background {
  const failed = (task: string) => (error: unknown) => {
    settings.onError(task, error);
  };
  // Jobs published before a restart but never leased go out again first (once; a failure, e.g.
  // the bus being down, retries on the next tick).
  let republished = false;
  const relay = startSweeper(
    async (signal) => {
      if (!republished) {
        await services.relay.republishUnleased();
        republished = true;
      }
      await services.relay.publishPending(signal);
    },
    settings.relayMs ?? 1000,
    failed('outbox relay'),
  );
  services.queued.listen(() => {
    relay.kick();
  });
  // Whatever the outbox held when the gateway stopped goes out now, not a tick later.
  relay.kick();
  const loops = [
    relay,
    startSweeper(() => services.work.sweep(), settings.workSweepMs ?? 1000, failed('work sweep')),
    startSweeper(
      () => services.approvals.sweep(),
      settings.approvalSweepMs ?? 1000,
      failed('approval sweep'),
    ),
    startSweeper(
      (signal) => services.auditCheckpoints.run(signal),
      settings.auditCheckpointMs ?? 1000,
      failed('audit checkpoints'),
    ),
    // Fail-opens whose audit event could not be written then (the trail was what failed).
    startSweeper(
      () => services.failOpens.flush(),
      settings.failOpenAuditMs ?? 1000,
      failed('fail-open audit'),
    ),
  ];
  const forwarder = settings.forwarder;
  if (forwarder !== undefined) {
    // A receiver that is down is retried on the forwarder's own backoff; ticks in between return.
    loops.push(
      startSweeper(
        (signal) => forwarder.task.forwardOnce(signal),
        forwarder.everyMs,
        failed('audit forwarder'),
      ),
    );
  }
  return {
    async stop() {
      await Promise.all(loops.map((loop) => loop.stop()));
    },
  };
}
