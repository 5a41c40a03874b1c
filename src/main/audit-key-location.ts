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
export const AUDIT_WITNESS_FILE = 'audit-checkpoints.jsonl';

export interface AuditKeyLocation {
  /** The Ed25519 private key (PEM, PKCS#8, mode 0600). */
  readonly keyFile: string;
  /** The checkpoint witness (JSON Lines). */
  readonly witnessFile: string;
}

/** The witness that goes with a key file: beside it. */
export function witnessBesideKey(keyFile: string): string {
  return join(dirname(keyFile), AUDIT_WITNESS_FILE);
}

/** `<directory of the SQLite file>/audit-signing.key` and its witness; null for `:memory:`. */
export function defaultAuditKeyLocation(store: StoreLocation): AuditKeyLocation | null {
  if (store.path === ':memory:') return null;
  const keyFile = join(dirname(store.path), AUDIT_KEY_FILE);
  return { keyFile, witnessFile: witnessBesideKey(keyFile) };
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
    files.witnessFile !== undefined
      ? files.witnessFile
      : keyFile === undefined
        ? null
        : witnessBesideKey(keyFile);
  return {
    signer: keyFile === undefined ? ephemeralSigningKey() : loadOrCreateSigningKey(keyFile),
    witness: witnessPath === null ? null : witnessFile(witnessPath),
  };
}
