/**
 * Where the audit signing key and the checkpoint witness live by default (§10): beside the
 * SQLite file, outside the database itself. One helper, so the gateway that signs and the CLI
 * that verifies agree without being told.
 */
import { dirname, join } from 'node:path';
import { ephemeralSigningKey, loadOrCreateSigningKey } from '../adapters/system/ed25519-key.js';
import { witnessFile } from '../adapters/system/witness-file.js';
import type { AuditSigner } from '../ports/audit-signer.js';
import type { CheckpointWitness } from '../ports/checkpoint-witness.js';
import type { StoreLocation } from './store-location.js';

export const AUDIT_KEY_FILE = 'audit-signing.key';
/** Appended to the database file's name: each database has a witness of its own. */
export const AUDIT_WITNESS_SUFFIX = '.checkpoints.jsonl';

export interface AuditKeyLocation {
  /** The Ed25519 private key (PEM, PKCS#8, mode 0600). */
  readonly keyFile: string;
  /** The checkpoint witness (JSON Lines). */
  readonly witnessFile: string;
}

/**
 * `<directory of the SQLite file>/audit-signing.key`, and `<SQLite file>.checkpoints.jsonl` as
 * the witness; null for `:memory:`. The key may sign several databases in one directory; the
 * witness records one chain, so each database has its own (a shared one would show another
 * chain's checkpoints as this one's truncation).
 */
export function defaultAuditKeyLocation(store: StoreLocation): AuditKeyLocation | null {
  if (store.path === ':memory:') return null;
  return {
    keyFile: join(dirname(store.path), AUDIT_KEY_FILE),
    witnessFile: `${store.path}${AUDIT_WITNESS_SUFFIX}`,
  };
}

export interface AuditTrust {
  readonly signer: AuditSigner;
  /** Null when checkpoints are kept in the database only (an in-memory store). */
  readonly witness: CheckpointWitness | null;
}

/**
 * The gateway's signing key (created on first use) and witness: the given files, else the
 * defaults beside the store; an ephemeral key and no witness for an in-memory store. Throws
 * `AuditKeyError` when the key file cannot be used (e.g. readable by others).
 */
export function openAuditTrust(
  store: StoreLocation,
  files: { readonly keyFile?: string; readonly witnessFile?: string | null } = {},
): AuditTrust {
  const defaults = defaultAuditKeyLocation(store);
  const keyFile = files.keyFile ?? defaults?.keyFile;
  const witnessPath =
    files.witnessFile !== undefined ? files.witnessFile : (defaults?.witnessFile ?? null);
  return {
    signer: keyFile === undefined ? ephemeralSigningKey() : loadOrCreateSigningKey(keyFile),
    witness: witnessPath === null ? null : witnessFile(witnessPath),
  };
}
