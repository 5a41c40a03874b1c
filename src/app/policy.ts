/**
 * The policy lifecycle (§4): one active compiled policy, swapped atomically; every activation is
 * a snapshot in the store with its author, and every change or rejected attempt is audited.
 * A policy that does not load is refused with its problems and the active one keeps serving.
 */
import type { UnsealedEvent } from '../core/audit/chain.js';
import { WardenError } from '../core/errors.js';
import type { PolicyActivation, PolicyOrigin } from '../core/model/policy-activation.js';
import { requireRole } from '../core/model/principal.js';
import type { Principal } from '../core/model/principal.js';
import { compilePolicy, PolicyLoadError } from '../core/policy/index.js';
import type { CompiledPolicy } from '../core/policy/index.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';

export interface PolicyServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
}

/** Where the policy the gateway starts with comes from. */
export interface InitialPolicy {
  readonly source: string;
  /** Shown in problem locations and recorded in the activation message. */
  readonly file: string;
  readonly author: string;
}

/** The outcome of an activation request: unchanged when the policy was already active. */
export interface ActivationResult {
  readonly changed: boolean;
  /** The active policy after the request. */
  readonly policy: PolicyActivation;
}

export interface ActivationPage {
  readonly items: readonly (Omit<PolicyActivation, 'source'> & { readonly active: boolean })[];
  readonly next_cursor: string | null;
}

/** Audit events about the policy belong to no tenant. */
const GLOBAL_TENANT = '*';

interface Active {
  readonly compiled: CompiledPolicy;
  readonly activation: PolicyActivation;
}

export class PolicyService {
  /** Activations run one at a time, so the active pointer follows the store's history order. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly deps: PolicyServiceDeps,
    private active: Active,
  ) {}

  /**
   * Loads the starting policy; throws `PolicyLoadError` if it does not load. A policy already
   * active in the store is kept as is; a different one is recorded as a new activation.
   */
  static async open(deps: PolicyServiceDeps, initial: InitialPolicy): Promise<PolicyService> {
    const compiled = compilePolicy(initial.source, { file: initial.file });
    const stored = await deps.store.activePolicy();
    // The snapshot id follows from the source, so the same text is the same policy.
    if (stored !== null && stored.source === initial.source) {
      return new PolicyService(deps, { compiled, activation: stored });
    }
    const activation = await record(deps, compiled, initial.source, stored, {
      origin: 'start',
      author: initial.author,
      message: `loaded from ${initial.file}`,
    });
    return new PolicyService(deps, { compiled, activation });
  }

  /** The active policy; the hot path reads only this. */
  current(): CompiledPolicy {
    return this.active.compiled;
  }

  /** The active policy's source and snapshot record. */
  view(principal: Principal): PolicyActivation {
    requireRole(principal, 'admin');
    return this.active.activation;
  }

  /** Replaces the policy through the API. */
  replace(principal: Principal, source: string, message: string): Promise<ActivationResult> {
    requireGlobalAdmin(principal);
    return this.activate(source, { origin: 'api', author: principal.id, message }, 'policy.yaml');
  }

  /** Re-activates the source of an earlier snapshot. */
  async rollback(
    principal: Principal,
    snapshot: string,
    message: string,
  ): Promise<ActivationResult> {
    requireGlobalAdmin(principal);
    const target = await this.deps.store.policyBySnapshot(snapshot);
    if (target === null)
      throw new WardenError('WARDEN_NOT_FOUND', `no policy snapshot ${snapshot}`);
    return this.activate(
      target.source,
      { origin: 'rollback', author: principal.id, message: message || `rollback to ${snapshot}` },
      `snapshot ${snapshot}`,
    );
  }

  /** Hot reload from the watched file; the author is the file. */
  reloadFile(source: string, file: string): Promise<ActivationResult> {
    return this.activate(
      source,
      { origin: 'file', author: `file:${file}`, message: `reloaded from ${file}` },
      file,
    );
  }

  /** The activation history, newest first. */
  async history(
    principal: Principal,
    options: { cursor?: string; limit: number },
  ): Promise<ActivationPage> {
    requireRole(principal, 'admin');
    const before = options.cursor === undefined ? undefined : Number(options.cursor);
    if (before !== undefined && !Number.isSafeInteger(before)) {
      throw new WardenError(
        'WARDEN_VALIDATION',
        `cursor ${options.cursor ?? ''} is not a snapshot cursor`,
      );
    }
    const rows = await this.deps.store.listPolicyActivations({
      ...(before === undefined ? {} : { before_seq: before }),
      limit: options.limit,
    });
    const items = rows.map((row) => ({
      seq: row.seq,
      snapshot: row.snapshot,
      origin: row.origin,
      author: row.author,
      message: row.message,
      activated_at: row.activated_at,
      active: row.seq === this.active.activation.seq,
    }));
    const last = rows.at(-1);
    return {
      items,
      next_cursor: rows.length === options.limit && last !== undefined ? String(last.seq) : null,
    };
  }

  private activate(
    source: string,
    meta: { origin: PolicyOrigin; author: string; message: string },
    file: string,
  ): Promise<ActivationResult> {
    const run = async (): Promise<ActivationResult> => {
      // The snapshot id follows from the source, so the same text is the same policy.
      if (source === this.active.activation.source) {
        return { changed: false, policy: this.active.activation };
      }
      let compiled: CompiledPolicy;
      try {
        compiled = compilePolicy(source, { file });
      } catch (error) {
        if (!(error instanceof PolicyLoadError)) throw error;
        await this.deps.store.appendAudit([
          policyEvent(this.deps.clock.now(), meta.author, 'policy.rejected', {
            origin: meta.origin,
            message: meta.message,
            problems: error.problems,
          }),
        ]);
        throw new WardenError('WARDEN_POLICY_INVALID', error.message, {
          problems: error.problems.map((p) => ({ ...p, file })),
        });
      }
      const activation = await record(this.deps, compiled, source, this.active.activation, meta);
      this.active = { compiled, activation };
      return { changed: true, policy: activation };
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

async function record(
  deps: PolicyServiceDeps,
  compiled: CompiledPolicy,
  source: string,
  previous: PolicyActivation | null,
  meta: { origin: PolicyOrigin; author: string; message: string },
): Promise<PolicyActivation> {
  const now = deps.clock.now();
  return deps.store.activatePolicy(
    { snapshot: compiled.snapshot, source, ...meta, activated_at: now },
    [
      policyEvent(now, meta.author, 'policy.activated', {
        snapshot: compiled.snapshot,
        previous: previous?.snapshot ?? null,
        origin: meta.origin,
        message: meta.message,
        rules: compiled.spec.rules.length,
      }),
    ],
  );
}

function policyEvent(at: string, actor: string, type: string, data: unknown): UnsealedEvent {
  return { at, type, tenant_id: GLOBAL_TENANT, trace_id: 'policy', job_id: null, actor, data };
}

/** The policy governs every tenant, so only a key for all tenants may change it. */
function requireGlobalAdmin(principal: Principal): void {
  requireRole(principal, 'admin');
  if (principal.tenant !== '*') {
    throw new WardenError(
      'WARDEN_FORBIDDEN',
      'changing the policy needs an admin key for all tenants (tenant *)',
    );
  }
}
