/**
 * The audit signing key (§10) over node:crypto: an Ed25519 key in a PEM (PKCS#8) file kept
 * outside the database, created on first use. The file must be private to its owner: a key
 * others can read could sign a forged chain, so such a file is refused rather than used.
 *
 * Creation is race-free: the key is written in full to a fresh temporary file (O_EXCL, 0600)
 * and then hard-linked to its name, which fails if the name exists. Two gateways starting at
 * once thus never overwrite each other's key, and neither ever reads a half-written file; the
 * loser simply loads the winner's key.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { AuditPublicKey, AuditSigner } from '../../ports/audit-signer.js';

/** A key file that cannot be used: missing, unreadable, not an Ed25519 key, or not private. */
export class AuditKeyError extends Error {
  constructor(
    message: string,
    /** True when there is no file at all (the one case `loadOrCreateSigningKey` creates it). */
    readonly missing = false,
  ) {
    super(message);
    this.name = 'AuditKeyError';
  }
}

/** Hex characters of the SHA-256 of the public key (SPKI DER) that name the key. */
const KEY_ID_LENGTH = 16;

function publicKeyOf(key: KeyObject): AuditPublicKey {
  const der = key.export({ type: 'spki', format: 'der' });
  const keyId = createHash('sha256').update(der).digest('hex').slice(0, KEY_ID_LENGTH);
  const pem = key.export({ type: 'spki', format: 'pem' }).toString();
  return {
    keyId,
    pem,
    verify(payload, signature) {
      try {
        return verify(null, Buffer.from(payload), key, Buffer.from(signature, 'base64'));
      } catch {
        // A malformed signature is simply not a valid one.
        return false;
      }
    },
  };
}

function signerOf(privateKey: KeyObject): AuditSigner {
  const publicKey = publicKeyOf(createPublicKey(privateKey));
  return {
    keyId: publicKey.keyId,
    publicKey,
    sign: (payload) => sign(null, Buffer.from(payload), privateKey).toString('base64'),
  };
}

function requireEd25519(key: KeyObject, path: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new AuditKeyError(
      `${path} holds a ${String(key.asymmetricKeyType)} key; audit checkpoints need an Ed25519 key`,
    );
  }
  return key;
}

function readKeyFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AuditKeyError(`no ${what} at ${path}`, true);
    throw new AuditKeyError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

/**
 * Loads the signing key at `path`. Refused when the file can be read by its group or others
 * (the message says how to fix it), or when it is not an Ed25519 private key.
 */
export function loadSigningKey(path: string): AuditSigner {
  const pem = readKeyFile(path, 'audit signing key');
  if (process.platform !== 'win32') {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new AuditKeyError(
        `audit signing key ${path} is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}); anyone who can read it can sign a forged audit trail: run chmod 600 ${path}`,
      );
    }
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new AuditKeyError(
      `audit signing key ${path} is not a PEM private key: ${(error as Error).message}`,
    );
  }
  return signerOf(requireEd25519(key, path));
}

/**
 * The signing key at `path`, generated on first use: the directory is created (0700) when
 * missing and the key written 0600. A key another process created meanwhile is loaded, never
 * replaced.
 */
export function loadOrCreateSigningKey(path: string): AuditSigner {
  try {
    return loadSigningKey(path);
  } catch (error) {
    if (!(error instanceof AuditKeyError && error.missing)) throw error;
  }
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pem = generateKeyPairSync('ed25519')
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeFileSync(fd, pem);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
  } catch (error) {
    // Another start created the key first: use theirs.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temp);
  }
  syncDirectory(dir);
  return loadSigningKey(path);
}

/** Makes the new name durable; not every platform can open a directory, which is fine. */
function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Best effort: the key is already flushed; only its name might not survive a power cut.
  } finally {
    closeSync(fd);
  }
}

/** A key that lives as long as the process: for in-memory stores and tests. */
export function ephemeralSigningKey(): AuditSigner {
  return signerOf(generateKeyPairSync('ed25519').privateKey);
}

/**
 * The public key to check checkpoints with, from a PEM file holding either the public key (what
 * `warden audit public-key` prints) or the private key itself.
 */
export function loadPublicKey(path: string): AuditPublicKey {
  const pem = readKeyFile(path, 'public key');
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new AuditKeyError(`${path} is not a PEM public key: ${(error as Error).message}`);
  }
  return publicKeyOf(requireEd25519(key, path));
}
