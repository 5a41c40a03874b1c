/**
 * Signed audit checkpoints (§10): an Ed25519 signature over `{seq, hash, at}` of one event of
 * the chain, made with a key kept outside the database. The hash chain alone shows an edited,
 * reordered or deleted row in the middle; a signed checkpoint also pins how far the chain
 * reached, so deleting its tail, or the whole trail, is detected too, and pruning can cut the
 * chain at a checkpoint that the remainder then verifies from.
 *
 * Signing and checking signatures are arguments, so this stays free of key handling.
 */
import { canonicalJson } from '../hash/jcs.js';

/** What a checkpoint vouches for: the event at `seq` had `hash` when it was signed at `at`. */
export interface CheckpointClaim {
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
}

export interface AuditCheckpoint extends CheckpointClaim {
  /** Names the signing key (a digest of its public key), so a rotated key is recognised. */
  readonly key_id: string;
  /** Base64 Ed25519 signature over `checkpointPayload(claim)`. */
  readonly signature: string;
}

/** The exact bytes signed: the canonical JSON of `{seq, hash, at}`. */
export function checkpointPayload(claim: CheckpointClaim): string {
  return canonicalJson({ seq: claim.seq, hash: claim.hash, at: claim.at });
}
