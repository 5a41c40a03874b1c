/**
 * Policy snapshots (§4): every activation of a policy is recorded with its content hash, the
 * source text that produced it, who activated it, how and why. Rollback re-activates a recorded
 * source, so the history itself is append-only.
 */

/** How a policy became active. */
export const POLICY_ORIGINS = ['start', 'file', 'api', 'rollback'] as const;
export type PolicyOrigin = (typeof POLICY_ORIGINS)[number];

export interface PolicyActivation {
  /** Position in the activation history; the highest is the active policy. */
  readonly seq: number;
  /** The snapshot id: SHA-256 of the canonical compiled policy. */
  readonly snapshot: string;
  /** The YAML text that was activated. */
  readonly source: string;
  readonly origin: PolicyOrigin;
  /** The principal id that activated it (`file:<path>` for a file reload). */
  readonly author: string;
  readonly message: string;
  readonly activated_at: string;
}

export type NewPolicyActivation = Omit<PolicyActivation, 'seq'>;
