/**
 * The audit signing key port (§10): signs checkpoints of the audit chain, and checks them with
 * the public half. The private key lives outside the database (a file beside it, by default),
 * so someone who can rewrite the database cannot sign a rewritten chain.
 *
 * Adapters hold the key material; nothing here reads files or knows the algorithm beyond what
 * the `key_id` and the base64 signature of a checkpoint carry.
 */
import type { CheckpointKey } from '../core/audit/signed-chain.js';

/** The public half: what an auditor needs to check checkpoints without the private key. */
export interface AuditPublicKey extends CheckpointKey {
  /** A short hex digest of the public key (SPKI DER): the `key_id` its checkpoints carry. */
  readonly keyId: string;
  /** The public key as PEM (SPKI), for handing to auditors. */
  readonly pem: string;
}

export interface AuditSigner {
  readonly keyId: string;
  /** The base64 signature over `payload` (the checkpoint's canonical JSON). */
  sign(payload: string): string;
  readonly publicKey: AuditPublicKey;
}
