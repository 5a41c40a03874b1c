/** The platform's SHA-256 (OpenSSL): same digests as the pure-JS one in core, several times faster. */
import { createHash } from 'node:crypto';
import type { Sha256 } from '../../core/audit/chain.js';

export const nativeSha256: Sha256 = (text) => createHash('sha256').update(text).digest('hex');
