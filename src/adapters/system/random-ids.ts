/**
 * Ids from the system's random source. Job ids are ULIDs (48-bit millisecond time, 80 random
 * bits, Crockford base32): they sort by creation, and ids made in the same millisecond by this
 * process still sort in order because the random part is incremented.
 */
import { randomBytes } from 'node:crypto';
import type { Ids } from '../../ports/ids.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function encodeTime(ms: number): string {
  let out = '';
  let value = ms;
  for (let i = 0; i < 10; i++) {
    out = (ALPHABET[value % 32] ?? '0') + out;
    value = Math.floor(value / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits → 16 base32 characters, most significant first.
  let bits = 0n;
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte);
  let out = '';
  for (let i = 0; i < 16; i++) {
    out = (ALPHABET[Number(bits & 31n)] ?? '0') + out;
    bits >>= 5n;
  }
  return out;
}

function increment(bytes: Uint8Array): Uint8Array {
  const next = Uint8Array.from(bytes);
  for (let i = next.length - 1; i >= 0; i--) {
    const value = (next[i] ?? 0) + 1;
    next[i] = value & 0xff;
    if (value <= 0xff) break;
  }
  return next;
}

export function createRandomIds(now: () => number = Date.now): Ids {
  let lastMs = -1;
  let lastRandom: Uint8Array = new Uint8Array(10);
  return {
    jobId() {
      const ms = now();
      lastRandom = ms === lastMs ? increment(lastRandom) : new Uint8Array(randomBytes(10));
      lastMs = ms;
      return encodeTime(ms) + encodeRandom(lastRandom);
    },
    apiKeySecret() {
      return `wdn_${randomBytes(32).toString('base64url')}`;
    },
    traceId() {
      let id = randomBytes(16).toString('hex');
      while (/^0+$/.test(id)) id = randomBytes(16).toString('hex');
      return id;
    },
  };
}
