/**
 * `warden audit verify|public-key|export`: read the audit trail straight from the store, so the
 * chain and its signed checkpoints can be checked and exported even when the gateway is down.
 * Export is in audit-export.ts.
 */
import { existsSync } from 'node:fs';
import { AuditKeyError, loadPublicKey, loadSigningKey } from '../adapters/system/ed25519-key.js';
import { nativeSha256 } from '../adapters/system/native-sha256.js';
import { witnessFile } from '../adapters/system/witness-file.js';
import { AuditService } from '../app/audit.js';
import type { AuditTrustOptions } from '../app/audit.js';
import { defaultAuditKeyLocation } from '../main/audit-key-location.js';
import type { AuditPublicKey } from '../ports/audit-signer.js';
import { openStore } from '../main/store-location.js';
import type { StoreLocation } from '../main/store-location.js';
import type { Principal } from '../core/model/principal.js';
import { CliError, EXIT_FAILED, EXIT_OK } from './io.js';
import type { CliIo } from './io.js';

// Export (to a file, stdout or a SIEM) lives in its own module.
export { auditExportCommand } from './audit-export.js';

/** The local operator: whoever can read the database file can read the whole trail. */
const OPERATOR: Principal = { id: 'cli', tenant: '*', roles: ['auditor'] };

export interface AuditVerifyOptions {
  readonly db: StoreLocation;
  /** The signing key file (its public half checks the checkpoints). */
  readonly key?: string;
  /** A PEM public key file, e.g. from `warden audit public-key`. */
  readonly publicKey?: string;
  /** The checkpoint witness file. */
  readonly checkpoints?: string;
  /** Check the hash chain alone, ignoring checkpoints (said so in the output). */
  readonly skipCheckpoints?: boolean;
}

/** Runs a key loader, turning an unusable key file into a usage error with its message. */
function withKey<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof AuditKeyError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * The public key and witness to verify with: the files given, else the gateway's defaults
 * beside the store (each only if it exists: a trail without checkpoints needs neither).
 */
function verifyTrust(options: AuditVerifyOptions): AuditTrustOptions {
  const defaults = defaultAuditKeyLocation(options.db);
  const keyFile = options.key ?? defaults?.keyFile;
  let publicKey: AuditPublicKey | null = null;
  if (options.publicKey !== undefined) {
    const file = options.publicKey;
    publicKey = withKey(() => loadPublicKey(file));
  } else if (keyFile !== undefined && (options.key !== undefined || existsSync(keyFile))) {
    publicKey = withKey(() => loadSigningKey(keyFile).publicKey);
  }
  if (options.checkpoints !== undefined && !existsSync(options.checkpoints)) {
    throw new CliError(`cannot read checkpoint file ${options.checkpoints}: no such file`);
  }
  const witnessPath = options.checkpoints ?? defaults?.witnessFile;
  return {
    publicKeys: publicKey === null ? [] : [publicKey],
    witness: witnessPath === undefined ? null : witnessFile(witnessPath),
  };
}

export async function auditVerifyCommand(io: CliIo, options: AuditVerifyOptions): Promise<number> {
  const skip = options.skipCheckpoints === true;
  const trust = skip ? {} : verifyTrust(options);
  const store = openStore(options.db);
  try {
    const result = await new AuditService(store, nativeSha256, trust).verify(OPERATOR, {
      skipCheckpoints: skip,
    });
    if (result.ok) {
      io.out(
        skip
          ? `OK: ${result.count} events, checkpoints skipped, chain intact`
          : `OK: ${result.count} events, ${result.checkpoints} signed checkpoints, chain intact`,
      );
      return EXIT_OK;
    }
    if (result.first_bad_seq === null) {
      io.out(
        `UNVERIFIED: ${result.reason}; give --key FILE or --public-key FILE, or --skip-checkpoints to check the hash chain alone`,
      );
      return EXIT_FAILED;
    }
    io.out(
      `BROKEN at seq ${String(result.first_bad_seq)}: ${result.reason} (${result.count} events verified before it)`,
    );
    return EXIT_FAILED;
  } finally {
    await store.close();
  }
}

/** Prints the public half of the signing key (PEM) for auditors; its key id goes to stderr. */
export function auditPublicKeyCommand(
  io: CliIo,
  options: { readonly db: StoreLocation; readonly key?: string },
): number {
  const keyFile = options.key ?? defaultAuditKeyLocation(options.db)?.keyFile;
  if (keyFile === undefined) {
    throw new CliError('an in-memory store keeps no key file: give --key FILE');
  }
  const { publicKey } = withKey(() => loadSigningKey(keyFile));
  io.out(publicKey.pem.trimEnd());
  io.err(`key_id ${publicKey.keyId} (${keyFile})`);
  return EXIT_OK;
}
