/**
 * Ids from the system's random source. Job ids are ULIDs (48-bit millisecond time, 80 random
 * bits, Crockford base32): they sort by creation, and ids made in the same millisecond by this
 * process still sort in order because the random part is incremented.
 *
 * Trace ids the gateway makes (when a request brings no `traceparent`) follow the same idea in
 * W3C form: 32 hex digits, the first 12 the millisecond time and the other 20 random (80 bits,
 * more than the 56 random bits W3C Trace Context asks for). Ids made close in time land next to
 * each other in the store's trace index, so a commit rewrites one index page for all its jobs
 * rather than one page each (about a quarter of the bytes each job wrote to the WAL).
 *
 * Random bytes are drawn from the kernel a few kilobytes at a time: one call per id costs more
 * than the id itself on the decision path.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import type { Ids } from '../../ports/ids.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const POOL_SIZE = 4096;

function encodeTime(ms: number): string {
  let out = '';
  let value = ms;
  for (let i = 0; i < 10; i++) {
    out = (ALPHABET[value % 32] ?? '0') + out;
    value = Math.floor(value / 32);
  }
  return out;
}

/** 80 bits → 16 base32 characters, most significant first. */
function encodeRandom(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >>> bits) & 31] ?? '0';
    }
    // Keep only the bits not yet written, so the accumulator stays small.
    buffer &= (1 << bits) - 1;
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

/** Hands out fresh random bytes from a pool refilled from the kernel when it runs out. */
function randomPool(): (length: number) => Uint8Array {
  const pool = new Uint8Array(POOL_SIZE);
  let offset = POOL_SIZE;
  return (length) => {
    if (offset + length > POOL_SIZE) {
      randomFillSync(pool);
      offset = 0;
    }
    const bytes = pool.slice(offset, offset + length);
    offset += length;
    return bytes;
  };
}

export function createRandomIds(now: () => number = Date.now): Ids {
  const random = randomPool();
  let lastMs = -1;
  let lastRandom: Uint8Array = new Uint8Array(10);
  return {
    jobId() {
      const ms = now();
      lastRandom = ms === lastMs ? increment(lastRandom) : random(10);
      lastMs = ms;
      return encodeTime(ms) + encodeRandom(lastRandom);
    },
    apiKeySecret() {
      // Secrets come straight from the kernel, never from a pool that lives in memory.
      return `wdn_${randomBytes(32).toString('base64url')}`;
    },
    leaseId() {
      return `lease_${randomBytes(16).toString('base64url')}`;
    },
    traceId() {
      // The time part is never zero, so neither is the id (W3C forbids the all-zero trace id).
      return (
        now().toString(16).padStart(12, '0').slice(-12) + Buffer.from(random(10)).toString('hex')
      );
    },
  };
}
